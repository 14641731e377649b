"""Checks against the consent state: before consent, after refusal, to third parties, SDK connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from monitor.analysis.consent import UNDECIDED
from monitor.analysis.coverage import leaves_device, proxy_endpoint, socket_endpoint
from monitor.analysis.engine import REGISTRY, Hit, Reason, RuleContext, SkipRule
from monitor.analysis.grouping import READ_KEY, group_reads, hit_from_reads, missing_as_none
from monitor.analysis.senders import connect_host
from monitor.events import KIND_CONNECT


def _reads_in_states(context: RuleContext, states: tuple[str, ...], *, tolerance_ns: int = 0) -> np.ndarray:
    """Which of `context.reads` happened in one of `states` (a boolean mask over them)."""
    reads = context.reads
    in_state = reads["consent_state"].isin(states)
    if tolerance_ns and "accepted" not in states:
        # A read a hair before the consent moment is within clock error of it: not before consent.
        consent_times = np.array([t.ts for t in context.consent.transitions if t.state == "accepted"], dtype=np.int64)
        if len(consent_times):
            ts = reads["ts"].to_numpy(dtype=np.int64)
            nxt = np.searchsorted(consent_times, ts, side="left")
            has_next = nxt < len(consent_times)
            near = np.zeros(len(ts), dtype=bool)
            near[has_next] = consent_times[nxt[has_next]] - ts[has_next] <= tolerance_ns
            in_state &= ~near
    return in_state.to_numpy(dtype=bool)


def _state_hits(context: RuleContext, states: tuple[str, ...], *, tolerance_ns: int = 0) -> list[Hit]:
    limit = context.settings.max_evidence
    hits: list[Hit] = []
    in_states = _reads_in_states(context, states, tolerance_ns=tolerance_ns)
    for key, group in group_reads(context.reads, READ_KEY, limit=limit, where=in_states):
        hits.append(hit_from_reads(("read", *key.values()), group, confidence=float(group["consent_confidence"].max()),
                                   limit=limit, detail={"states": sorted(set(group["consent_state"]))}))
    hits.extend(flow_hits(context, lambda matches: matches["consent_state"].isin(states), ("flow",)))
    return hits


def flow_hits(context: RuleContext, select: Callable[[pd.DataFrame], pd.Series], key_prefix: tuple[str, ...]) -> list[Hit]:
    """One hit per (destination host, PI category) among the flow matches `select` keeps."""
    matches = context.flow_matches
    if matches is None or matches.empty:
        return []
    chosen = matches[select(matches)]
    limit = context.settings.max_evidence
    hits: list[Hit] = []
    for (host, category), group in chosen.groupby(["host", "category"], sort=True):
        group = group.sort_values(["flow_ts", "flow_id", "field", "offset"], kind="stable")
        first = group.iloc[0]
        flow_ids = list(dict.fromkeys(group["flow_id"].astype(str).tolist()))
        match_refs = [
            {"flow_id": str(m.flow_id), "field": missing_as_none(m.field), "encoding": missing_as_none(m.encoding), "category": missing_as_none(m.category),
             "event_seq": None if pd.isna(m.event_seq) else int(m.event_seq), "confidence": missing_as_none(m.confidence),
             "detector": missing_as_none(m.detector)}
            for m in group.head(limit).itertuples(index=False)
        ]
        # Who sent it: the destination's SDK, else the code that opened the connection, else the code that
        # read the value it carries.
        sender_sdk = missing_as_none(first["sender_sdk_id"]) if "sender_sdk_id" in group else None
        sender_owner = missing_as_none(first["sender_owner"]) if "sender_owner" in group else None
        sdk_id = missing_as_none(first["dest_sdk_id"]) or sender_sdk or missing_as_none(first["reader_sdk_id"])
        owner = "sdk" if sdk_id else (sender_owner or missing_as_none(first["reader_owner"]) or "unknown")
        sent_by = None
        if sender_owner:
            sent_by = {"connect_seq": int(first["sender_seq"]), "owner": sender_owner, "sdk_id": sender_sdk,
                       "frame": missing_as_none(first["sender_frame"]), "gap_ms": round(float(first["sender_gap_ms"]), 3),
                       "window_ms": float(first["sender_window_ms"])}
        hits.append(Hit(
            key=(*key_prefix, str(host), str(category)),
            first_ns=int(group["flow_ts"].min()), last_ns=int(group["flow_ts"].max()), count=len(flow_ids),
            category=str(category), host=str(host), sdk_id=sdk_id, owner=owner,
            frame=(sent_by or {}).get("frame") or missing_as_none(first["reader_frame"]),
            attribution_confidence=1.0 if missing_as_none(first["dest_sdk_id"]) else (
                float(first["sender_confidence"]) if sent_by else
                float(first["reader_confidence"] if pd.notna(first["reader_confidence"]) else 0.3)),
            process=None, background=bool(group["flow_background"].any()),
            consent_state=str(first["consent_state"]),
            confidence=float(group["consent_confidence"].max()),
            event_seqs=sorted({int(s) for s in group["event_seq"].dropna().tolist()})[:limit],
            flow_ids=flow_ids[:limit],
            matches=match_refs,
            values=sorted({str(v) for v in group["value"].tolist() if isinstance(v, str)}),
            detail={"party": str(first["party"]), "registrable_domain": missing_as_none(first["registrable_domain"]),
                    "sent_by": sent_by,
                    "vendor": missing_as_none(first["vendor"]),
                    "encodings": sorted({str(e) for e in group["encoding"].tolist() if missing_as_none(e)}),
                    "fields": sorted({str(f) for f in group["field"].tolist() if missing_as_none(f)})[:limit]},
        ))
    return hits


@REGISTRY.check("before_consent", defaults={"tolerance_ms": 0})
def before_consent(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """PI read, or PI sent, while no consent was in force (no notice yet, or the notice open)."""
    return _state_hits(context, UNDECIDED, tolerance_ns=int(float(thresholds["tolerance_ms"]) * 1_000_000))


@REGISTRY.check("after_refusal")
def after_refusal(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """PI read, or PI sent, after the user refused (and before any later consent)."""
    return _state_hits(context, ("refused",))


@REGISTRY.check("third_party_transfer", defaults={"parties": ["third"]})
def third_party_transfer(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """PI values in a flow to a third party while consent was not in force."""
    if context.flow_matches is None:
        raise SkipRule(context.network_unavailable or Reason.of("no_network_matches"))
    parties = list(thresholds["parties"])
    return flow_hits(context, lambda m: m["party"].isin(parties) & (m["consent_state"] != "accepted"), ("transfer",))


@REGISTRY.check("sdk_connects_before_consent", defaults={"owners": ["sdk"]})
def sdk_connects_before_consent(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """An SDK opened a network connection (an HTTP request, its own socket, native code) while no consent
    was in force: it was started, or woke itself, before the user agreed. One hit per SDK and destination;
    the connection's own content needs no PI value for this (what it carried is judged by the flow rules,
    when the proxy saw it)."""
    timeline = context.timeline
    connects = timeline[((timeline["source"] == "hook") & (timeline["kind"] == KIND_CONNECT)
                         & timeline["owner"].isin(list(thresholds["owners"]))
                         & timeline["consent_state"].isin(UNDECIDED)).to_numpy(dtype=bool)]
    if connects.empty:
        return []
    proxy = proxy_endpoint(context.run_info)
    endpoints = [_connect_endpoint(payload, value, args) for payload, value, args in
                 zip(connects["payload"].tolist(), connects["value"].tolist(), connects["args"].tolist())]
    # The hop to the capture proxy (the socket under a proxied request) and loopback IPC are not destinations.
    outward = np.array([leaves_device(host, port, proxy) if host else True for host, port in endpoints], dtype=bool)
    if not outward.any():
        return []
    chosen = connects[outward].assign(destination=[_destination(host, port) for (host, port), keep in zip(endpoints, outward) if keep])
    limit = context.settings.max_evidence
    hits = []
    for key, group in group_reads(chosen, ["sdk_id", "destination"], limit=limit):
        hit = hit_from_reads(("sdk-connect", *key.values()), group, confidence=float(group["consent_confidence"].max()) *
                             float(group["attribution_confidence"].max()), limit=limit,
                             detail={"destination": key["destination"] or None,
                                     "via": sorted({str(api) for api in group["api"].tolist() if isinstance(api, str)})})
        hit.category = "network_connect"
        hit.host = key["destination"] or None
        hits.append(hit)
    return hits


def _destination(host: str | None, port: int | None) -> str:
    if not host:
        return ""
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _connect_endpoint(payload: Any, value: Any, args: Any) -> tuple[str | None, int | None]:
    """(host, port) of a socket connect, else (host of a URL connect, None): URL.openConnection, OkHttp."""
    return socket_endpoint(payload) or (connect_host(payload, value, args), None)
