"""Scope checks: PI read or sent beyond what the privacy policy declares (or the app type needs), and SDKs at
work, or embedded in the APK, that the policy's third-party SDK list does not name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from monitor.analysis.checks.consent import flow_hits
from monitor.analysis.declared import app_pi_evidence, row_evidence, sdk_list_summary
from monitor.analysis.engine import REGISTRY, Hit, Reason, RuleContext, SkipRule
from monitor.analysis.grouping import GROUP_COLUMNS, group_reads, hit_from_reads, missing_as_none
from monitor.data.rule_models import SEVERITY_ORDER
from monitor.errors import DataFileError
from monitor.scan.model import SdkPresence


@REGISTRY.check("beyond_scope", defaults={"app_type_only_severity": "low"})
def beyond_scope(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """A category read that the privacy policy does not declare for its reader (--scope: the app's own list
    for the app and unknown code, the SDK's list for an SDK — an SDK the policy does not name has none), or,
    with only --app-type, a category that app type does not need."""
    if context.scope is None and context.app_type is None:
        raise SkipRule(context.scope_note or Reason.of("needs_scope"))
    limit = context.settings.max_evidence
    necessary = context.app_type.necessary if context.app_type else None
    hits: list[Hit] = []
    for key, group in group_reads(context.reads, ["category", "sdk_id", "owner"], limit=limit):
        category, sdk_id, owner = key["category"], key["sdk_id"] or None, key["owner"]
        detail: dict[str, Any] = {}
        if necessary is not None:
            detail["app_type"] = context.app_type.id if context.app_type else None
            detail["necessary_for_app_type"] = category in necessary
        severity = None
        if context.scope is not None:
            declared = context.scope.sdks.get(sdk_id, []) if owner == "sdk" and sdk_id else context.scope.app
            detail["declared"] = sorted(declared)
            if owner == "sdk" and sdk_id and sdk_id not in context.scope.sdks:
                detail["sdk_declared"] = False
            if category in declared:
                continue
            detail.update(_policy_quote(context, sdk_id if owner == "sdk" else None))
        else:
            if category in (necessary or ()):
                continue
            severity = str(thresholds["app_type_only_severity"])
        hit = hit_from_reads((category, sdk_id or "", owner), group, confidence=1.0, limit=limit, detail=detail)
        hit.api = None if group["api"].nunique() > 1 else hit.api
        hit.detail["apis"] = sorted({str(a) for a in group["api"].tolist() if a})
        hit.process = None
        hit.severity = severity
        hits.append(hit)
    if context.scope is not None:
        scope = context.scope

        def undeclared(matches: pd.DataFrame) -> pd.Series:
            # Who the flow is about: its destination's SDK, else the SDK whose code sent it, else the reader.
            sdk = matches["dest_sdk_id"].where(matches["dest_sdk_id"].notna(), matches.get("sender_sdk_id"))
            sdk = sdk.where(sdk.notna(), matches["reader_sdk_id"])
            allowed = [scope.sdks.get(str(s), []) if missing_as_none(s) else scope.app for s in sdk.tolist()]
            return pd.Series(np.array([c not in a for c, a in zip(matches["category"].tolist(), allowed)], dtype=bool),
                             index=matches.index)

        for hit in flow_hits(context, undeclared, ("sent",)):
            hit.detail.update(_policy_quote(context, hit.sdk_id if hit.owner == "sdk" else None))
            hit.detail["declared"] = sorted(scope.sdks.get(hit.sdk_id, []) if hit.sdk_id else scope.app)
            hits.append(hit)
    return hits


def _policy_quote(context: RuleContext, sdk_id: str | None) -> dict[str, Any]:
    """Where the declared scope says what it says: the SDK's row quoted, or the list it is missing from, or the
    app's own PI as the policy words it."""
    if context.declared is None:
        return {}
    if sdk_id:
        row = row_evidence(context.declared, context.sdks, sdk_id)
        return {"policy_row": row} if row else {"missing_from": sdk_list_summary(context.declared)}
    return {"policy_app_pi": app_pi_evidence(context.declared)}


@REGISTRY.check("undisclosed_sdk", defaults={"kinds": ["pi_read", "connect"], "apk_severity": "medium", "apk_exempt": []})
def undisclosed_sdk(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """An SDK seen at run time (its own PI reads, its connects) whose vendor no row of the policy's SDK list
    names. One hit per SDK group; the evidence names the list it is missing from.

    With the APK's static scan (run --apk: run.json apk_scan), an SDK whose code the package carries, that no
    row names and that was not seen at work is reported too, as static evidence (`evidence_level` "static",
    the packages, classes and manifest components found) at `apk_severity`: the policy must name embedded
    third-party code whether or not this run reached it, but its presence alone does not show it collected
    anything. An SDK seen at run time is reported from what it did, never twice."""
    if context.declared is None:
        raise SkipRule(context.scope_note or Reason.of("needs_policy"))
    sdks = context.sdks
    named = {sdks.subject_of(row.sdk_id) for row in context.declared.sdks if row.sdk_id}
    timeline = context.timeline
    seen = timeline[((timeline["source"] == "hook") & timeline["kind"].isin(list(thresholds["kinds"]))
                     & (timeline["owner"] == "sdk") & timeline["sdk_id"].notna()).to_numpy(dtype=bool)]
    subjects = seen["sdk_id"].map(lambda sdk_id: sdks.subject_of(str(sdk_id)))
    chosen = seen[(~subjects.isin(named)).to_numpy(dtype=bool)].assign(subject=subjects)
    limit = context.settings.max_evidence
    hits: list[Hit] = []
    for key, group in group_reads(chosen, ["subject"], limit=limit, columns=(*GROUP_COLUMNS, "kind")):
        hit = hit_from_reads(("undisclosed", key["subject"]), group, confidence=float(group["attribution_confidence"].max()),
                             limit=limit, detail={"missing_from": sdk_list_summary(context.declared),
                                                  "evidence_level": "runtime",
                                                  "seen_as": sorted({str(k) for k in group["kind"].tolist()}),
                                                  "apis": sorted({str(a) for a in group["api"].tolist() if a}),
                                                  "categories": sorted({str(c) for c in group["category"].tolist() if c})})
        hit.sdk_id = key["subject"]
        hit.category = "sdk"
        hit.api = None
        hit.process = None
        hits.append(hit)
    exempt = {sdks.subject_of(str(sdk_id)) for sdk_id in thresholds["apk_exempt"]}
    hits += _in_package_only(context, named | set(subjects.tolist()) | exempt, severity=str(thresholds["apk_severity"]),
                             missing_from=sdk_list_summary(context.declared))
    return hits


def _in_package_only(context: RuleContext, excluded: set[str], *, severity: str, missing_from: dict[str, Any]) -> list[Hit]:
    """One static hit per SDK group the APK scan found that is not in `excluded` (named by the policy, seen at
    work, exempt), with what the scan found of each of its modules."""
    scan = context.apk_scan
    if scan is None:
        return []
    if severity not in SEVERITY_ORDER:
        raise DataFileError(f"rule undisclosed-sdk: apk_severity {severity!r} is not a severity",
                            hint=f"use one of: {', '.join(SEVERITY_ORDER)}")
    found: dict[str, list[SdkPresence]] = {}
    for presence in scan.sdks:
        subject = context.sdks.subject_of(presence.id)
        if subject not in excluded:
            found.setdefault(subject, []).append(presence)
    # No moment of its own: the package is what the run installed and ran, at the run's start.
    started = context.run_info.get("started_ns")
    at = int(started) if isinstance(started, int) else int(context.timeline["ts"].min()) if len(context.timeline) else 0
    hits = []
    for subject, modules in sorted(found.items()):
        apk = {"file": scan.file.rsplit("/", 1)[-1], "sha256": scan.sha256, "package": scan.package,
               "classes": sum(module.classes for module in modules),
               "packages": list(dict.fromkeys(prefix for module in modules for prefix in module.packages)),
               "components": list(dict.fromkeys(component for module in modules for component in module.components)),
               "modules": [{"id": module.id, "name": {"zh": module.name_zh or module.name, "en": module.name},
                            "classes": module.classes, "packages": list(module.packages),
                            "components": list(module.components)} for module in modules]}
        hits.append(Hit(key=("undisclosed", subject, "apk"), first_ns=at, last_ns=at, count=0, category="sdk",
                        sdk_id=subject, owner="sdk", severity=severity,
                        detail={"missing_from": missing_from, "evidence_level": "static", "seen_as": [], "apis": [],
                                "categories": [], "apk": apk}))
    return hits
