"""What every report format renders, assembled once from an analysed run directory.

`load_report` reads the run (monitor.store.reader) and its findings.json, and gathers for each case the
evidence a reader opens: the reads (value, thread, Java stack with each frame marked app / SDK / platform
/ other), the flows (an excerpt of the request with the value highlighted, and the encoding it was found
in), and the screenshot nearest in time. It also lays out the timeline (reads and flows by subject, the
consent moment, background spans) and the run facts. Everything is plain JSON-like data: with --redact the
whole tree goes through one Redactor, so no format can show a value the others mask.

Evidence is capped per case (MAX_READS, MAX_FLOWS, EXCERPT_CHARS) so a run of a million events still
gives a report a browser opens quickly; counts always cover everything.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.analysis.attribution import Attributor, attribute_events
from monitor.analysis.cases import build_cases
from monitor.analysis.destinations import classify_host
from monitor.analysis.findings import Findings, read_findings
from monitor.analysis.timeline import background_intervals, build_timeline
from monitor.data import load_attribution, load_data, load_rules, load_sdks
from monitor.data.messages import Messages, messages
from monitor.errors import RunDirError
from monitor.report.redact import Redactor, value_forms
from monitor.store import FINDINGS_FILE
from monitor.store.files import read_screen, screen_files
from monitor.store.manifest import Problem, check_run, read_manifest, sha256_file
from monitor.store.reader import Run, read_run

MAX_READS = 10
MAX_FLOWS = 5
EXCERPT_CHARS = 1600
MAX_POINTS_PER_SERIES = 1000


def iso(ns: int | None) -> str:
    if ns is None:
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Screen:
    path: str                 # relative to the run directory: screens/003-consent-before.png
    ts: int | None
    seq: int | None
    exists: bool
    data_uri: str | None = None
    rank: int = 1             # within one event: a screenshot_before (0) precedes the step, a *_after (2) follows it


@dataclass
class ReportData:
    run_dir: Path
    lang: str
    text: Messages
    info: dict[str, Any]
    findings: dict[str, Any]          # findings.json as JSON (cases included)
    cases: list[dict[str, Any]]       # each case with an "evidence" dict (reads, flows, screenshot)
    summary: dict[str, Any]
    consent: dict[str, Any]
    facts: list[tuple[str, str]]      # run facts: (message key, value)
    timeline: dict[str, Any]
    screens: list[Screen]
    integrity: list[str]              # what `consentmon verify` finds, in its English
    sealed: bool
    warnings: list[str] = field(default_factory=list)
    redacted: bool = False
    generated: str = ""
    reads_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=READ_COLUMNS))
    flows_table: list[dict[str, Any]] = field(default_factory=list)
    sdk_table: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[tuple[str, str]] = field(default_factory=list)   # (file, SHA-256) from manifest.json, then findings.json
    chain_head: str | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)   # rules not judged: rule, title, why (report language)
    scope_line: str = ""              # where the agreed scope came from, in one line
    finding_by: dict[str, str] = field(default_factory=dict)   # finding id → who did it, in the report's language
    consent_shown: dict[str, Any] = field(default_factory=dict)   # the consent history in the report's language
    coverage: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # where the traffic evidence ends: unseen, tls
    integrity_shown: list[str] = field(default_factory=list)   # the same problems in the report's language


def _values_of(event: dict[str, Any]) -> list[str]:
    payload = event.get("payload")
    values = []
    if isinstance(payload, dict) and isinstance(payload.get("items"), list):
        values += [str(item) for item in payload["items"] if item is not None]
    if isinstance(payload, dict) and isinstance(payload.get("fields"), dict):
        values += [str(item) for item in payload["fields"].values() if item is not None]
    if event.get("value") is not None:
        values.append(str(event["value"]))
    return values


def _frame_marks(stack: list[str] | None, attributor: Attributor, names: dict[str, str]) -> list[dict[str, Any]]:
    marked = []
    for frame in stack or []:
        who = attributor.attribute([frame])
        owner = who.owner if who.frame is not None or who.owner == "platform" else "unknown"
        marked.append({"frame": frame, "owner": owner, "sdk": names.get(who.sdk_id or "", "") if who.sdk_id else ""})
    return marked


def _excerpt(flow: dict[str, Any], values: list[tuple[str, str | None]]) -> dict[str, Any]:
    """The request as text (request line, headers, body), cut around the first value found in it, as segments
    [{text, hit, encoding}] so a renderer can highlight the hits."""
    request = flow.get("request") or {}
    headers = "\n".join(f"{name}: {value}" for name, value in (request.get("headers") or []))
    body = request.get("body") or ""
    if request.get("body_encoding") not in (None, "utf-8"):
        body = f"[{request.get('body_encoding')}] {body}"
    text = f"{flow.get('method', '')} {flow.get('url', '')}\n{headers}\n\n{body}"
    forms: dict[str, str] = {}
    for value, _ in values:
        for form, encoding in value_forms(value):
            if len(form) >= 4:
                forms.setdefault(form, encoding)
    hits: list[tuple[int, int, str]] = []
    for form in sorted(forms, key=len, reverse=True):
        start = text.find(form)
        while start >= 0:
            if not any(s < start + len(form) and start < e for s, e, _ in hits):
                hits.append((start, start + len(form), forms[form]))
            start = text.find(form, start + 1)
    hits.sort()
    first = hits[0][0] if hits else 0
    window_start = max(0, min(first - EXCERPT_CHARS // 3, len(text) - EXCERPT_CHARS))
    window_end = min(len(text), window_start + EXCERPT_CHARS)
    segments: list[dict[str, Any]] = []
    position = window_start
    for start, end, encoding in hits:
        if start < window_start or end > window_end:
            continue
        if start > position:
            segments.append({"text": text[position:start], "hit": False, "encoding": None})
        segments.append({"text": text[start:end], "hit": True, "encoding": encoding})
        position = end
    if position < window_end:
        segments.append({"text": text[position:window_end], "hit": False, "encoding": None})
    return {"segments": segments, "cut_before": window_start > 0, "cut_after": window_end < len(text),
            "hits": len(hits)}


def _screens(run: Run, warnings: list[str], *, embed: bool) -> list[Screen]:
    screens: dict[str, Screen] = {}
    events = run.events
    if len(events) and "payload" in events.columns:
        # Screenshots are taken by the scenario (marks) or the device layer, never by hooks or the proxy.
        events = events[~events["source"].isin(["hook", "net"])]
        for seq, ts, payload in zip(events["seq"].tolist(), events["ts"].tolist(), events["payload"].tolist()):
            if not isinstance(payload, dict):
                continue
            for key, item in payload.items():
                if key.startswith("screenshot") and isinstance(item, str) and item.endswith(".png") and item not in screens:
                    exists = read_screen(run.root, item) is not None
                    rank = 0 if key.endswith("_before") else 2 if key.endswith("_after") else 1
                    screens[item] = Screen(path=item, ts=int(ts), seq=int(seq), exists=exists, rank=rank)
                    if not exists:
                        warnings.append(f"missing_screenshot|{run.root / item}|{seq}")
    for relative in screen_files(run.root):
        screens.setdefault(relative, Screen(path=relative, ts=None, seq=None, exists=True))
    if embed:
        for screen in screens.values():
            data = read_screen(run.root, screen.path) if screen.exists else None
            if data is not None:
                screen.data_uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return sorted(screens.values(), key=lambda s: (s.ts is None, s.ts or 0, s.rank, s.path))


def _nearest(screens: list[Screen], ns: int) -> Screen | None:
    timed = [s for s in screens if s.exists and s.ts is not None]
    # Equal distance (both shots of one step): the one taken before the step shows what the user saw.
    return min(timed, key=lambda s: (abs((s.ts or 0) - ns), s.rank)) if timed else None


class _Events:
    """Events by seq, read one row at a time: a report needs a few hundred of a million."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.index = pd.Index(frame["seq"].to_numpy(dtype=np.int64)) if len(frame) else pd.Index([], dtype=np.int64)

    def get(self, seq: int | None) -> dict[str, Any] | None:
        if seq is None or not len(self.frame):
            return None
        position = int(self.index.get_indexer([int(seq)])[0])
        return None if position < 0 else self.frame.iloc[position].to_dict()


def iso_column(ts: pd.Series) -> np.ndarray:
    """ISO times of a whole column in one C call (a million in well under a second): 2026-12-06T00:45:26.828Z."""
    stamps = ts.to_numpy(dtype=np.int64).astype("datetime64[ns]")
    return np.datetime_as_string(stamps, unit="ms", timezone="UTC").astype(object)


READ_COLUMNS = ["seq", "time", "process", "thread", "api", "category", "value", "subject", "sdk_id", "group", "owner", "frame"]


def _reads_table(timeline: pd.DataFrame, sdks: Any, names: dict[str, str], text: Messages) -> pd.DataFrame:
    """Every PI read, one row each (the workbook's detail sheet), built column-wise."""
    reads = timeline[timeline["is_pi"]]
    if not len(reads):
        return pd.DataFrame(columns=READ_COLUMNS)
    sdk_ids = reads["sdk_id"].astype(object)
    group_of = {sdk.id: sdk.group or sdk.id for sdk in sdks.sdks}
    groups = sdk_ids.map(group_of).fillna(sdk_ids).fillna("").astype(object)
    app_label, unknown_label = text("subject.kind.app"), text("subject.kind.unknown")
    owner = reads["owner"].astype(object)
    subject = groups.map(lambda group: names.get(group, group) if group else "")
    subject = subject.where(subject != "", np.where(owner.to_numpy() == "app", app_label, unknown_label))
    return pd.DataFrame({
        "seq": reads["seq"].to_numpy(dtype=np.int64), "time": iso_column(reads["ts"]),
        "process": reads["process"].to_numpy(dtype=object), "thread": reads["thread"].to_numpy(dtype=object),
        "api": reads["api"].to_numpy(dtype=object), "category": reads["category"].to_numpy(dtype=object),
        "value": reads["value"].to_numpy(dtype=object), "subject": subject.to_numpy(dtype=object),
        "sdk_id": sdk_ids.fillna("").to_numpy(dtype=object), "group": groups.to_numpy(dtype=object),
        "owner": owner.to_numpy(dtype=object), "frame": reads["sdk_frame"].fillna("").to_numpy(dtype=object)})


def _subject_labels(text: Messages) -> dict[str, str]:
    labels = {}
    for sdk in load_sdks().sdks:
        name = sdk.name.zh if text.lang == "zh" and sdk.name.zh else sdk.name.en
        labels[sdk.id] = name
    return labels


def _sample(positions: np.ndarray) -> np.ndarray:
    if len(positions) <= MAX_POINTS_PER_SERIES:
        return positions
    return positions[np.linspace(0, len(positions) - 1, MAX_POINTS_PER_SERIES).astype(int)]


def _timeline(timeline: pd.DataFrame, reads: pd.DataFrame, intervals: pd.DataFrame, consent: dict[str, Any],
              info: dict[str, Any], text: Messages, subject_of, app_package: str | None) -> dict[str, Any]:
    """Series for the plot: reads and flows by subject (points capped per series, evenly sampled; the count is
    all of them), the consent moment, background spans, and the scenario marks. Hover texts are made for the
    sampled points only."""
    series: list[dict[str, Any]] = []
    sampled = False
    judged = reads[reads["owner"] != "platform"] if len(reads) else reads
    if len(judged):
        codes, subjects = pd.factorize(judged["subject"].to_numpy(dtype=object))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(subjects) + 1))
        for index, who in enumerate(subjects):
            positions = order[bounds[index]:bounds[index + 1]]
            chosen = _sample(positions)
            sampled = sampled or len(chosen) < len(positions)
            rows = judged.iloc[chosen]
            texts = [f"#{seq} {label(text, 'category.', category)}: {'.'.join(str(api).rsplit('.', 2)[-2:])} = "
                     f"{'' if value is None else str(value)[:60]}"
                     for seq, category, api, value in zip(rows["seq"], rows["category"], rows["api"], rows["value"])]
            series.append({"kind": "read", "subject": str(who), "x": rows["time"].tolist(), "text": texts, "count": int(len(positions))})
    flows = timeline[(timeline["source"] == "net") & (timeline["kind"] == "flow")]
    if len(flows):
        payloads = flows["payload"].tolist()
        hosts = np.array([str(p.get("host") or "") if isinstance(p, dict) else "" for p in payloads], dtype=object)
        first_party = tuple(_dict(info.get("app")).get("domains") or ())
        labels: dict[str, str] = {}
        for host in set(hosts.tolist()):
            destination = classify_host(host, first_party_domains=first_party, app_package=app_package)
            if destination.sdk_id:
                labels[host] = subject_of(destination.sdk_id, "sdk")
            elif destination.party == "first":
                labels[host] = subject_of(None, "app")
            else:
                labels[host] = text("timeline.other_destinations")
        who_of = np.array([labels[host] for host in hosts.tolist()], dtype=object)
        times = iso_column(flows["ts"])
        seqs = flows["seq"].to_numpy(dtype=np.int64)
        for who in sorted(set(who_of.tolist())):
            positions = np.flatnonzero(who_of == who)
            chosen = _sample(positions)
            sampled = sampled or len(chosen) < len(positions)
            texts = [f"#{seqs[i]} {payloads[i].get('method', '')} {str(payloads[i].get('url', ''))[:100]}" for i in chosen]
            series.append({"kind": "flow", "subject": who, "x": times[chosen].tolist(), "text": texts, "count": int(len(positions))})
    series.sort(key=lambda item: (item["subject"], item["kind"]))
    marks = timeline[timeline["source"] == "scenario"]
    start = int(timeline["ts"].min()) if len(timeline) else 0
    end = int(timeline["ts"].max()) if len(timeline) else 0
    spans = [{"start": int(s), "end": min(int(e), end)} for s, e in zip(intervals["start"].tolist(), intervals["end"].tolist())]
    return {
        "series": series,
        "consent": iso(consent.get("consent_ns")) if consent.get("consent_ns") else None,
        "consent_state": consent.get("final_state"),
        "background": [{"start": iso(span["start"]), "end": iso(span["end"])} for span in spans],
        "marks": [{"x": iso(int(ts)), "text": str(api)} for ts, api in zip(marks["ts"].tolist(), marks["api"].tolist())],
        "start": iso(start), "end": iso(end), "sampled": sampled,
    }


def _declared_vs_observed(sdk_table: list[dict[str, Any]], summary: dict[str, Any], names: dict[str, str], sdks: Any) -> None:
    """Adds to each SDK row what the privacy policy's SDK list declares for it (when a policy was read in the
    run: summary.declared_vs_observed), and a row for each declared SDK that was not seen at all."""
    compared = _dict(summary.get("declared_vs_observed"))
    if not _dict(compared.get("sources")).get("policy"):
        return
    rows = {str(row.get("sdk")): row for row in compared.get("sdks") or [] if isinstance(row, dict) and row.get("sdk")}
    known = {row["id"] for row in sdk_table}
    table = {sdk.id: sdk for sdk in sdks.sdks}
    for sdk_id in sorted(set(rows) - known):
        sdk = table.get(sdk_id)
        sdk_table.append({"id": sdk_id, "name": names.get(sdk_id, sdk_id), "vendor": sdk.vendor if sdk else "",
                          "kind": sdk.kind if sdk else "", "modules": "", "reads": 0, "categories": "", "hosts": "", "cases": 0})
    for row in sdk_table:
        declared = rows.get(row["id"])
        row["policy"] = None if declared is None else {
            "in_policy": declared.get("in_policy"), "policy_row": declared.get("policy_row"),
            "declared_pi": list(declared.get("declared_pi") or []), "read_pi": list(declared.get("read_pi") or []),
            "sent_pi": list(declared.get("sent_pi") or []), "connected": declared.get("connected"),
            "undeclared_pi": sorted(set(declared.get("read_pi") or []) - set(declared.get("declared_pi") or []))}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def coded_text(text: Messages, prefix: str, coded: Any, english: str) -> str:
    """A text findings.json keeps as a message code ({"code", "params"}: <prefix><code> in messages.yaml) in the
    report's language. A findings file written before codes existed has only the English: a text that is such a
    message's whole English is said in the report's language too, any other stays as written."""
    if not isinstance(coded, dict):
        catalogue = text.catalogue.messages
        coded = next(({"code": key.removeprefix(prefix), "params": {}} for key, texts in catalogue.items()
                      if key.startswith(prefix) and texts["en"] == english), None)
    if coded is None or not text.has(f"{prefix}{coded.get('code')}"):
        return english
    try:
        return text(f"{prefix}{coded['code']}", **_dict(coded.get("params")))
    except (KeyError, IndexError):   # parameters of another version of the message
        return english


def label(text: Messages, prefix: str, name: Any) -> str:
    """A token findings.json names (a consent state, a signal) as the report says it: <prefix><name>, else as is."""
    return text(f"{prefix}{name}") if isinstance(name, str) and text.has(f"{prefix}{name}") else str(name or "")


def reason_text(text: Messages, reason: Any, english: str) -> str:
    """Why a rule was not judged (summary.skipped_codes: reason.<code>), in the report's language."""
    return coded_text(text, "reason.", reason, english)


def _consent(consent: dict[str, Any], text: Messages) -> dict[str, Any]:
    """The consent history as the report shows it: each change's state, the signal that decided it and what
    was seen (consent.changes[].detail_codes: consent.detail.<code>), in the report's language."""
    def via(name: Any) -> str:
        return label(text, "consent.via.", name)

    def detail(change: dict[str, Any]) -> str:
        parts = change.get("detail_codes")
        if not isinstance(parts, list) or not parts:
            return coded_text(text, "consent.detail.", None, str(change.get("detail") or ""))
        return text("list.semi").join(
            coded_text(text, "consent.detail.", {**part, "params": {name: via(value) if name == "via" else value
                                                                     for name, value in _dict(part.get("params")).items()}},
                       "") for part in parts if isinstance(part, dict)) or str(change.get("detail") or "")

    return {"decided_by": via(consent.get("decided_by")), "final_state": label(text, "consent.", consent.get("final_state")),
            "changes": [{"time": change.get("time"), "via": via(change.get("via")), "detail": detail(change),
                         "state": label(text, "consent.", change.get("state"))}
                        for change in consent.get("changes") or [] if isinstance(change, dict)]}


def _scope_line(summary: dict[str, Any], text: Messages) -> str:
    """Where the agreed scope came from: the policy captured in the run, the tester's file, or nothing."""
    scope = _dict(summary.get("scope"))
    if scope.get("origin") == "policy":
        return text("scope.from_policy", documents=len(scope.get("documents") or []), rows=scope.get("sdk_list_rows") or 0)
    if scope.get("origin") == "file":
        return text("scope.from_file")
    # A policy captured but unreadable says why; no policy at all says what that leaves unchecked and the fix.
    note = _dict(scope.get("note_code"))
    return text("scope.none") if note.get("code") in (None, "no_policy") else reason_text(text, note, str(scope.get("note") or ""))


def _skipped(summary: dict[str, Any], text: Messages, titles: dict[str, str]) -> list[dict[str, str]]:
    codes = _dict(summary.get("skipped_codes"))
    return [{"rule": str(rule), "title": titles.get(str(rule)) or str(rule), "why": reason_text(text, codes.get(rule), str(why))}
            for rule, why in _dict(summary.get("skipped")).items()]


# Which side refused a TLS handshake (summary.tls_failures side), as the report says it.
TLS_SIDES = {"client": "coverage.refused_app", "client-closed-after-handshake": "coverage.closed_after_handshake",
             "app-pin-check": "coverage.pin_check_failed"}


def _coverage(summary: dict[str, Any], text: Messages, who: Callable[[Any], str]) -> dict[str, list[dict[str, Any]]]:
    """The connections the proxy did not see and the TLS it could not open, each row in the report's language:
    what a port likely carried and what that means (monitor/data/protocols.yaml, kept in findings.json in
    English and Chinese), who opened it and who refused a handshake, the consent state then."""
    def localized(item: dict[str, Any], key: str) -> Any:
        return (item.get(f"{key}_{text.lang}") if text.lang != "en" else None) or item.get(key)

    unseen = [{"host": item.get("host") or "", "port": item.get("port"), "transport": item.get("transport") or "",
               "likely": localized(item, "likely_protocol") or "",
               "note": localized(item, "note") or (text("coverage.unknown_port") if item.get("port") is not None else ""),
               "opened_by": who(item.get("opened_by")), "first_seen": item.get("first_seen") or "",
               "consent": label(text, "consent.", item.get("consent_state_at_first"))}
              for item in summary.get("unseen_connections") or [] if isinstance(item, dict)]
    tls = [{"host": item.get("host") or item.get("sni") or "", "port": item.get("port"),
            "refused_by": text(TLS_SIDES.get(str(item.get("side")), "coverage.refused_server")),
            "opened_by": who(item.get("opened_by")), "first_seen": item.get("first_seen") or "",
            "consent": label(text, "consent.", item.get("consent_state_at_first"))}
           for item in summary.get("tls_failures") or [] if isinstance(item, dict)]
    return {"unseen": unseen, "tls": tls}


def integrity_text(text: Messages, problem: Problem) -> str:
    """One problem `verify_run` found (integrity.problem.<code>), in the report's language; its English as is
    when the catalogue lacks the code."""
    own = Problem(problem.code, problem.params)            # without where a broken chain changed
    shown = coded_text(text, "integrity.problem.", own.as_json(), own.text)
    if problem.detail is None:
        return shown
    return text("list.semi").join((shown, coded_text(text, "integrity.problem.", problem.detail.as_json(), problem.detail.text)))


# The device clock's method as run.json writes it (clock.method: the adb command monitor/device/clock.py runs)
# → its message code (clock.method.<code>), for runs whose clock has no method_code.
CLOCK_METHODS = {"date +%s%N": "date_ns", "date +%s": "date_s"}


def _clock(clock: dict[str, Any], text: Messages) -> str:
    """The clock offset fact: offset ± uncertainty, how it was read and the drift over the run, in the report's
    language. A device run keeps its measurements under device_offset_start/_end; a host run has one."""
    measured = _dict(clock.get("device_offset_start")) or clock

    def coded(prefix: str, code: Any, english: Any) -> str:
        if not english and not code:
            return ""
        return coded_text(text, prefix, {"code": code, "params": {}} if isinstance(code, str) else None, str(english or ""))

    method = coded("clock.method.", measured.get("method_code") or CLOCK_METHODS.get(str(measured.get("method"))),
                   measured.get("method"))
    how = [part for part in (method, coded("clock.note.", measured.get("note_code"), measured.get("note"))) if part]
    if "offset_ns" not in measured and not measured.get("method") and how:     # not measured at all: only why
        return text("list.semi").join(how)
    value = text("clock.offset", offset=measured.get("offset_ns", 0), uncertainty=measured.get("uncertainty_ns", "?"))
    if clock.get("drift_ns") is not None:
        how.append(text("clock.drift", drift=clock["drift_ns"]))
    return text("clock.how", value=value, method=text("list.semi").join(how)) if how else value


def _facts(info: dict[str, Any], findings: Findings, text: Messages) -> list[tuple[str, str]]:
    target = _dict(info.get("target"))
    app = _dict(info.get("app"))
    apk = _dict(info.get("apk"))
    knowledge = _dict(findings.summary.get("knowledge"))
    device = ", ".join(str(part) for part in (target.get("model"), target.get("android") and f"Android {target.get('android')}",
                                               target.get("serial")) if part) or label(text, "device.kind.", target.get("kind"))
    facts = [
        ("fact.app", str(app.get("package") or apk.get("package") or target.get("command") or "")),
        ("fact.version", " / ".join(str(v) for v in (apk.get("version_name"), apk.get("version_code")) if v) or "—"),
        ("fact.apk_sha256", str(apk.get("apk_sha256") or "—")),
        ("fact.signer", ", ".join(apk.get("signer_sha256") or []) or "—"),
        ("fact.device", device),
        ("fact.started", iso(info.get("started_ns"))),
        ("fact.ended", iso(info.get("ended_ns"))),
        ("fact.tool", f"{_dict(info.get('tool')).get('name', 'consentmon')} {_dict(info.get('tool')).get('version', '')}"),
        ("fact.frida", str(_dict(info.get("agent")).get("frida") or "—")),
        ("fact.catalogue", str(_dict(info.get("catalogue")).get("version") or "—")),
        ("fact.rules", str(knowledge.get("rules") or "—")),
        ("fact.sdks", str(knowledge.get("sdks") or "—")),
        ("fact.clock", _clock(_dict(info.get("clock")), text)),
    ]
    return facts


def load_report(run_dir: Path, *, lang: str = "zh", redact: bool = False, salt: bytes | None = None,
                embed_screens: bool = True) -> ReportData:
    """Everything a report shows. Raises RunDirError naming the file and the fix on a run it cannot use."""
    run_dir = Path(run_dir)
    text = messages(lang)
    run = read_run(run_dir)
    findings = read_findings(run_dir / FINDINGS_FILE)
    app_package = (run.info.get("app") or {}).get("package") if isinstance(run.info.get("app"), dict) else None
    sdks = load_sdks()
    if findings.findings and not findings.cases:
        # A findings.json written before cases existed: group it now, the same way analysis does.
        findings = findings.model_copy(update={"cases": build_cases(findings.findings, sdks=sdks, app_package=app_package)})
    if len(run.events) and findings.run.get("started_ns") not in (None, run.info.get("started_ns")):
        raise RunDirError(f"{run_dir / FINDINGS_FILE} belongs to another run (its start time differs from run.json)",
                          hint=f"re-create it with `consentmon analyze {run_dir}`")
    warnings: list[str] = []
    integrity = check_run(run_dir) if run.sealed else []

    ruleset = load_rules()
    settings = ruleset.settings
    timeline = build_timeline(run.events) if len(run.events) else run.events.assign(process_key="", is_pi=False)
    intervals = (background_intervals(timeline, grace_ns=int(settings.background_grace_s * 1e9), home_steps=settings.home_steps)
                 if len(timeline) else pd.DataFrame(columns=["process", "start", "end", "cause", "seq"]))
    attributor = Attributor(sdks=sdks, table=load_attribution(), app_package=app_package)
    if len(timeline):
        timeline = attribute_events(timeline, attributor, kinds=("pi_read", "connect"))
    else:
        timeline = timeline.assign(owner="", sdk_id=None, sdk_frame=None)
    names = _subject_labels(text)

    def subject_of(sdk_id: Any, owner: Any) -> str:
        if isinstance(sdk_id, str) and sdk_id:
            return names.get(sdks.subject_of(sdk_id), sdk_id)
        if owner == "app":
            return text("subject.kind.app")
        if owner == "platform":
            return text("frame.platform")
        return text("subject.kind.unknown")

    def opener(who: Any) -> str:
        """An opener as summary.unseen_connections / tls_failures name it: an SDK id, or app / unknown / platform."""
        if not isinstance(who, str) or not who:
            return ""
        return subject_of(None, who) if who in ("app", "unknown", "platform") else subject_of(who, "sdk")

    events = _Events(run.events)
    flows = {str(flow.get("flow_id")): flow for flow in run.flows}
    screens = _screens(run, warnings, embed=embed_screens and not redact)
    findings_json = findings.model_dump(mode="json", by_alias=True)
    by_id = {finding["id"]: finding for finding in findings_json["findings"]}

    cases: list[dict[str, Any]] = []
    shown_with: dict[str, dict[str, Any]] = {}
    for case in findings_json["cases"]:
        seqs: list[int] = []
        for read in case["reads"]:
            seqs += [seq for seq in read["event_seqs"] if seq not in seqs]
        reads = []
        for seq in seqs[:MAX_READS]:
            event = events.get(seq)
            if event is None:
                continue
            reads.append({"seq": seq, "time": iso(event["ts"]), "api": event.get("api"), "category": event.get("category"),
                          "value": event.get("value"), "items": (_values_of(event)[:-1] if isinstance(event.get("payload"), dict) else [])[:10],
                          "thread": event.get("thread"), "process": event.get("process"), "args": event.get("args") or [],
                          "stack": _frame_marks(event.get("stack"), attributor, names)})
        flow_items = []
        case_findings = [by_id[flow["finding_id"]] for flow in case["flows"] if flow["finding_id"] in by_id]
        for case_flow in case["flows"]:
            finding = by_id.get(case_flow["finding_id"]) or {}
            for flow_id in case_flow["flow_ids"]:
                if len(flow_items) >= MAX_FLOWS or any(item["flow_id"] == flow_id for item in flow_items):
                    continue
                flow = flows.get(flow_id)
                if flow is None:
                    warnings.append(f"missing_flow|{run_dir / 'flows.jsonl'}|{flow_id}")
                    continue
                # Every value of this case found in the flow, whichever of the case's findings (one per PI type) found it.
                matched = [m for other in case_findings for m in other["evidence"]["matches"] if m["flow_id"] == flow_id]
                values = []
                for match in matched:
                    event = events.get(match["event_seq"]) if match.get("event_seq") is not None else None
                    for value in (_values_of(event) if event else []):
                        values.append((value, match.get("encoding")))
                flow_items.append({"flow_id": flow_id, "time": iso(flow.get("ts_request_ns")), "method": flow.get("method"),
                                   "url": flow.get("url"), "status": flow.get("status") or flow.get("error"),
                                   "matches": list({(m.get("field"), m.get("encoding"), m.get("event_seq")):
                                                    {"field": m.get("field"), "encoding": m.get("encoding"), "seq": m.get("event_seq")}
                                                    for m in matched}.values()),
                                   "sent_by": (finding.get("evidence", {}).get("detail") or {}).get("sent_by"),
                                   "excerpt": _excerpt(flow, values)})
        connect_stacks = []
        for connect in case["connects"][:MAX_READS]:
            for seq in connect["event_seqs"][:1]:
                event = events.get(seq)
                if event is not None:
                    connect_stacks.append({"seq": seq, "time": iso(event["ts"]), "api": event.get("api"),
                                           "destination": connect["destination"],
                                           "stack": _frame_marks(event.get("stack"), attributor, names)})
        # What a static scan found of a subject that is only in the APK (undisclosed-sdk's static evidence).
        in_package = [detail["apk"] for detail in ((by_id.get(finding_id) or {}).get("evidence", {}).get("detail") or {}
                                                   for finding_id in case["other"])
                      if detail.get("evidence_level") == "static" and isinstance(detail.get("apk"), dict)]
        screen = None if in_package else _nearest(screens, case["first_seen_ns"])
        case = dict(case)
        if case["subject"].get("vendor"):
            case["subject"] = {**case["subject"], "vendor_name": sdks.vendor_name(case["subject"]["vendor"], lang)}
        case["evidence_level"] = "static" if in_package and len(in_package) == len(case["finding_ids"]) else "runtime"
        case["first_seen"] = iso(case["first_seen_ns"])
        case["last_seen"] = iso(case["last_seen_ns"])
        case["evidence"] = {"apk": in_package, "reads": reads, "reads_total": len(seqs), "flows": flow_items,
                            "flows_total": len({flow_id for f in case["flows"] for flow_id in f["flow_ids"]}), "connects": connect_stacks,
                            "screenshot": None if screen is None or redact else {"path": screen.path, "time": iso(screen.ts),
                                                                                  "data_uri": screen.data_uri, "same_as": None}}
        if screen is not None and not redact:
            # A screenshot is inlined once, with the first case it is nearest to; later cases point there.
            if screen.path in shown_with:
                case["evidence"]["screenshot"].update(data_uri=None, same_as=shown_with[screen.path])
            else:
                shown_with[screen.path] = {"id": case["id"], "number": len(cases) + 1}
        cases.append(case)

    reads_table = _reads_table(timeline, sdks, names, text)
    found_in: dict[str, list[str]] = {}
    for finding in findings_json["findings"]:
        for match in finding["evidence"]["matches"]:
            # The English keeps the category's id (device_id:plain@body); other languages name it and the encoding.
            category = match.get("category") if lang == "en" else label(text, "category.", match.get("category"))
            found_in.setdefault(match["flow_id"], []).append(
                text("flow.pi_found", category=category, encoding=label(text, "encoding.", match.get("encoding")), field=match.get("field")))
    flows_table = [{"flow_id": str(flow.get("flow_id")), "time": iso(flow.get("ts_request_ns")), "method": flow.get("method"),
                    "url": flow.get("url"), "host": flow.get("host"), "status": flow.get("status") or flow.get("error"),
                    "size": (flow.get("request") or {}).get("size"),
                    "pi": ", ".join(sorted(set(found_in.get(str(flow.get("flow_id")), []))))} for flow in run.flows]
    sdk_rows: dict[str, dict[str, Any]] = {}
    by_sdk = reads_table[reads_table["owner"] == "sdk"]
    for (group, module, category), count in by_sdk.groupby(["group", "sdk_id", "category"], sort=True).size().items():
        entry = sdk_rows.setdefault(str(group), {"reads": 0, "categories": set(), "modules": set(), "hosts": set()})
        entry["reads"] += int(count)
        entry["categories"].add(str(category))
        entry["modules"].add(str(module))
    for case in cases:
        if case["subject"]["kind"] == "sdk" and case["subject"]["id"]:
            entry = sdk_rows.setdefault(case["subject"]["id"], {"reads": 0, "categories": set(), "modules": set(), "hosts": set()})
            entry["hosts"].update(case["destinations"])
    table = {sdk.id: sdk for sdk in sdks.sdks}
    sdk_table = []
    for sdk_id, entry in sorted(sdk_rows.items()):
        sdk = table.get(sdk_id)
        sdk_table.append({"id": sdk_id, "name": names.get(sdk_id, sdk_id), "vendor": sdk.vendor if sdk else "",
                          "kind": sdk.kind if sdk else "", "modules": ", ".join(sorted(entry["modules"])),
                          "reads": entry["reads"], "categories": ", ".join(sorted(entry["categories"])),
                          "hosts": ", ".join(sorted(entry["hosts"])),
                          "cases": sum(1 for case in cases if case["subject"]["id"] == sdk_id)})

    _declared_vs_observed(sdk_table, findings_json["summary"], names, sdks)
    for row in sdk_table:   # the kind and vendor as the report says them (kind, vendor: as sdks.yaml writes them)
        row["kind_name"] = sdks.kind_name(row["kind"], lang) if row["kind"] else ""
        row["vendor_name"] = sdks.vendor_name(row["vendor"], lang) if row["vendor"] else ""

    data = ReportData(
        run_dir=run_dir, lang=lang, text=text, info=dict(run.info), findings=findings_json, cases=cases,
        summary=findings_json["summary"], consent=findings_json["consent"], facts=_facts(run.info, findings, text),
        timeline=_timeline(timeline, reads_table, intervals, findings.consent, run.info, text, subject_of, app_package),
        screens=screens, integrity=[problem.text for problem in integrity],
        integrity_shown=[integrity_text(text, problem) for problem in integrity], sealed=run.sealed, warnings=warnings, redacted=redact,
        generated=iso(int(datetime.now(tz=UTC).timestamp() * 1e9)), reads_table=reads_table, flows_table=flows_table,
        sdk_table=sdk_table, coverage=_coverage(findings_json["summary"], text, opener),
        scope_line=_scope_line(findings_json["summary"], text), consent_shown=_consent(findings_json["consent"], text),
        finding_by={f["id"]: subject_of(f["sdk"]["id"] if f["sdk"]["owner"] == "sdk" else None, f["sdk"]["owner"])
                    for f in findings_json["findings"]},
        skipped=_skipped(findings_json["summary"], text,
                         {spec.id: spec.title.zh if lang == "zh" else spec.title.en for spec in ruleset.rules}))
    manifest = read_manifest(run_dir)
    if manifest is not None:
        data.hashes = sorted((str(name), str(digest)) for name, digest in (manifest.get("files") or {}).items())
        data.chain_head = (manifest.get("events") or {}).get("chain_head")
    data.hashes.append((FINDINGS_FILE, sha256_file(run_dir / FINDINGS_FILE)))
    if redact:
        redact_report(data, run, salt=salt)
    return data


def redact_report(data: ReportData, run: Run, *, salt: bytes | None = None) -> None:
    """Mask every PI value in everything the report renders (the run directory is not touched)."""
    from monitor.analysis.matching import unsearchable_reason

    rules = load_data("matching")
    app_package = _dict(run.info.get("app")).get("package")
    values: dict[str, str | None] = {}
    if len(run.events):
        reads = run.events[(run.events["source"] == "hook") & (run.events["kind"] == "pi_read")]
        for value, payload, category in zip(reads["value"].tolist(), reads["payload"].tolist(), reads["category"].tolist()):
            for text in _values_of({"value": value, "payload": payload}):
                values.setdefault(text, category)
    for finding in data.findings["findings"]:
        for value in finding["evidence"]["values"]:
            values.setdefault(value, finding.get("category"))
    # Searched in the report's text: what the matcher searches for in traffic. The app's own package (an item of
    # the installed-app list) names the app under test, not its user; a stop value or a two-letter value would
    # mask words everywhere. Every read's value is still masked whole where the report shows it.
    searched = [(value, category) for value, category in values.items()
                if value != app_package and unsearchable_reason(value, rules) is None]
    redactor = Redactor(searched, salt=salt)
    whole = redactor.whole
    # A read's value is masked whole, whatever its length (a short one is not searched for in traffic, but is
    # still what the read returned).
    if len(data.reads_table):
        table = data.reads_table.copy()
        pairs = pd.Series(list(zip(table["value"], table["category"])), index=table.index)
        masks = {pair: (None if pair[0] is None else whole.get(str(pair[0])) or redactor.mask_value(str(pair[0]), pair[1]))
                 for pair in set(pairs.tolist())}
        table["value"] = pairs.map(masks)
        table["thread"] = table["thread"].map(lambda thread: redactor.text(thread) if isinstance(thread, str) else thread)
        data.reads_table = table
    for case in data.cases:
        for read in case["evidence"]["reads"]:
            if read["value"] is not None:
                read["value"] = whole.get(str(read["value"])) or redactor.mask_value(str(read["value"]), read["category"])
    data.findings = redactor.deep(data.findings)
    data.cases = redactor.deep(data.cases)
    data.flows_table = redactor.deep(data.flows_table)
    data.timeline = redactor.deep(data.timeline)
    data.info = redactor.deep(data.info)
    data.consent = redactor.deep(data.consent)
    data.summary = redactor.deep(data.summary)
    data.coverage = redactor.deep(data.coverage)
    data.skipped = redactor.deep(data.skipped)
    data.consent_shown = redactor.deep(data.consent_shown)
    data.findings["summary"] = {**data.findings["summary"], "redacted": True}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2)
