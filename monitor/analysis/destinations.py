"""Who receives a flow: the registrable domain of its host, whether that is the app's own (first party)
or someone else's (third party), and which SDK vendor a domain belongs to.

The registrable domain comes from tldextract's *bundled* public suffix list: analysis never downloads
anything, so a run re-analysed offline years later gets the same answer from the same package version.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import tldextract

from monitor.data.matching_models import MatchingRules
from monitor.data.models import SdkTable

Party = Literal["first", "third", "unknown"]


@dataclass(frozen=True)
class Destination:
    host: str
    registrable_domain: str
    party: Party
    sdk_id: str | None
    vendor: str | None


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # No suffix-list URLs and no cache dir: the snapshot shipped inside tldextract is the only source.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def registrable_domain(host: str) -> str:
    """`alog.umeng.com` → `umeng.com`, `a.b.example.com.cn` → `example.com.cn`; an IP address or a
    name with no public suffix (`localhost`) is its own registrable domain."""
    host = _normal_host(host)
    if not host or _is_ip(host):
        return host
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return host


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _sdk_for(host: str, registrable: str, sdks: SdkTable) -> tuple[str | None, str | None]:
    best: tuple[int, str, str] | None = None
    for sdk in sdks.sdks:
        for domain in sdk.domains:
            domain = _normal_host(domain)
            if _under(host, domain) or _under(registrable, domain):
                # The most specific table entry wins: api.map.baidu.com over baidu.com.
                if best is None or len(domain) > best[0]:
                    best = (len(domain), sdk.id, sdk.vendor)
    return (best[1], best[2]) if best else (None, None)


def _company_label(app_package: str, generic: frozenset[str]) -> str | None:
    labels = [label.lower() for label in app_package.split(".")]
    if len(labels) < 2:
        return None
    label = labels[1]
    return None if label in generic or len(label) < 3 else label


def classify_host(host: str, *, first_party_domains: Iterable[str] = (), app_package: str | None = None,
                  sdks: SdkTable | None = None, rules: MatchingRules | None = None) -> Destination:
    """Classify one host.

    first party: the host is, or is under, a listed first-party domain, or shares its registrable
      domain; failing that, the registrable domain's own label contains the company label of the app's
      package (com.example.shop → example.com.cn) — a heuristic, so a listed domain always wins;
    third party: any other named host when first-party knowledge was given, or a host of an SDK domain;
    unknown: no first-party knowledge and no SDK domain, or an IP address nobody listed.
    """
    from monitor.analysis.matching import load_matching_rules
    from monitor.data import load_sdks

    sdks = sdks if sdks is not None else load_sdks()
    rules = rules or load_matching_rules()
    name = _normal_host(host)
    registrable = registrable_domain(name)
    sdk_id, vendor = _sdk_for(name, registrable, sdks)

    first_party = [_normal_host(d) for d in first_party_domains if d and d.strip()]
    first_registrables = {registrable_domain(d) for d in first_party}
    party: Party
    if any(_under(name, d) for d in first_party) or (not _is_ip(name) and registrable in first_registrables):
        party = "first"
    else:
        label = _company_label(app_package, rules.generic_labels()) if app_package else None
        own_label = registrable.split(".", 1)[0] if not _is_ip(name) else ""
        if label and sdk_id is None and label in own_label:
            party = "first"
        elif sdk_id is not None:
            party = "third"
        elif (first_party or label) and not _is_ip(name):
            party = "third"
        else:
            party = "unknown"
    return Destination(host=name, registrable_domain=registrable, party=party, sdk_id=sdk_id, vendor=vendor)
