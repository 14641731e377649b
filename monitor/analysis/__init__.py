"""Analysis: a run directory in, findings out. Never talks to a device; re-runnable years later.

Steps (each a pure DataFrame → DataFrame function that copies its input, see its module):
  timeline.build_timeline      one clock, process keys
  timeline.mark_background     per-process foreground/background
  consent.mark_consent         the consent state in force at each event
  attribution.attribute_events app / SDK / unknown code behind each read
  matching.match_run           PI values found in flows (another module), joined to destination parties
  rules.REGISTRY.run           rules.yaml × registered checks → findings
  cases.build_cases            findings grouped as a notice states them: rule × subject (app, SDK, unknown code)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.analysis.attribution import Attributor, attribute_events
from monitor.analysis.cases import build_cases
from monitor.analysis.consent import consent_history, mark_consent
from monitor.analysis.declared import declared_for_run, declared_vs_observed, scope_for_rules
from monitor.analysis.findings import Findings, write_findings
from monitor.analysis.coverage import tls_failures, unseen_connections
from monitor.analysis.senders import SENDER_COLUMNS, flow_senders
from monitor.analysis.engine import REGISTRY, AppTypeScope, Reason, RuleContext, resolve_app_type
import monitor.analysis.checks  # noqa: F401,E402 - registers every check with REGISTRY
from monitor.analysis.timeline import background_intervals, build_timeline, mark_background
from monitor.data import RULES_FILE, load_attribution, load_catalogue, load_consent_words, load_rules, load_scope, load_sdks
from monitor.data.rule_models import ScopeFile
from monitor.data.yamlfile import read_yaml
from monitor.errors import DataFileError
from monitor.scan import scan_from_run_info
from monitor.store.reader import Run, read_run

__all__ = ["analyze_run", "analyze", "write_findings", "Findings", "prepare_flow_matches"]

FLOW_MATCH_COLUMNS = ["flow_id", "event_seq", "category", "value", "field", "encoding", "offset", "confidence", "detector",
                      "flow_ts", "host", "consent_state", "consent_confidence", "flow_background", "party",
                      "registrable_domain", "dest_sdk_id", "vendor", "reader_sdk_id", "reader_owner", "reader_frame",
                      "reader_confidence", *SENDER_COLUMNS[1:]]


def _check_scope(scope: ScopeFile, path: Path) -> None:
    """A category the catalogue never reports would silently make every read 'beyond scope': refuse it."""
    known = set(load_catalogue().categories())
    _, index = read_yaml(path)
    problems = []
    for position, category in enumerate(scope.app):
        if category not in known:
            problems.append(f"{path}:{index.get(('app', position), '?')}: app: unknown PI category {category!r}")
    for sdk_id, categories in scope.sdks.items():
        for position, category in enumerate(categories):
            if category not in known:
                problems.append(f"{path}:{index.get(('sdks', sdk_id, position), '?')}: sdks.{sdk_id}: unknown PI category {category!r}")
    sdk_ids = {sdk.id for sdk in load_sdks().sdks}
    for sdk_id in scope.sdks:
        if sdk_id not in sdk_ids:
            problems.append(f"{path}:{index.get(('sdks', sdk_id), '?')}: sdks: unknown SDK id {sdk_id!r}")
    if problems:
        raise DataFileError("\n".join(problems), hint=f"PI categories are: {', '.join(sorted(known))}; SDK ids are those of monitor/data/sdks.yaml")


def prepare_flow_matches(timeline: pd.DataFrame, matches: pd.DataFrame, *, app_package: str | None,
                         first_party_domains: tuple[str, ...], classify: Any = None,
                         senders: pd.DataFrame | None = None, moments: Any = None) -> pd.DataFrame:
    """Join value matches (monitor.analysis.matching COLUMNS) to their flow and its destination.

    Keeps only matches of a value a hook read (confidence "exact"): a shape alone (pattern) does not prove
    the app read PI. Adds: flow_ts, host, consent_state, consent_confidence, flow_background (the flow's
    moment), party, registrable_domain, dest_sdk_id, vendor (classify_host), reader_sdk_id, reader_owner,
    reader_frame, reader_confidence (the attribution of the read whose value was sent), and the sender
    columns of monitor.analysis.senders (the code that opened the connection; NaN/None when unknown).

    A part sent at its own moment (a WebSocket message: the match's part_ts) is judged then, not at the
    handshake: flow_ts is its time, and `moments` (a frame of ts and process_key → the same frame with
    consent_state, consent_confidence, background) gives its consent state and background.
    """
    if classify is None:
        from monitor.analysis.destinations import classify_host as classify
    exact = matches[matches["confidence"] == "exact"].copy()
    flows = timeline.loc[(timeline["source"] == "net") & (timeline["kind"] == "flow"),
                         ["flow_id", "ts", "payload", "consent_state", "consent_confidence", "background", "process_key"]]
    hosts = pd.Series([str(p.get("host") or "") if isinstance(p, dict) else "" for p in flows["payload"].tolist()],
                      index=flows.index, dtype=object)
    flow_table = pd.DataFrame({"flow_id": flows["flow_id"].astype(str), "flow_ts": flows["ts"], "host": hosts,
                               "consent_state": flows["consent_state"], "consent_confidence": flows["consent_confidence"],
                               "flow_background": flows["background"], "process_key": flows["process_key"]}
                              ).drop_duplicates("flow_id")
    exact["flow_id"] = exact["flow_id"].astype(str)
    joined = exact.merge(flow_table, on="flow_id", how="inner")
    if moments is not None and "part_ts" in joined.columns and joined["part_ts"].notna().any():
        own = joined["part_ts"].notna().to_numpy(dtype=bool)
        at = moments(pd.DataFrame({"ts": joined.loc[own, "part_ts"].astype("int64").to_numpy(),
                                   "process_key": joined.loc[own, "process_key"].to_numpy()}))
        joined["flow_ts"] = joined["flow_ts"].astype("int64")
        joined.loc[own, "flow_ts"] = at["ts"].to_numpy()
        joined.loc[own, "consent_state"] = at["consent_state"].to_numpy()
        joined.loc[own, "consent_confidence"] = at["consent_confidence"].to_numpy()
        joined.loc[own, "flow_background"] = at["background"].to_numpy()
    destinations = {host: classify(host, first_party_domains=first_party_domains, app_package=app_package)
                    for host in sorted(set(joined["host"]))}
    join_hosts = [destinations[host] for host in joined["host"].tolist()]
    for column in ("party", "registrable_domain", "sdk_id", "vendor"):
        joined["dest_sdk_id" if column == "sdk_id" else column] = pd.Series(
            [getattr(destination, column) for destination in join_hosts], index=joined.index, dtype=object)
    # The read behind each match, by seq, looked up once among the PI reads (not copied out of the timeline).
    pi_rows = np.flatnonzero(timeline["is_pi"].to_numpy(dtype=bool))
    seqs = joined["event_seq"].astype("Int64")
    at = np.full(len(joined), -1, dtype=np.int64)
    known = seqs.notna().to_numpy(dtype=bool)
    at[known] = pd.Index(timeline["seq"].to_numpy(dtype=np.int64)[pi_rows]).get_indexer(seqs[known].to_numpy(dtype=np.int64))
    found = at >= 0
    rows = pi_rows[at[found]]
    for column, source in (("reader_sdk_id", "sdk_id"), ("reader_owner", "owner"), ("reader_frame", "sdk_frame"),
                           ("reader_confidence", "attribution_confidence")):
        joined[column] = None
        joined.loc[found, column] = timeline[source].to_numpy()[rows]
    if senders is None or senders.empty:
        senders = pd.DataFrame({name: pd.Series(dtype=object) for name in SENDER_COLUMNS})
    joined = joined.merge(senders.astype({"flow_id": str}), on="flow_id", how="left")
    return joined[FLOW_MATCH_COLUMNS]


def _network(run: Run, timeline: pd.DataFrame, *, app_package: str | None, first_party: tuple[str, ...],
             matches: pd.DataFrame | None, senders: pd.DataFrame | None = None,
             moments: Any = None) -> tuple[pd.DataFrame | None, Reason | None]:
    if matches is None:
        try:
            from monitor.analysis.matching import match_run
        except ImportError as exc:
            return None, Reason.of("matching_unavailable", error=exc)
        matches = match_run(run)
    return prepare_flow_matches(timeline, matches, app_package=app_package, first_party_domains=first_party,
                                senders=senders, moments=moments), None


def analyze(run: Run, *, scope: Path | None = None, app_type: str | AppTypeScope | None = None, rules: Path | None = None,
            consent_at: int | None = None, matches: pd.DataFrame | None = None) -> Findings:
    """Findings for a loaded run. `matches` replaces network matching (tests, or matches computed already)."""
    rules_path = Path(rules) if rules else RULES_FILE
    ruleset = load_rules(rules_path)
    REGISTRY.validate(ruleset, rules_path)
    settings = ruleset.settings
    app = run.info.get("app") if isinstance(run.info.get("app"), dict) else {}
    app_package = app.get("package")
    first_party = tuple(app.get("domains") or ())
    scope_file = load_scope(scope) if scope else None
    if scope_file is not None and scope is not None:
        _check_scope(scope_file, Path(scope))
    app_type_scope = resolve_app_type(app_type) if isinstance(app_type, str) else app_type
    sdks = load_sdks()
    # The scope the user agreed to: a --scope file when given, else the privacy policy the run captured.
    declared, scope_note = declared_for_run(Path(run.root))
    scope_origin = "file" if scope_file is not None else None
    if scope_file is None and declared is not None and (declared.sdks or declared.app_pi):
        scope_file = scope_for_rules(declared, sdks)
        scope_origin = "policy"

    timeline = build_timeline(run.events)
    intervals = background_intervals(timeline, grace_ns=int(settings.background_grace_s * 1e9), home_steps=settings.home_steps)
    timeline = mark_background(timeline, intervals)
    consent = consent_history(timeline, words=load_consent_words(), settings=settings, consent_at=consent_at)
    timeline = mark_consent(timeline, consent)
    attribution_table = load_attribution()
    attributor = Attributor(sdks=sdks, table=attribution_table, app_package=app_package)
    timeline = attribute_events(timeline, attributor, kinds=("pi_read", "app_start", "connect", "tls_failed"))
    sender_window_ns = int(attribution_table.flow_sender_window_s * 1e9)
    senders = flow_senders(timeline, window_ns=sender_window_ns)

    def moments(frame: pd.DataFrame) -> pd.DataFrame:
        # The same background and consent marking as the timeline's, for moments that are not events.
        return mark_consent(mark_background(frame.assign(kind="flow"), intervals), consent)

    flow_matches, unavailable = _network(run, timeline, app_package=app_package, first_party=first_party, matches=matches,
                                         senders=senders, moments=moments)

    apk_scan = scan_from_run_info(run.info)
    context = RuleContext(timeline=timeline, consent=consent, run_info=run.info, settings=settings, attributor=attributor,
                          sdks=sdks, app_package=app_package, first_party_domains=first_party, scope=scope_file,
                          app_type=app_type_scope, flow_matches=flow_matches, network_unavailable=unavailable,
                          declared=declared, scope_note=scope_note, apk_scan=apk_scan)
    found, skipped = REGISTRY.run(ruleset, context)
    summary: dict[str, Any] = {
        "total": len(found),
        "by_rule": {spec.id: sum(1 for f in found if f.rule == spec.id) for spec in ruleset.rules if spec.id not in skipped},
        "by_severity": {level: sum(1 for f in found if f.severity == level) for level in ("high", "medium", "low", "info")},
        # Why each rule was not judged: the English text, and the message code a report says it with.
        "skipped": {rule: reason.text for rule, reason in skipped.items()},
        "skipped_codes": {rule: reason.as_json() for rule, reason in skipped.items()},
        "events": int(len(timeline)),
        "pi_reads": int(timeline["is_pi"].sum()),
        # Reads with nothing but the runtime on the stack: shown, never judged as the app's.
        "platform_reads": int((timeline["is_pi"] & (timeline["owner"] == "platform")).sum()),
        "flows": int(((timeline["source"] == "net") & (timeline["kind"] == "flow")).sum()),
        "flows_with_pi": int(flow_matches["flow_id"].nunique()) if flow_matches is not None else None,
        "network": "matched" if flow_matches is not None else unavailable.text if unavailable else None,
        "background_intervals": int(len(intervals)),
        # Where the traffic evidence ends: sockets the app opened around the proxy (analysis/coverage.py).
        "unseen_connections": unseen_connections(timeline, run.info),
        # TLS the proxy could not open (pinning, untrusted servers): nothing of it was decrypted.
        "tls_failures": tls_failures(timeline, window_ns=sender_window_ns),
        # What the APK carries, the policy names and the run saw, side by side (per SDK and per permission).
        "declared_vs_observed": declared_vs_observed(timeline, flow_matches, declared, apk_scan, sdks, load_catalogue()),
        # Where the agreed scope came from, said in one line when there is none (never a silent skip).
        "scope": {"origin": scope_origin, "note": scope_note.text if scope_note else None,
                  "note_code": scope_note.as_json() if scope_note else None,
                  "documents": [d.url or d.source for d in declared.documents] if declared else [],
                  "sdk_list_rows": len(declared.sdks) if declared else 0,
                  "app_pi": sorted({item.category for item in declared.app_pi}) if declared else [],
                  "warnings": list(declared.warnings) if declared else []},
        "knowledge": {"rules": ruleset.version, "sdks": sdks.version, "attribution": load_attribution().version,
                      "scope": str(scope_file.source) if scope_file and scope_file.source else None,
                      "app_type": app_type_scope.id if app_type_scope else None},
    }
    cases = build_cases(found, sdks=sdks, app_package=app_package)
    return Findings(run=dict(run.info), consent=consent.to_dict(), findings=found, summary=summary, cases=cases)


def analyze_run(run_root: Path, *, scope: Path | None = None, app_type: str | None = None, rules: Path | None = None,
                consent_at: int | None = None) -> Findings:
    """Read a run directory and judge it. Raises MonitorError subclasses (file, line and fix) on bad input."""
    return analyze(read_run(Path(run_root)), scope=scope, app_type=app_type, rules=rules, consent_at=consent_at)
