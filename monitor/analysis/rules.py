"""The one rule engine. A rule is its declared data (monitor/data/rules.yaml: id, title, severity, cited
articles, thresholds) plus a small check function registered here under a name. The registry refuses a
second function under the same name; the rule set refuses a second rule with the same id.

A check gets the fully marked timeline (see `RuleContext`) and its thresholds, and returns `Hit`s: one
per violation, keyed by content (never by seq), grouped so a thousand identical reads are one finding
with a count. The engine adds what the data declares and the evidence common to all rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.analysis.attribution import APP_ITSELF, PLATFORM, Attributor
from monitor.analysis.consent import UNDECIDED, ConsentResult, iso
from monitor.analysis.findings import CitedArticle, Evidence, Finding, MatchRef, SdkRef, finding_id
from monitor.analysis.coverage import leaves_device, proxy_endpoint, socket_endpoint
from monitor.analysis.senders import connect_host
from monitor.data.models import SdkTable
from monitor.data.rule_models import SEVERITY_ORDER, AnalysisSettings, RuleSet, RuleSpec, ScopeFile
from monitor.data.yamlfile import read_yaml
from monitor.errors import DataFileError, MonitorError
from monitor.events import KIND_CONNECT


class RuleEngineError(MonitorError):
    """The rule engine was wired wrongly (a check registered twice) — a programming error, reported plainly."""


class SkipRule(Exception):
    """Raised by a check that cannot judge this run (e.g. beyond-scope without --scope or --app-type)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AppTypeScope:
    """One of the 39 app types: the PI categories its basic function needs."""

    id: str
    name: str
    necessary: frozenset[str]


@dataclass
class RuleContext:
    """Everything a check may look at. `timeline` carries, beyond the Event columns: process_key, is_pi,
    background, consent_state, consent_confidence, owner, sdk_id, sdk_frame, attribution_confidence,
    attributed_via (see timeline.py, consent.py, attribution.py)."""

    timeline: pd.DataFrame
    consent: ConsentResult
    run_info: dict[str, Any]
    settings: AnalysisSettings
    attributor: Attributor
    sdks: SdkTable
    app_package: str | None = None
    first_party_domains: tuple[str, ...] = ()
    scope: ScopeFile | None = None
    app_type: AppTypeScope | None = None
    # Network evidence: matches (monitor.analysis.matching COLUMNS) joined to their flow; None when the
    # run's traffic could not be matched, with the reason in `network_unavailable`.
    flow_matches: pd.DataFrame | None = None
    network_unavailable: str | None = None

    _reads: pd.DataFrame | None = field(default=None, repr=False)
    _screenshots: list[tuple[int, str]] | None = field(default=None, repr=False)

    @property
    def reads(self) -> pd.DataFrame:
        if self._reads is None:
            # Reads the runtime made for itself (no app, SDK or other code on the stack) are not the app's.
            self._reads = self.timeline[self.timeline["is_pi"] & (self.timeline["owner"] != PLATFORM)]
        return self._reads

    @property
    def screenshots(self) -> list[tuple[int, str]]:
        """(ts, path) of every scenario mark that took a screenshot."""
        if self._screenshots is None:
            marks = self.timeline[(self.timeline["source"] == "scenario") & (self.timeline["kind"] == "mark")]
            self._screenshots = [(int(ts), payload["screenshot"]) for ts, payload in zip(marks["ts"].tolist(), marks["payload"].tolist())
                                 if isinstance(payload, dict) and isinstance(payload.get("screenshot"), str)]
        return self._screenshots


@dataclass
class Hit:
    """One violation as a check sees it. `key` is the content that makes it distinct (its id)."""

    key: tuple[Any, ...]
    first_ns: int
    last_ns: int
    count: int
    category: str | None = None
    api: str | None = None
    host: str | None = None
    sdk_id: str | None = None
    owner: str = APP_ITSELF
    frame: str | None = None
    attribution_confidence: float = 1.0
    process: str | None = None
    background: bool = False
    consent_state: str | None = None
    confidence: float = 1.0
    event_seqs: list[int] = field(default_factory=list)
    flow_ids: list[str] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None


CheckFn = Callable[[RuleContext, dict[str, Any]], list[Hit]]


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    fn: CheckFn
    defaults: dict[str, Any]


class RuleRegistry:
    def __init__(self) -> None:
        self._checks: dict[str, RegisteredCheck] = {}

    def check(self, name: str, *, defaults: dict[str, Any] | None = None) -> Callable[[CheckFn], CheckFn]:
        """Register a check function under `name`, with the thresholds it understands and their defaults."""
        def register(fn: CheckFn) -> CheckFn:
            if name in self._checks:
                raise RuleEngineError(f"a check named {name!r} is already registered ({self._checks[name].fn.__qualname__})",
                                      hint="give the new check its own name, or point the rule at the existing one")
            self._checks[name] = RegisteredCheck(name, fn, dict(defaults or {}))
            return fn
        return register

    def names(self) -> list[str]:
        return sorted(self._checks)

    def get(self, name: str) -> RegisteredCheck | None:
        return self._checks.get(name)

    def validate(self, ruleset: RuleSet, path: Path) -> None:
        """Every rule names a known check and only thresholds that check understands, or the file is refused
        with the line of the offending rule."""
        problems: list[str] = []
        index: dict[tuple[Any, ...], int] | None = None
        for position, spec in enumerate(ruleset.rules):
            registered = self._checks.get(spec.check_name)
            message = None
            if registered is None:
                message = f"rule {spec.id}: no check named {spec.check_name!r} (known: {', '.join(self.names())})"
            else:
                unknown = sorted(set(spec.thresholds) - set(registered.defaults))
                if unknown:
                    message = (f"rule {spec.id}: unknown thresholds {unknown} "
                               f"(check {registered.name} understands {sorted(registered.defaults) or 'none'})")
            if message:
                if index is None:
                    index = read_yaml(path)[1] if Path(path).exists() else {}
                line = index.get(("rules", position, "thresholds")) or index.get(("rules", position))
                problems.append(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        if problems:
            raise DataFileError("\n".join(problems), hint=f"fix the rule named above in {path}")

    def run(self, ruleset: RuleSet, context: RuleContext) -> tuple[list[Finding], dict[str, str]]:
        """Run every enabled rule. Returns the findings (sorted) and the rules skipped, with why."""
        findings: list[Finding] = []
        skipped: dict[str, str] = {}
        for spec in ruleset.rules:
            if not spec.enabled:
                skipped[spec.id] = "disabled in the rules file"
                continue
            registered = self._checks[spec.check_name]
            thresholds = {**registered.defaults, **spec.thresholds}
            try:
                hits = registered.fn(context, thresholds)
            except SkipRule as skip:
                skipped[spec.id] = skip.reason
                continue
            findings.extend(_finding(spec, hit, context) for hit in hits)
        findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.rule, f.first_seen_ns, f.id))
        return findings, skipped


REGISTRY = RuleRegistry()


# ---- turning hits into findings -------------------------------------------------------------------

def _screenshot_near(context: RuleContext, ts: int) -> str | None:
    best: tuple[int, str] | None = None
    for mark_ts, screenshot in context.screenshots:
        distance = abs(mark_ts - ts)
        if best is None or (distance, screenshot) < best:
            best = (distance, screenshot)
    return best[1] if best else None


def _finding(spec: RuleSpec, hit: Hit, context: RuleContext) -> Finding:
    limit = context.settings.max_evidence
    return Finding(
        id=finding_id(spec.id, hit.key),
        rule=spec.id,
        title={"zh": spec.title.zh, "en": spec.title.en},
        severity=hit.severity or spec.severity,
        category=hit.category,
        api=hit.api,
        host=hit.host,
        sdk=SdkRef(id=hit.sdk_id, name=context.attributor.sdk_name(hit.sdk_id, hit.owner), owner=hit.owner,
                   frame=hit.frame, confidence=round(float(hit.attribution_confidence), 3)),
        first_seen_ns=hit.first_ns, first_seen=iso(hit.first_ns),
        last_seen_ns=hit.last_ns, last_seen=iso(hit.last_ns),
        count=hit.count,
        process=hit.process,
        background=bool(hit.background),
        consent_state=hit.consent_state,
        confidence=round(float(hit.confidence), 3),
        articles=[CitedArticle(regulation=c.regulation, article=c.article, text=c.text, verified=c.verified,
                               quote=c.quote, wording=c.wording) for c in spec.cites],
        evidence=Evidence(
            event_seqs=hit.event_seqs[:limit],
            flow_ids=hit.flow_ids[:limit],
            matches=[MatchRef(**m) for m in hit.matches[:limit]],
            values=hit.values[:3],
            screenshot=_screenshot_near(context, hit.first_ns),
            detail=hit.detail,
        ),
    )


def _none(value: Any) -> Any:
    return None if value is None or value == "" or (isinstance(value, float) and np.isnan(value)) else value


def _key_text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)) else str(value)


def _key_ranks(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each value's key text (`_key_text`) as its rank among the distinct key texts, and those texts in order."""
    codes, uniques = pd.factorize(values)
    texts = [_key_text(value) for value in uniques.tolist()]
    distinct = sorted(set(texts) | {""})
    rank_of = {text: rank for rank, text in enumerate(distinct)}
    # A missing value (code -1) reads as "": the last entry of the lookup is its rank.
    lookup = np.array([rank_of[text] for text in texts] + [rank_of[""]], dtype=np.int64)
    return lookup[codes], distinct


# What checks look at in a group of reads (hit_from_reads and the checks below). A group carries only these
# and its key columns: copying the timeline's other columns for a million reads is most of a check's time.
GROUP_COLUMNS = ("ts", "seq", "category", "api", "value", "sdk_id", "owner", "sdk_frame", "attribution_confidence",
                 "process_key", "background", "consent_state", "consent_confidence")


def group_reads(reads: pd.DataFrame, by: list[str], *, limit: int, where: np.ndarray | None = None,
                columns: tuple[str, ...] = GROUP_COLUMNS) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Reads grouped by `by` (None-safe: a missing value is ""), each group in time order; groups in key
    order. Groups hold `columns` and the `by` columns. `where` (a boolean mask over `reads`) keeps only
    those rows, without copying the rest first."""
    rows = np.flatnonzero(where) if where is not None else np.arange(len(reads))
    if len(rows) == 0:
        return []
    combined = np.zeros(len(rows), dtype=np.int64)
    for name in by:
        ranks, texts = _key_ranks(reads[name].to_numpy(dtype=object)[rows])
        # Re-numbered densely after each column, so the mixed-radix number never overflows and its order is
        # the order of the key tuples.
        codes, uniques = pd.factorize(combined * len(texts) + ranks)
        combined = np.argsort(np.argsort(uniques))[codes]
    ts = reads["ts"].to_numpy(dtype=np.int64)[rows]
    seq = reads["seq"].to_numpy(dtype=np.int64)[rows]
    later = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (seq[1:] >= seq[:-1]))
    if bool(later.all()):
        # Already in time order (the timeline is): a stable sort by group keeps it, and on small integers
        # numpy's stable sort is a radix sort.
        narrow = combined.astype(np.uint16) if combined.max() < 1 << 16 else combined
        order = np.argsort(narrow, kind="stable")
    else:
        order = np.lexsort((seq, ts, combined))  # stable: rows equal in all three keep their order
    kept = list(dict.fromkeys(name for name in (*columns, *by) if name in reads.columns))
    ordered = reads[kept].take(rows[order])
    starts = np.flatnonzero(np.diff(combined[order], prepend=-1))
    ends = np.append(starts[1:], len(order))
    groups = []
    for start, end in zip(starts.tolist(), ends.tolist()):
        group = ordered.iloc[start:end]
        groups.append(({name: _key_text(group[name].iat[0]) for name in by}, group))
    return groups


def hit_from_reads(key: tuple[Any, ...], group: pd.DataFrame, *, confidence: float, limit: int,
                   detail: dict[str, Any] | None = None, evidence_rows: pd.DataFrame | None = None) -> Hit:
    first = group.iloc[0]
    rows = evidence_rows if evidence_rows is not None else group
    values = sorted({str(v) for v in group["value"].head(1000).tolist() if isinstance(v, str) and v})
    return Hit(
        key=key,
        first_ns=int(group["ts"].iloc[0]), last_ns=int(group["ts"].iloc[-1]), count=len(group),
        category=_none(first["category"]), api=_none(first["api"]),
        sdk_id=_none(first["sdk_id"]), owner=_none(first["owner"]) or "unknown", frame=_none(first["sdk_frame"]),
        attribution_confidence=float(group["attribution_confidence"].min()),
        process=_none(first["process_key"]),
        background=bool(group["background"].any()),
        consent_state=str(first["consent_state"]),
        confidence=confidence,
        event_seqs=[int(s) for s in rows["seq"].head(limit).tolist()],
        values=values,
        detail=detail or {},
    )


READ_KEY = ["category", "api", "sdk_id", "owner", "process_key"]


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
    hits.extend(_flow_hits(context, lambda matches: matches["consent_state"].isin(states), ("flow",)))
    return hits


def _flow_hits(context: RuleContext, select: Callable[[pd.DataFrame], pd.Series], key_prefix: tuple[str, ...]) -> list[Hit]:
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
            {"flow_id": str(m.flow_id), "field": _none(m.field), "encoding": _none(m.encoding), "category": _none(m.category),
             "event_seq": None if pd.isna(m.event_seq) else int(m.event_seq), "confidence": _none(m.confidence),
             "detector": _none(m.detector)}
            for m in group.head(limit).itertuples(index=False)
        ]
        # Who sent it: the destination's SDK, else the code that opened the connection, else the code that
        # read the value it carries.
        sender_sdk = _none(first["sender_sdk_id"]) if "sender_sdk_id" in group else None
        sender_owner = _none(first["sender_owner"]) if "sender_owner" in group else None
        sdk_id = _none(first["dest_sdk_id"]) or sender_sdk or _none(first["reader_sdk_id"])
        owner = "sdk" if sdk_id else (sender_owner or _none(first["reader_owner"]) or "unknown")
        sent_by = None
        if sender_owner:
            sent_by = {"connect_seq": int(first["sender_seq"]), "owner": sender_owner, "sdk_id": sender_sdk,
                       "frame": _none(first["sender_frame"]), "gap_ms": round(float(first["sender_gap_ms"]), 3),
                       "window_ms": float(first["sender_window_ms"])}
        hits.append(Hit(
            key=(*key_prefix, str(host), str(category)),
            first_ns=int(group["flow_ts"].min()), last_ns=int(group["flow_ts"].max()), count=len(flow_ids),
            category=str(category), host=str(host), sdk_id=sdk_id, owner=owner,
            frame=(sent_by or {}).get("frame") or _none(first["reader_frame"]),
            attribution_confidence=1.0 if _none(first["dest_sdk_id"]) else (
                float(first["sender_confidence"]) if sent_by else
                float(first["reader_confidence"] if pd.notna(first["reader_confidence"]) else 0.3)),
            process=None, background=bool(group["flow_background"].any()),
            consent_state=str(first["consent_state"]),
            confidence=float(group["consent_confidence"].max()),
            event_seqs=sorted({int(s) for s in group["event_seq"].dropna().tolist()})[:limit],
            flow_ids=flow_ids[:limit],
            matches=match_refs,
            values=sorted({str(v) for v in group["value"].tolist() if isinstance(v, str)}),
            detail={"party": str(first["party"]), "registrable_domain": _none(first["registrable_domain"]),
                    "sent_by": sent_by,
                    "vendor": _none(first["vendor"]),
                    "encodings": sorted({str(e) for e in group["encoding"].tolist() if _none(e)}),
                    "fields": sorted({str(f) for f in group["field"].tolist() if _none(f)})[:limit]},
        ))
    return hits


# ---- the checks -------------------------------------------------------------------------------------

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
        raise SkipRule(context.network_unavailable or "no network matches")
    parties = list(thresholds["parties"])
    return _flow_hits(context, lambda m: m["party"].isin(parties) & (m["consent_state"] != "accepted"), ("transfer",))


@REGISTRY.check("background")
def background(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """PI read while the reading process was in the background."""
    limit = context.settings.max_evidence
    reads = context.reads
    hits = []
    for key, group in group_reads(reads, READ_KEY, limit=limit, where=reads["background"].to_numpy(dtype=bool)):
        hits.append(hit_from_reads(tuple(key.values()), group, confidence=1.0, limit=limit))
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


def _app_types() -> dict[str, AppTypeScope]:
    try:
        from monitor.data.scope_models import load_app_types  # type: ignore[import-not-found]
    except ImportError as exc:
        raise DataFileError("the app-type table (monitor/data/app_types.yaml) is not installed",
                            hint="use --scope FILE instead of --app-type until it is") from exc
    table = load_app_types()
    types = getattr(table, "types", table)
    return {t.id: AppTypeScope(id=t.id, name=f"{t.name_zh} / {t.name_en}", necessary=frozenset(t.necessary)) for t in types}


def resolve_app_type(app_type: str) -> AppTypeScope:
    types = _app_types()
    if app_type in types:
        return types[app_type]
    by_name = {scope.name.split(" / ")[0]: scope for scope in types.values()}
    if app_type in by_name:
        return by_name[app_type]
    raise DataFileError(f"unknown app type {app_type!r}", hint=f"use one of: {', '.join(sorted(types))}")


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


PERMISSION_RESULTS = {"granted": "granted", "0": "granted", "denied": "denied", "-1": "denied"}


def _permission_events(context: RuleContext) -> list[tuple[int, int, str, str | None, str, str]]:
    """(ts, seq, permission, "granted"|"denied" or None for a request, api, consent_state) for every
    permission event (payload {permission, result} or {permissions: [...], results: [...]})."""
    events = context.timeline[context.timeline["kind"] == "permission"]
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
            normal = PERMISSION_RESULTS.get(str(result).casefold()) if result is not None else None
            out.append((int(ts), int(seq), str(name), normal, str(api or ""), str(state)))
    return out


@REGISTRY.check("permission_rerequest", defaults={"min_hours_after_denial": 48})
def permission_rerequest(context: RuleContext, thresholds: dict[str, Any]) -> list[Hit]:
    """A permission asked for again less than `min_hours_after_denial` after the user last denied it. A
    result with no request seen before it still proves a request (the request hook may be missing)."""
    quiet_ns = int(float(thresholds["min_hours_after_denial"]) * 3600 * 1_000_000_000)
    by_permission: dict[str, list[tuple[int, int, str | None, str, str]]] = {}
    for ts, seq, name, result, api, state in sorted(_permission_events(context)):
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


ALARM_OR_JOB_APIS = ("android.app.AlarmManager.", "android.app.job.JobScheduler.", "androidx.work.")


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
    scheduling = events["api"].fillna("").str.startswith(ALARM_OR_JOB_APIS)
    before = events["consent_state"].isin(UNDECIDED + ("refused",))
    own_rule = scheduling & before if thresholds["own_package_only_before_consent"] else scheduling
    keep = (~own) | (own & own_rule)
    chosen = events[keep].assign(target=targets[keep].fillna("").astype(str))
    limit = context.settings.max_evidence
    hits = []
    for key, group in group_reads(chosen, ["api", "target", "sdk_id", "owner"], limit=limit):
        hit = hit_from_reads(("start", *key.values()), group, confidence=float(group["consent_confidence"].max()) if key["target"] in ("", context.app_package) else 1.0,
                             limit=limit, detail={"target_package": key["target"] or None,
                                                  "kind": "alarm/job" if key["api"].startswith(ALARM_OR_JOB_APIS) else "component"})
        hit.category = "app_start"
        hits.append(hit)
    return hits


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
