"""Runtime permissions as the timeline records them: requests, the user's answers, in order."""

from __future__ import annotations

import pandas as pd

from monitor.data import load_data


def permission_events(timeline: pd.DataFrame) -> list[tuple[int, int, str, str | None, str, str]]:
    """(ts, seq, permission, "granted"|"denied" or None for a request, api, consent_state) for every
    permission event (payload {permission, result} or {permissions: [...], results: [...]})."""
    events = timeline[timeline["kind"] == "permission"]
    out = []
    for ts, seq, payload, api, state in zip(events["ts"].tolist(), events["seq"].tolist(), events["payload"].tolist(),
                                            events["api"].tolist(), events["consent_state"].tolist()):
        if not isinstance(payload, dict):
            continue
        if str(payload.get("check", "")).casefold() == "true":
            # checkSelfPermission: the app asking the system, not the user; it neither prompts nor answers.
            continue
        names = payload.get("permissions") or ([payload["permission"]] if payload.get("permission") else [])
        results = payload.get("results") if isinstance(payload.get("results"), list) else [payload.get("result")] * len(names)
        for name, result in zip(names, results):
            normal = load_data("platform").permission_result(result) if result is not None else None
            out.append((int(ts), int(seq), str(name), normal, str(api or ""), str(state)))
    return out
