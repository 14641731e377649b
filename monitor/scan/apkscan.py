"""`scan_apk`: what an APK declares and contains, read without running it (androguard reads the file).

Package, version, signer and SDK levels come from monitor.device.apk (the same reader `run --apk` uses);
then the manifest's permissions (dangerous ones flagged), receivers that self-start the app, SDKs of the SDK
table found in the dex by package prefix (longest prefix wins, on whole segments, as at run time), native
libraries per ABI, packers, and the network security config.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from monitor.data import load_data, load_sdks
from monitor.data.models import DangerousPermissionTable, PackerTable, SdkTable, SelfStartTable
from monitor.device.apk import ANDROID_NS, ApkError, OpenedApk, apk_info, describe, open_apk
from monitor.errors import MonitorError
from monitor.scan import netsec
from monitor.scan.model import (ApkScan, DexSummary, PackageCount, PackerHit, PermissionEntry, SdkPresence,
                                SelfStartReceiver, SelfStartTrigger)

UNATTRIBUTED_SHOWN = 15


def scan_apk(source: Path | bytes, *, sdks: SdkTable | None = None, packers: PackerTable | None = None,
             permissions: DangerousPermissionTable | None = None, self_start: SelfStartTable | None = None) -> ApkScan:
    """Scan one APK. ApkError (exit 2, with a fix) for a missing file, a non-zip, a split set or a config split."""
    opened = open_apk(source)
    sdks = sdks or load_sdks()
    packers = packers or load_data("packers")
    permissions = permissions or load_data("dangerous_permissions")
    self_start = self_start or load_data("self_start")
    try:
        return _scan(opened, sdks, packers, permissions, self_start)
    except MonitorError:
        raise
    except Exception as exc:   # androguard parsing a hostile or damaged file: any error type; one line, not a traceback
        raise ApkError(f"{opened.name} could not be scanned: androguard failed on it ({describe(exc)})",
                       hint="the APK is damaged or deliberately malformed; a device run still works without the scan") from exc


def scan_for_run(source: Path) -> dict[str, object]:
    """The scan as run.json keeps it; a file the scan refuses is recorded as such instead of ending the run."""
    try:
        return scan_apk(source).as_run_info()
    except MonitorError as error:
        return {"error": error.message, "hint": error.hint}


def _scan(opened: OpenedApk, sdks: SdkTable, packers: PackerTable, permissions: DangerousPermissionTable,
          self_start: SelfStartTable) -> ApkScan:
    warnings: list[str] = []
    info = apk_info(opened, warnings)

    classes, dex_files, dex_warnings = _dex_classes(opened)
    warnings += dex_warnings
    files = opened.apk.get_files()
    found_packers = _packers(packers, set(classes), files)
    # A packer's stub is the packer's, even where its vendor's SDK shares the package (NetEase's Yidun
    # wrapper lives under com.netease.nis, the prefix of Yidun's anti-fraud SDK).
    stub_classes = {name for packer in packers.packers if packer.id in {hit.id for hit in found_packers}
                    for name in classes if name in packer.classes or any(name.startswith(p + ".") for p in packer.packages)}
    owner = _prefix_owner(sdks)
    sdk_counts: dict[str, Counter[str]] = {}
    app_classes = 0
    unattributed: Counter[str] = Counter()
    own = info.package + "." if info.package else None
    for name in classes:
        if name in stub_classes:
            continue
        prefix = _longest_prefix(name, owner)
        if prefix is not None:
            sdk_counts.setdefault(owner[prefix], Counter())[prefix] += 1
        elif own and name.startswith(own):
            app_classes += 1
        else:
            package = name.rsplit(".", 1)[0] if "." in name else ""
            unattributed[".".join(package.split(".")[:3]) or "(default package)"] += 1
    components = _sdk_components(opened.manifest(), info.package, owner)
    by_id = {sdk.id: sdk for sdk in sdks.sdks}
    present = [SdkPresence(id=sdk_id, name=by_id[sdk_id].name.en, name_zh=by_id[sdk_id].name.zh, vendor=by_id[sdk_id].vendor,
                           kind=by_id[sdk_id].kind, group=by_id[sdk_id].group,
                           classes=sum(sdk_counts.get(sdk_id, Counter()).values()),
                           packages=[prefix for prefix, _ in sdk_counts.get(sdk_id, Counter()).most_common()],
                           components=components.get(sdk_id, []))
               for sdk_id in sorted(set(sdk_counts) | set(components))]
    present.sort(key=lambda entry: (-entry.classes, -len(entry.components), entry.id))

    native, other_native = _native_libraries(files)
    if found_packers:
        names = ", ".join(hit.name_zh or hit.name for hit in found_packers)
        warnings.append(f"packed by {names}: the dex holds the packer's stub, the app's own code is decrypted at run time — "
                        "SDKs listed here are only those left visible; the run shows the rest")
    manifest = opened.manifest()
    application = manifest.find("application")
    if application is not None and (_as_bool(_attr(application, "isSplitRequired")) or _attr(manifest, "requiredSplitTypes")):
        warnings.append("the app needs its split APKs (a store delivers it as a set): code, libraries or resources in "
                        "the splits are not in this scan")
    return ApkScan(
        file=opened.name, sha256=info.sha256, size=len(opened.data), package=info.package,
        version_code=info.version_code, version_name=info.version_name, min_sdk=info.min_sdk, target_sdk=info.target_sdk,
        signature_scheme=info.signature_scheme, signer_sha256=list(info.signer_sha256),
        permissions=_permissions(manifest, permissions),
        self_start=_self_start(manifest, info.package, info.target_sdk, self_start, owner),
        sdks=present,
        dex=DexSummary(files=dex_files, classes=len(classes), app_classes=app_classes, packer_classes=len(stub_classes),
                       sdk_classes=sum(entry.classes for entry in present),
                       unattributed=[PackageCount(package=package, classes=count)
                                     for package, count in unattributed.most_common(UNATTRIBUTED_SHOWN)]),
        native_libraries=native, other_native=other_native, packers=found_packers,
        network_security=_network_security(opened, application, info.target_sdk, warnings),
        warnings=warnings,
    )


# ---- dex -------------------------------------------------------------------------------------------

def _dex_classes(opened: OpenedApk) -> tuple[list[str], list[str], list[str]]:
    """Class names (dotted) of every classes*.dex at the APK's root, the dex files, and warnings."""
    from androguard.core.dex import DEX

    names: list[str] = []
    warnings: list[str] = []
    dex_files = sorted((name for name in opened.apk.get_files() if re.fullmatch(r"classes\d*\.dex", name)),
                       key=lambda name: (len(name), name))
    for dex_name in dex_files:
        try:
            dex = DEX(opened.apk.get_file(dex_name))
            descriptors = dex.get_classes_names()
        except Exception as exc:   # a packer's decoy or a truncated dex: androguard raises struct/Value/Index errors
            warnings.append(f"{dex_name} could not be read as dex ({describe(exc)}); its classes are not counted")
            continue
        for descriptor in descriptors:
            text = str(descriptor)
            if text.startswith("L") and text.endswith(";"):
                names.append(text[1:-1].replace("/", "."))
    return names, dex_files, warnings


def _prefix_owner(sdks: SdkTable) -> dict[str, str]:
    return {prefix: sdk.id for sdk in sdks.sdks for prefix in sdk.prefixes}


def _longest_prefix(class_name: str, owner: dict[str, str]) -> str | None:
    """The longest table prefix that is the class's package or an enclosing one (whole segments only)."""
    candidate = class_name
    while candidate:
        if candidate in owner:
            return candidate
        cut = candidate.rfind(".")
        if cut < 0:
            return None
        candidate = candidate[:cut]
    return None


# ---- manifest ----------------------------------------------------------------------------------------

def _attr(element: Any, name: str) -> Any:
    return element.get(ANDROID_NS + name)


def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    return str(value).strip().lower() in ("true", "1", "-1")


def _permissions(manifest: Any, table: DangerousPermissionTable) -> list[PermissionEntry]:
    entries: dict[str, PermissionEntry] = {}
    for element in manifest.iter("uses-permission", "uses-permission-sdk-23"):
        name = _attr(element, "name")
        if not name or name in entries:
            continue
        known = table.lookup(str(name))
        max_sdk = _attr(element, "maxSdkVersion")
        entries[str(name)] = PermissionEntry(name=str(name), dangerous=known is not None,
                                             group=known.group if known else None,
                                             dangerous_since=known.since if known else None,
                                             max_sdk=int(max_sdk) if max_sdk is not None and str(max_sdk).isdigit() else None)
    return list(entries.values())


COMPONENT_TAGS = ("activity", "activity-alias", "service", "receiver", "provider")


def _sdk_components(manifest: Any, package: str, owner: dict[str, str]) -> dict[str, list[str]]:
    """SDK id → its manifest components, as "service com.x.PushService", in manifest order."""
    found: dict[str, list[str]] = {}
    application = manifest.find("application")
    if application is None:
        return found
    for element in application:
        tag = element.tag if isinstance(element.tag, str) else ""
        name = _attr(element, "name")
        if tag not in COMPONENT_TAGS or not name:
            continue
        full = _full_class_name(str(name), package)
        prefix = _longest_prefix(full, owner)
        if prefix is not None:
            found.setdefault(owner[prefix], []).append(f"{tag} {full}")
    return found


def _full_class_name(name: str, package: str) -> str:
    if name.startswith("."):
        return package + name
    return name if "." in name else f"{package}.{name}"


def _self_start(manifest: Any, package: str, target_sdk: int | None, table: SelfStartTable,
                owner: dict[str, str]) -> list[SelfStartReceiver]:
    receivers = []
    application = manifest.find("application")
    if application is None:
        return []
    requested = {str(_attr(element, "name")) for element in manifest.iter("uses-permission", "uses-permission-sdk-23")}
    for receiver in application.findall("receiver"):
        name = _attr(receiver, "name")
        if not name:
            continue
        triggers: dict[str, SelfStartTrigger] = {}
        for action in receiver.iter("action"):
            action_name = str(_attr(action, "name") or "")
            entry = table.lookup(action_name)
            if entry is None or action_name in triggers:
                continue
            missing = entry.permission if entry.permission and entry.permission not in requested else None
            delivered = (entry.manifest_until is None or (target_sdk or 1) <= entry.manifest_until) and missing is None
            triggers[action_name] = SelfStartTrigger(action=action_name, what=entry.what, delivered=delivered,
                                                     missing_permission=missing, source=entry.source)
        if not triggers:
            continue
        full = _full_class_name(str(name), package)
        prefix = _longest_prefix(full, owner)
        enabled = _as_bool(_attr(receiver, "enabled"))
        receivers.append(SelfStartReceiver(receiver=full, sdk=owner[prefix] if prefix else None,
                                           exported=_as_bool(_attr(receiver, "exported")),
                                           enabled=True if enabled is None else enabled, triggers=list(triggers.values())))
    return receivers


# ---- files -------------------------------------------------------------------------------------------

def _native_libraries(files: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    per_abi: dict[str, list[str]] = {}
    other = []
    for name in files:
        if not name.endswith(".so"):
            continue
        parts = PurePosixPath(name).parts
        if len(parts) == 3 and parts[0] == "lib":
            per_abi.setdefault(parts[1], []).append(parts[2])
        else:
            other.append(name)
    return {abi: sorted(names) for abi, names in sorted(per_abi.items())}, sorted(other)


def _packers(table: PackerTable, classes: set[str], files: list[str]) -> list[PackerHit]:
    hits = []
    packages = {name.rsplit(".", 1)[0] for name in classes if "." in name}
    for packer in table.packers:
        evidence = [f"class {name}" for name in packer.classes if name in classes]
        for package in packer.packages:
            inside = sorted(name for name in classes if name.startswith(package + "."))
            if inside or package in packages:
                evidence.append(f"classes under {package} ({len(inside)}: {', '.join(inside[:3])}{'…' if len(inside) > 3 else ''})")
        patterns = [re.compile(pattern) for pattern in packer.library_patterns]
        for name in files:
            base = PurePosixPath(name).name
            if base in packer.libraries or any(pattern.search(base) for pattern in patterns):
                evidence.append(f"library {name}")
        for wanted in packer.files:
            matched = [name for name in files if name == wanted or (wanted.endswith("/") and name.startswith(wanted))]
            if matched:
                evidence.append(f"file {matched[0]}" + (f" (+{len(matched) - 1} more)" if len(matched) > 1 else ""))
        if evidence:
            hits.append(PackerHit(id=packer.id, name=packer.name.en, name_zh=packer.name.zh, vendor=packer.vendor,
                                  evidence=evidence, source=packer.source))
    return hits


# ---- network security config ----------------------------------------------------------------------------

def _network_security(opened: OpenedApk, application: Any, target_sdk: int | None, warnings: list[str]):  # type: ignore[no-untyped-def]
    from androguard.core.axml import AXMLPrinter

    uses_cleartext = _as_bool(_attr(application, "usesCleartextTraffic")) if application is not None else None
    debuggable = bool(_as_bool(_attr(application, "debuggable"))) if application is not None else False
    reference = _attr(application, "networkSecurityConfig") if application is not None else None
    config, config_file = None, None
    if reference:
        config_file = _resolve_xml(opened, str(reference))
        if config_file is None:
            warnings.append(f"android:networkSecurityConfig names {reference}, which is not in the APK's resources; "
                            "read as if the app had no config")
        else:
            try:
                config = AXMLPrinter(opened.apk.get_file(config_file)).get_xml_obj()
            except Exception as exc:   # androguard raises several types for a damaged binary XML
                warnings.append(f"{config_file} could not be read ({describe(exc)}); read as if the app had no config")
                config, config_file = None, None
            if config is None and config_file is not None:
                warnings.append(f"{config_file} is not readable binary XML; read as if the app had no config")
                config_file = None
            elif config is not None and config.tag != "network-security-config":
                warnings.append(f"{config_file} is not a <network-security-config>; read as if the app had no config")
                config, config_file = None, None
    return netsec.evaluate(config, config_file=config_file, target_sdk=target_sdk, uses_cleartext=uses_cleartext,
                           debuggable=debuggable)


def _resolve_xml(opened: OpenedApk, reference: str) -> str | None:
    """The res/… path a manifest reference (@7F020000, or a path already) points at, if the APK has it."""
    files = set(opened.apk.get_files())
    if reference in files:
        return reference
    if not reference.startswith("@"):
        return None
    try:
        resource_id = int(reference[1:], 16)
        resources = opened.apk.get_android_resources()
        configs = resources.get_resolved_res_configs(resource_id) if resources is not None else []
    except Exception:   # androguard's resource table parser raises many types on a damaged resources.arsc
        return None
    for _config, path in configs:
        if path in files:
            return str(path)
    return None


def scan_from_run_info(run_info: dict[str, Any]) -> ApkScan | None:
    """The scan a device run kept in run.json ("apk_scan"), or None when the run had no --apk or the scan
    was refused (then run_info["apk_scan"]["error"] says why). For the report's declared-vs-observed section."""
    recorded = run_info.get("apk_scan")
    if not isinstance(recorded, dict) or "error" in recorded:
        return None
    return ApkScan.model_validate(recorded)
