"""The scope the user agreed to, read from the privacy policy the run captured (policy/), for the rules.

`declared_for_run` reads the run's policy documents into a DeclaredScope (monitor.policy), or says in one
line why there is none; `scope_for_rules` turns it into the ScopeFile `beyond-scope` consumes. An SDK list
row names one product of a vendor (友盟+ SDK), while the SDK table attributes code to the module that ran
(umeng-analytics) and traffic to the vendor's domain (umeng): a row covers every entry of its group, as a
regulator's notice names the vendor.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.analysis.engine import Reason
from monitor.analysis.permissions import permission_events
from monitor.data.models import Catalogue, SdkTable
from monitor.data.rule_models import ScopeFile
from monitor.events import KIND_CONNECT, KIND_PI_READ
from monitor.policy import DeclaredScope, PolicyError, declared_scope, read_policy_documents
from monitor.scan.model import ApkScan

NO_POLICY = Reason.of("no_policy")


def declared_for_run(run_root: Path) -> tuple[DeclaredScope | None, Reason | None]:
    """(the declared scope, None), or (None, why there is none) — never an exception for a bad policy."""
    try:
        if not read_policy_documents(Path(run_root)):
            return None, NO_POLICY
        return declared_scope(Path(run_root)), None
    except PolicyError as exc:
        return None, Reason.of("policy_unreadable", error=exc)


def group_members(sdks: SdkTable, sdk_id: str) -> set[str]:
    """Every SDK table id in the same group as `sdk_id` (the umbrella and its modules)."""
    subject = sdks.subject_of(sdk_id)
    return {entry.id for entry in sdks.sdks if sdks.subject_of(entry.id) == subject} | {sdk_id}


def scope_for_rules(declared: DeclaredScope, sdks: SdkTable) -> ScopeFile:
    """The declared scope as a ScopeFile: the app's own categories, and per SDK id (every member of a named
    row's group) the categories its row declares."""
    per_sdk: dict[str, set[str]] = {}
    for row in declared.sdks:
        if not row.sdk_id:
            continue
        for member in group_members(sdks, row.sdk_id):
            per_sdk.setdefault(member, set()).update(row.categories())
    documents = [document.url or document.source for document in declared.documents]
    return ScopeFile(app=sorted({item.category for item in declared.app_pi}),
                     sdks={sdk_id: sorted(categories) for sdk_id, categories in sorted(per_sdk.items())},
                     source="privacy policy captured in the run: " + ", ".join(dict.fromkeys(documents)))


def _document(declared: DeclaredScope, index: int) -> str | None:
    if 0 <= index < len(declared.documents):
        document = declared.documents[index]
        return document.url or document.source
    return None


def row_evidence(declared: DeclaredScope, sdks: SdkTable, sdk_id: str | None) -> dict[str, Any] | None:
    """The SDK list row that names `sdk_id`'s group, quoted, or None when no row does."""
    if not sdk_id:
        return None
    subject = sdks.subject_of(sdk_id)
    for row in declared.sdks:
        if row.sdk_id and sdks.subject_of(row.sdk_id) == subject:
            return {"name": row.name, "company": row.company, "pi": [item.text for item in row.pi],
                    "quote": row.sentence or None, "document": _document(declared, row.document),
                    "offset": row.offset, "matched_by": row.match_reason}
    return None


def sdk_list_summary(declared: DeclaredScope) -> dict[str, Any]:
    """Which list a missing SDK is missing from: the documents read and the rows their SDK list has."""
    return {"documents": list(dict.fromkeys(d.url or d.source for d in declared.documents)),
            "sdk_list_rows": [row.name for row in declared.sdks],
            "has_sdk_list": bool(declared.sdks)}


def app_pi_evidence(declared: DeclaredScope) -> list[dict[str, Any]]:
    return [{"category": item.category, "text": item.text, "quote": item.sentence or None,
             "document": _document(declared, item.document), "offset": item.offset} for item in declared.app_pi]


def _permission_tokens(text: str) -> set[str]:
    """The permission names a catalogue entry's `permission` field mentions (READ_PHONE_STATE, ACCESS_FINE_LOCATION)."""
    return {f"android.permission.{token}" for token in re.findall(r"\b[A-Z][A-Z_]{3,}\b", text or "")}


def declared_vs_observed(timeline: pd.DataFrame, flow_matches: pd.DataFrame | None, declared: DeclaredScope | None,
                         scan: ApkScan | None, sdks: SdkTable, catalogue: Catalogue) -> dict[str, Any]:
    """The report's comparison, per SDK (one row per vendor group): present in the APK / named in the policy /
    read PI at run time / sent PI; per permission: in the manifest / requested at run time / granted / used.
    A column is None where its source is missing (no APK scan, no policy captured)."""
    subject_of = sdks.subject_of
    names = {entry.id: entry.name.zh or entry.name.en for entry in sdks.sdks}
    rows: dict[str, dict[str, Any]] = {}

    def row(subject: str) -> dict[str, Any]:
        return rows.setdefault(subject, {"sdk": subject, "name": names.get(subject, subject),
                                         "in_apk": None if scan is None else 0,
                                         "in_policy": None if declared is None else False,
                                         "policy_row": None, "declared_pi": [], "read_pi": set(), "sent_pi": set(),
                                         "connected": False})

    for presence in scan.sdks if scan is not None else []:
        entry = row(subject_of(presence.id))
        entry["in_apk"] = int(entry["in_apk"] or 0) + presence.classes + (1 if presence.components and not presence.classes else 0)
    for declared_row in declared.sdks if declared is not None else []:
        entry = row(subject_of(declared_row.sdk_id)) if declared_row.sdk_id else row(f"(unmapped) {declared_row.name}")
        entry["in_policy"] = True
        entry["policy_row"] = declared_row.name
        entry["declared_pi"] = sorted(set(entry["declared_pi"]) | set(declared_row.categories()))
    sdk_rows = timeline[(timeline["owner"] == "sdk") & timeline["sdk_id"].notna()]
    for sdk_id, category, kind in zip(sdk_rows["sdk_id"].tolist(), sdk_rows["category"].tolist(), sdk_rows["kind"].tolist()):
        entry = row(subject_of(str(sdk_id)))
        if kind == KIND_PI_READ:
            entry["read_pi"].add(str(category))
        elif kind == KIND_CONNECT:
            entry["connected"] = True
    if flow_matches is not None and len(flow_matches):
        senders = flow_matches["dest_sdk_id"].where(flow_matches["dest_sdk_id"].notna(), flow_matches["reader_sdk_id"])
        for sdk_id, category in zip(senders.tolist(), flow_matches["category"].tolist()):
            if isinstance(sdk_id, str) and sdk_id:
                row(subject_of(sdk_id))["sent_pi"].add(str(category))
    sdk_table = [{**entry, "read_pi": sorted(entry["read_pi"]), "sent_pi": sorted(entry["sent_pi"])}
                 for _, entry in sorted(rows.items())]

    permissions: dict[str, dict[str, Any]] = {}

    def perm(name: str) -> dict[str, Any]:
        return permissions.setdefault(name, {"permission": name, "in_manifest": None if scan is None else False,
                                             "dangerous": None, "requested": False, "granted": None, "used_by": set()})

    for entry in scan.permissions if scan is not None else []:
        item = perm(entry.name)
        item["in_manifest"], item["dangerous"] = True, entry.dangerous
    for _ts, _seq, name, result, _api, _state in permission_events(timeline):
        item = perm(name)
        if result is None:
            item["requested"] = True
        else:
            item["granted"] = result == "granted"
    needs = {hook.api: _permission_tokens(hook.permission) for hook in catalogue.hooks}
    reads = timeline[timeline["is_pi"]] if "is_pi" in timeline else timeline.iloc[0:0]
    for api in sorted({str(a) for a in reads["api"].dropna().tolist()}):
        for name in needs.get(api, ()):
            perm(name)["used_by"].add(api)
    permission_table = [{**item, "used_by": sorted(item["used_by"])} for _, item in sorted(permissions.items())]
    return {"sdks": sdk_table, "permissions": permission_table,
            "sources": {"apk_scan": scan is not None, "policy": declared is not None}}
