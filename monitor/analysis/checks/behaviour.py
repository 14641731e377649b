"""Checks on how the app behaves: in the background, too often, asking again after a denial, starting others."""

from __future__ import annotations

from typing import Any

import numpy as np

from monitor.analysis.attribution import APP_ITSELF
from monitor.analysis.checks.consent import flow_hits
from monitor.analysis.permissions import permission_events
from monitor.analysis.consent import UNDECIDED, iso
from monitor.analysis.engine import REGISTRY, Hit, RuleContext
from monitor.analysis.grouping import READ_KEY, group_reads, hit_from_reads
from monitor.data import load_data


@REGISTRY.check("background")
def background(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """PI read while the reading process was in the background, and PI sent while the app was (a flow, or a
    WebSocket message, at its own moment): the upload an SDK makes from the background is the collection
    the user cannot see, whenever its value was read. A sent hit cites the read whose value it carried."""
    limit = context.settings.max_evidence
    reads = context.reads
    hits = []
    for key, group in group_reads(reads, READ_KEY, limit=limit, where=reads["background"].to_numpy(dtype=bool)):
        hits.append(hit_from_reads(tuple(key.values()), group, confidence=1.0, limit=limit))
    hits.extend(flow_hits(context, lambda matches: matches["flow_background"].astype(bool), ("sent",)))
    return hits


def _densest_window(times: np.ndarray, window_ns: int) -> tuple[int, int]:
    """(most reads in any window [t, t + window_ns), index of the first read of that window)."""
    ends = np.searchsorted(times, times + window_ns, side="left")
    counts = ends - np.arange(len(times))
    best = int(np.argmax(counts))
    return int(counts[best]), best


@REGISTRY.check("over_frequency", defaults={"window_s": 30, "max_reads": 1, "background_window_s": 60, "background_max_reads": 1})
def over_frequency(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """The same API by the same reader more than `max_reads` times within any `window_s` (foreground) or
    more than `background_max_reads` within `background_window_s` (background). Exactly the maximum is
    allowed, and reads exactly a window apart are in different windows."""
    limit = context.settings.max_evidence
    hits: list[Hit] = []
    modes = [("foreground", False, float(thresholds["window_s"]), int(thresholds["max_reads"])),
             ("background", True, float(thresholds["background_window_s"]), int(thresholds["background_max_reads"]))]
    reads = context.reads
    for mode, in_background, window_s, max_reads in modes:
        in_mode = (reads["background"] == in_background).to_numpy(dtype=bool)
        window_ns = int(window_s * 1_000_000_000)
        for key, group in group_reads(reads, ["category", "api", "sdk_id", "owner"], limit=limit, where=in_mode):
            times = group["ts"].to_numpy(dtype=np.int64)
            if len(times) <= max_reads:
                continue
            most, start = _densest_window(times, window_ns)
            if most <= max_reads:
                continue
            evidence = group.iloc[start:start + most]
            detail = {"mode": mode, "window_s": window_s, "max_reads": max_reads, "most_in_window": most,
                      "densest_window_start": iso(int(times[start]))}
            hit = hit_from_reads((mode, *key.values()), group, confidence=1.0, limit=limit, detail=detail,
                                 evidence_rows=evidence)
            hit.background = in_background
            hit.process = None
            hits.append(hit)
    return hits


@REGISTRY.check("permission_rerequest", defaults={"min_hours_after_denial": 48})
def permission_rerequest(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """A permission asked for again less than `min_hours_after_denial` after the user last denied it. A
    result with no request seen before it still proves a request (the request hook may be missing)."""
    quiet_ns = int(float(thresholds["min_hours_after_denial"]) * 3600 * 1_000_000_000)
    by_permission: dict[str, list[tuple[int, int, str | None, str, str]]] = {}
    for ts, seq, name, result, api, state in sorted(permission_events(context.timeline)):
        by_permission.setdefault(name, []).append((ts, seq, result, api, state))
    hits: list[Hit] = []
    for name, events in sorted(by_permission.items()):
        first_denial: tuple[int, int] | None = None
        last_denial: int | None = None
        again: list[tuple[int, int, str, str]] = []
        pending_request = False
        for ts, seq, result, api, state in events:
            within = last_denial is not None and 0 < ts - last_denial < quiet_ns
            if result is None:
                if within:
                    again.append((ts, seq, api, state))
                pending_request = True
                continue
            if within and not pending_request:
                again.append((ts, seq, api, state))
            pending_request = False
            if result == "denied":
                last_denial = ts
                first_denial = first_denial or (ts, seq)
            else:
                last_denial = None  # granted: later prompts are not about a refusal
        if first_denial is None or not again:
            continue
        hits.append(Hit(
            key=("permission", name), first_ns=again[0][0], last_ns=again[-1][0], count=len(again),
            category="permission", api=again[0][2] or None, owner=APP_ITSELF, consent_state=again[0][3], confidence=1.0,
            event_seqs=[first_denial[1], *[a[1] for a in again]],
            detail={"permission": name, "denied_at": iso(first_denial[0]),
                    "first_again_after_s": round((again[0][0] - first_denial[0]) / 1e9, 3),
                    "min_hours_after_denial": thresholds["min_hours_after_denial"]},
        ))
    return hits


def _target_package(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for key in ("target_package", "package"):
        if isinstance(payload.get(key), str) and payload[key]:
            return payload[key]
    component = payload.get("component")
    if isinstance(component, str) and "/" in component:
        return component.split("/", 1)[0]
    return None


@REGISTRY.check("associated_start", defaults={"own_package_only_before_consent": True})
def associated_start(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """Another package's component started (associated start); alarms and jobs scheduled before consent
    (self-start). Starting the app's own components is not judged."""
    events = context.timeline[context.timeline["kind"] == "app_start"]
    if events.empty:
        return []
    targets = events["payload"].map(_target_package)
    own = targets.isna() | (targets == context.app_package)
    scheduling_apis = load_data("platform").scheduling_prefixes()
    scheduling = events["api"].fillna("").str.startswith(scheduling_apis)
    before = events["consent_state"].isin(UNDECIDED + ("refused",))
    own_rule = scheduling & before if thresholds["own_package_only_before_consent"] else scheduling
    keep = (~own) | (own & own_rule)
    chosen = events[keep].assign(target=targets[keep].fillna("").astype(str))
    limit = context.settings.max_evidence
    hits = []
    for key, group in group_reads(chosen, ["api", "target", "sdk_id", "owner"], limit=limit):
        hit = hit_from_reads(("start", *key.values()), group, confidence=float(group["consent_confidence"].max()) if key["target"] in ("", context.app_package) else 1.0,
                             limit=limit, detail={"target_package": key["target"] or None,
                                                  "kind": "alarm/job" if key["api"].startswith(scheduling_apis) else "component"})
        hit.category = "app_start"
        hits.append(hit)
    return hits


