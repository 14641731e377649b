"""The scope check: PI read beyond what the privacy policy declares, or beyond what the app type needs."""

from __future__ import annotations

from typing import Any

from monitor.analysis.engine import REGISTRY, Hit, RuleContext, SkipRule
from monitor.analysis.grouping import group_reads, hit_from_reads


@REGISTRY.check("beyond_scope", defaults={"app_type_only_severity": "low"})
def beyond_scope(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """A category read that the privacy policy does not declare for its reader (--scope: the app's own list
    for the app and unknown code, the SDK's list for an SDK — an SDK the policy does not name has none), or,
    with only --app-type, a category that app type does not need."""
    if context.scope is None and context.app_type is None:
        raise SkipRule("needs --scope FILE (the privacy policy's declared PI) or --app-type TYPE")
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
    return hits


