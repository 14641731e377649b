"""An app's network security config, read for what matters to the capture: may it send cleartext, does it
trust a CA the user installed, where does it pin — and so which certificate store the proxy's CA must go in.

Android's rules (https://developer.android.com/privacy-and-security/security-config):
- without a config, cleartext is permitted when targetSdkVersion ≤ 27, or as android:usesCleartextTraffic
  says; user-added CAs are trusted when targetSdkVersion ≤ 23;
- with a config (Android 7.0+ ignores usesCleartextTraffic then), <base-config> sets both for every domain
  no <domain-config> names, with the same target-level defaults for what it leaves out; a domain-config
  inherits what it leaves out from its enclosing domain-config, then from base-config;
- <debug-overrides> trust anchors apply only when the app is android:debuggable;
- a <pin-set> refuses a chain whose keys it does not pin unless the CA's <certificates> has overridePins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.scan.model import NetworkSecurity

DOC = "https://developer.android.com/privacy-and-security/security-config"


@dataclass(frozen=True)
class _Trust:
    system: bool
    user: bool
    user_overrides_pins: bool


def _boolean(value: str | None) -> bool | None:
    if value is None:
        return None
    return str(value).strip().lower() in ("true", "1", "-1")


def _trust(element: Any) -> _Trust | None:
    anchors = element.find("trust-anchors") if element is not None else None
    if anchors is None:
        return None
    sources = [(str(cert.get("src", "")).lower(), _boolean(cert.get("overridePins")) or False)
               for cert in anchors.findall("certificates")]
    return _Trust(system=any(src == "system" for src, _ in sources),
                  user=any(src == "user" for src, _ in sources),
                  user_overrides_pins=any(src == "user" and override for src, override in sources))


def _domains(element: Any) -> list[str]:
    names = []
    for domain in element.findall("domain"):
        text = (domain.text or "").strip()
        if text:
            names.append(("*." if _boolean(domain.get("includeSubdomains")) else "") + text)
    return names


def evaluate(config: Any | None, *, config_file: str | None, target_sdk: int | None, uses_cleartext: bool | None,
             debuggable: bool) -> NetworkSecurity:
    """The capture-relevant meaning of a parsed <network-security-config> (lxml element, or None)."""
    target = target_sdk if target_sdk is not None else 1
    default_cleartext = target <= 27
    default_trust = _Trust(system=True, user=target <= 23, user_overrides_pins=False)
    notes: list[str] = []
    if config is None:
        cleartext = default_cleartext if uses_cleartext is None else uses_cleartext
        trust = default_trust
        domain_rows: list[tuple[list[str], bool, _Trust, bool]] = []
        debug_trust = None
    else:
        if uses_cleartext is not None:
            notes.append("android:usesCleartextTraffic is ignored on Android 7.0+ because the app has a network security config")
        base = config.find("base-config")
        base_clear = _boolean(base.get("cleartextTrafficPermitted")) if base is not None else None
        cleartext = default_cleartext if base_clear is None else base_clear
        trust = _trust(base) or default_trust
        domain_rows = []

        def walk(element: Any, inherited_clear: bool, inherited_trust: _Trust) -> None:
            for domain_config in element.findall("domain-config"):
                own_clear = _boolean(domain_config.get("cleartextTrafficPermitted"))
                clear = inherited_clear if own_clear is None else own_clear
                own_trust = _trust(domain_config) or inherited_trust
                pinned = domain_config.find("pin-set") is not None and domain_config.find("pin-set").find("pin") is not None
                domain_rows.append((_domains(domain_config), clear, own_trust, pinned))
                walk(domain_config, clear, own_trust)

        walk(config, cleartext, trust)
        debug_trust = _trust(config.find("debug-overrides"))
        if debug_trust is not None and not debuggable:
            notes.append("<debug-overrides> is present but the app is not debuggable: Android ignores it")
    cleartext_domains = sorted({d for names, clear, _, _ in domain_rows if clear for d in names})
    blocked_domains = sorted({d for names, clear, _, _ in domain_rows if not clear for d in names})
    user_domains = sorted({d for names, _, domain_trust, _ in domain_rows if domain_trust.user for d in names})
    system_only = sorted({d for names, _, domain_trust, _ in domain_rows if not domain_trust.user for d in names})
    pinned = sorted({d for names, _, domain_trust, pin in domain_rows if pin and not domain_trust.user_overrides_pins
                     for d in names})
    debug_user = bool(debuggable and debug_trust is not None and debug_trust.user)
    if trust.user:
        user_cas = "all"
    elif debug_user:
        user_cas = "debug-only"
    elif user_domains:
        user_cas = "some-domains"
    else:
        user_cas = "none"
    if user_cas == "all":
        user_domains = []
        if system_only:
            notes.append(f"{', '.join(system_only)}: its domain-config trusts only system CAs — that traffic is decrypted "
                         "only with the proxy's CA in the system store")
    if user_cas in ("all", "debug-only"):
        route, reason = "user", ("the app trusts CAs the user installed" + (" (debug-overrides, debuggable build)" if user_cas == "debug-only" else "")
                                 + ": the proxy's CA in the user store is enough, no root needed")
    else:
        where = "targets API ≥ 24 with no config that trusts user CAs" if config is None else "its config trusts only system CAs"
        if user_cas == "some-domains":
            where += f" except for {', '.join(user_domains)}"
        route, reason = "system", (f"the app {where}: the proxy's CA must be in the system store (root, or the "
                                   "Conscrypt APEX store on Android 14+) for its HTTPS to be decrypted")
    if pinned:
        notes.append(f"pinned in the config: {', '.join(pinned)} — the proxy's CA is refused there from either store; "
                     "run with --unpin-tls to see that traffic")
    return NetworkSecurity(config_file=config_file, cleartext_permitted=cleartext, cleartext_domains=cleartext_domains,
                           cleartext_blocked_domains=blocked_domains, user_cas=user_cas, user_ca_domains=user_domains,
                           debuggable=debuggable, pinned_domains=pinned, ca_route=route, ca_route_reason=reason, notes=notes)
