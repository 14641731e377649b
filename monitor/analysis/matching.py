"""Link a value a hook read to the flow that carried it: the strongest evidence the tool gives.

Every value read by a hook becomes a set of needles (monitor.analysis.encodings: case, separators,
URL-encoding, hex, base64 at any alignment, MD5/SHA-1/SHA-256, rounded coordinates); one Aho-Corasick
automaton over all of them scans every part of every flow (monitor.analysis.flowparts) once, in full.
Values too short or too common to prove anything are not searched (monitor/data/matching.yaml says
which and why). A number glued to more digits is a different number and is not reported. Shapes of
PI that no hook reported (monitor.analysis.patterns) are added with confidence "pattern".

Output columns of `match_flows` / `match_run`:
  flow_id     mitmproxy flow id (the `flow_id` of the run's net/flow event)
  event_seq   seq of the hook event that read the value (Int64; <NA> for pattern hits): the latest read at
              or before the moment the part was sent (its own part_ts, else the flow's request) when the reads'
              times are known; else the latest read written before the flow's own event when the flow's seq
              is known; else the earliest
  category    the read's category (device_id, location…) or the pattern's PI kind
  value       the value as the hook read it (or the normalised text a pattern matched)
  field       the part of the flow: url, path, query:<name>, header:<name>, cookie:<name>, body,
              body.json:<path>, form:<name>, multipart:<name>, ws:<i>:<client|server>
  encoding    how the value was written there (see monitor.analysis.encodings); "pattern" for patterns
  offset      byte offset of the match inside the part's data
  confidence  "exact" (a hook's value) or "pattern" (a shape)
  detector    None, or the pattern detector: imei, mac, cn_mobile, cn_id, email, coord
  part_ts     when the part itself was sent, in epoch ns, if not with the request (a WebSocket message;
              Int64, <NA> otherwise): the analyzer judges such a part at its own moment
A value is reported once per flow in the innermost part that carries it (a JSON leaf rather than the
whole body, a query parameter rather than the URL).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick_rs
import pandas as pd
from mitmproxy.http import HTTPFlow

from monitor.analysis.encodings import derive_needles, digest_byte_forms
from monitor.analysis.flowparts import decoding_between, iter_flow_parts, may_hide, parent_fields
from monitor.analysis.patterns import detect
from monitor.data.matching_models import MatchingRules
from monitor.data import load_matching_rules
from monitor.errors import RunDirError
from monitor.events import KIND_FLOW, KIND_PI_READ
from monitor.store import MITM_FILE
from monitor.store.flows import has_traffic, load_flows
from monitor.store.reader import Run


COLUMNS = ["flow_id", "event_seq", "category", "value", "field", "encoding", "offset", "confidence", "detector", "part_ts"]
NEEDLE_COLUMNS = ["seq", "category", "api", "value"]

# Pattern detectors name a PI kind; the category column uses the hook catalogue's words for it.

DIGITS = frozenset(b"0123456789")

# ahocorasick-rs (the Rust aho-corasick crate) scans bytes several times faster than pyahocorasick on
# needles such as base64 cores and hex digests, most of all as a DFA. A DFA's size grows with the total
# length of the needles, so a run with very many values (thousands of installed packages) gets the
# contiguous NFA instead: still several times pyahocorasick, in bounded memory.
DFA_MAX_NEEDLE_BYTES = 1 << 20



def unsearchable_reason(value: str, rules: MatchingRules) -> str | None:
    """Why `value` is not searched in traffic, or None when it is."""
    stripped = value.strip().strip('"')
    if not stripped:
        return "empty"
    if stripped.casefold() in rules.stop_set():
        return "stop value listed in matching.yaml"
    if len(stripped.encode("utf-8")) < rules.min_bytes:
        return f"shorter than {rules.min_bytes} bytes"
    if rules.skip_single_repeated_char and len(set(stripped.casefold())) == 1:
        return "one repeated character"
    return None


def _values_of(value: Any, payload: Any) -> list[str]:
    # A list or object return records its items/fields; `value` is then only a summary ("12 items").
    if isinstance(payload, dict):
        if isinstance(payload.get("items"), list):
            return [str(item) for item in payload["items"] if item is not None]
        if isinstance(payload.get("fields"), dict):
            return [str(item) for item in payload["fields"].values() if item is not None]
    return [] if value is None else [str(value)]


def needles_from_events(events: pd.DataFrame, *, rules: MatchingRules | None = None) -> pd.DataFrame:
    """One row (seq, category, api, value, ts) per searchable value read by a hook."""
    rules = rules or load_matching_rules()
    rows: list[tuple[int, Any, Any, str, Any]] = []
    if len(events):
        reads = events[(events["source"] == "hook") & (events["kind"] == KIND_PI_READ)]
        times = reads["ts"].tolist() if "ts" in reads.columns else [None] * len(reads)
        for seq, category, api, value, payload, ts in zip(reads["seq"], reads["category"], reads["api"], reads["value"],
                                                          reads["payload"], times):
            seen: set[str] = set()
            for text in _values_of(value, payload):
                if text not in seen and unsearchable_reason(text, rules) is None:
                    seen.add(text)
                    rows.append((int(seq), category, api, text, ts))
    frame = pd.DataFrame(rows, columns=[*NEEDLE_COLUMNS, "ts"])
    frame["seq"] = frame["seq"].astype("int64")
    frame["ts"] = frame["ts"].astype("Int64")
    return frame


@dataclass(frozen=True)
class _Target:
    value: str
    encoding: str
    textual: bool
    length: int
    leading_digit: bool
    trailing_digit: bool   # and not a decimal: more digits after a decimal are more precision


class _Reads:
    """The reads of one value, in seq order, to pick the one a flow most plausibly carries."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.categories: list[Any] = []
        self.times: list[int | None] = []

    def add(self, seq: int, category: Any, ts: int | None = None) -> None:
        self.seqs.append(seq)
        self.categories.append(category)
        self.times.append(ts)

    def pick(self, flow_seq: int | None, when: int | None = None) -> tuple[int, Any]:
        """The read a part most plausibly carries: the latest read at or before `when` (the moment the part
        was sent: its flow's request, or a WebSocket message's own time), by time — the order events reached
        events.jsonl is not the order they happened (agent events come in batches; flow events are written
        when the capture finishes). Without times, the latest read written before the flow's event
        (`flow_seq`); else the first read."""
        if when is not None:
            best: int | None = None
            for index, ts in enumerate(self.times):
                if ts is not None and ts <= when and (best is None or ts >= self.times[best]):  # type: ignore[operator]
                    best = index
            if best is not None:
                return self.seqs[best], self.categories[best]
        if flow_seq is not None:
            at = bisect.bisect_right(self.seqs, flow_seq) - 1
            if at >= 0:
                return self.seqs[at], self.categories[at]
        return self.seqs[0], self.categories[0]


class _Scanner:
    """One automaton over every needle's bytes, and the digests searched apart (`_Digests`); `matches` gives
    (end index, targets) like a classic Aho-Corasick iterator: every occurrence of every needle, overlapping,
    by end, longest first."""

    def __init__(self, targets: dict[bytes, list[_Target]], digests: "_Digests | None" = None) -> None:
        self._digests = digests
        keys = list(targets)
        self._entries = [tuple(targets[key]) for key in keys]
        self._lengths = [len(key) for key in keys]
        total = sum(self._lengths)
        implementation = (ahocorasick_rs.Implementation.DFA if total <= DFA_MAX_NEEDLE_BYTES
                          else ahocorasick_rs.Implementation.ContiguousNFA)
        self._automaton = ahocorasick_rs.BytesAhoCorasick(keys, implementation=implementation)

    def matches(self, data: bytes) -> list[tuple[int, tuple[_Target, ...]]]:
        found = self._automaton.find_matches_as_indexes(data, overlapping=True)
        extra = self._digests.matches(data) if self._digests is not None else []
        if not found and not extra:
            return []
        found.sort(key=lambda match: (match[2], -self._lengths[match[0]]))
        hits = [(end - 1, self._entries[index]) for index, _, end in found]
        if extra:
            hits += extra
            hits.sort(key=lambda hit: (hit[0], -hit[1][0].length))
        return hits


# Digests travel as their bytes too: Java's MessageDigest gives bytes, sent as they are in a binary body
# (protobuf, Thrift, JCE) or in base64 (Base64.encodeToString(md.digest(id), NO_WRAP)) instead of hex. As
# needles of the one automaton they made it several times slower (raw bytes widen its byte classes and
# its table no longer fits in cache: ~340 → ~80 MB/s), so they are looked for apart: raw digests by a
# small automaton over binary parts only, base64 digests as whole padded tokens (24 characters ending
# "==" for MD5, 28 and 44 ending "=" for SHA-1 and SHA-256), found at their padding and looked up.
_PADDING = re.compile(rb"==?(?![A-Za-z0-9+/=_-])")
_BASE64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
_TOKEN_LENGTHS = {1: (28, 44), 2: (24,)}
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")


class _Digests:
    def __init__(self, raw: dict[bytes, list[_Target]], tokens: dict[bytes, list[_Target]]) -> None:
        self._raw_entries = [tuple(targets) for targets in raw.values()]
        self._raw = ahocorasick_rs.BytesAhoCorasick(list(raw), implementation=ahocorasick_rs.Implementation.DFA) if raw else None
        self._tokens = {token: tuple(targets) for token, targets in tokens.items()}

    def matches(self, data: bytes) -> list[tuple[int, tuple[_Target, ...]]]:
        hits: list[tuple[int, tuple[_Target, ...]]] = []
        if len(data) < 16:  # shorter than any digest (most JSON leaves and headers)
            return hits
        # A binary body shows control bytes early (protobuf's field tags, Thrift's type bytes).
        if self._raw is not None and _CONTROL.search(data, 0, 1024) is not None:
            hits += [(end - 1, self._raw_entries[index]) for index, _, end in self._raw.find_matches_as_indexes(data, overlapping=True)]
        if b"=" in data:
            for padding in _PADDING.finditer(data):
                end = padding.end()
                for length in _TOKEN_LENGTHS[end - padding.start()]:
                    start = end - length
                    if start >= 0 and (start == 0 or data[start - 1] not in _BASE64_CHARS):
                        targets = self._tokens.get(data[start:end])
                        if targets:
                            hits.append((end - 1, targets))
        return hits


def _digests_of(values: Iterable[str]) -> _Digests | None:
    raw: dict[bytes, list[_Target]] = defaultdict(list)
    tokens: dict[bytes, list[_Target]] = defaultdict(list)
    for value in values:
        for encoding, digest, base64_forms in digest_byte_forms(value):
            raw[digest].append(_Target(value, encoding, False, len(digest), False, False))
            for token_encoding, token in base64_forms:
                tokens[token].append(_Target(value, token_encoding, False, len(token), False, False))
    return _Digests(raw, tokens) if raw else None


def _build(needles: pd.DataFrame, rules: MatchingRules) -> tuple[_Scanner | None, dict[str, _Reads]]:
    reads: dict[str, _Reads] = {}
    coordinate_values: set[str] = set()
    ordered = needles.sort_values("seq", kind="stable") if len(needles) else needles
    times = ordered["ts"].tolist() if "ts" in ordered.columns else [None] * len(ordered)
    for seq, category, value, ts in zip(ordered["seq"], ordered["category"], ordered["value"], times):
        if unsearchable_reason(value, rules) is not None:
            continue
        reads.setdefault(value, _Reads()).add(int(seq), category, None if ts is None or pd.isna(ts) else int(ts))
        if category in rules.coordinates.categories:
            coordinate_values.add(value)
    if not reads:
        return None, reads
    targets: dict[bytes, list[_Target]] = defaultdict(list)
    decimals = tuple(rules.coordinates.decimals)
    for value in reads:
        for needle in derive_needles(value, coordinate_decimals=decimals if value in coordinate_values else (),
                                     min_derived_chars=rules.min_derived_chars):
            data = needle.data
            targets[data].append(_Target(
                value, needle.encoding, needle.textual, len(data),
                leading_digit=data[0] in DIGITS,
                trailing_digit=data[-1] in DIGITS and b"." not in data))
    return _Scanner(targets, _digests_of(reads)), reads


def _glued_to_digits(data: bytes, start: int, end: int, target: _Target) -> bool:
    if not target.textual:
        return False
    if target.leading_digit and start > 0 and data[start - 1] in DIGITS:
        return True
    return target.trailing_digit and end < len(data) and data[end] in DIGITS


def _outermost(places: list[tuple[int, int, _Target]]) -> list[tuple[int, int, _Target]]:
    """One value's matches in one part, less those lying inside a longer match of the same value: the
    national number inside "+86…", the SSID inside its quotes, 4 decimals inside 6 are one finding."""
    kept: list[tuple[int, int, _Target]] = []
    for start, end, target in sorted(places, key=lambda place: (place[0] - place[1], place[0])):
        if not any(k_start <= start and end <= k_end for k_start, k_end, _ in kept):
            kept.append((start, end, target))
    return kept


def _innermost(rows: list[dict[str, Any]], key_of) -> list[dict[str, Any]]:
    """Drop a row when the same thing was found in a part nested inside the row's part."""
    fields_by_key: dict[Any, set[str]] = defaultdict(set)
    for row in rows:
        fields_by_key[key_of(row)].add(row["field"])
    covered: dict[Any, set[str]] = defaultdict(set)
    for key, fields in fields_by_key.items():
        for field in fields:
            covered[key].update(parent_fields(field))
    return [row for row in rows if row["field"] not in covered[key_of(row)]]


def _flow_rows(flow: HTTPFlow, automaton: _Scanner | None, reads: Mapping[str, _Reads],
               flow_seq: int | None, rules: MatchingRules, patterns: bool) -> list[dict[str, Any]]:
    exact: list[dict[str, Any]] = []
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    pattern_rows: list[dict[str, Any]] = []
    stop = rules.stop_set()
    found_fields: set[str] = set()
    shaped: set[str] = set()         # parts where a PI shape was found
    seen: dict[str, bytes] = {}      # each part's bytes, for the parts cut out of it after it
    reveals: dict[tuple[str, str], bool] = {}  # (part, decoding): whether the parts cut out of it may hold more
    started = flow.request.timestamp_start
    sent_at = None if started is None else int(started * 1_000_000_000)  # the request's moment, on the run's clock
    for part in iter_flow_parts(flow, found_in=lambda part: part.field in found_fields):
        data = part.data
        seen[part.field] = data
        part_ts = _part_time(flow, part.field)
        if automaton is not None and data:
            found: dict[str, list[tuple[int, int, _Target]]] = defaultdict(list)
            for end_index, entries in automaton.matches(data):
                for target in entries:
                    start = end_index - target.length + 1
                    if not _glued_to_digits(data, start, end_index + 1, target):
                        found[target.value].append((start, end_index + 1, target))
            if found:
                found_fields.add(part.field)
            for value, places in found.items():
                seq, category = reads[value].pick(flow_seq, part_ts if part_ts is not None else sent_at)
                for start, end, target in _outermost(places):
                    spans[part.field].append((start, end))
                    exact.append({"flow_id": flow.id, "event_seq": seq, "category": category, "value": value,
                                  "field": part.field, "encoding": target.encoding, "offset": start,
                                  "confidence": "exact", "detector": None, "part_ts": part_ts})
        if patterns and data and _shapes_possible(part.field, shaped, seen, reveals):
            for hit in detect(data, rules.patterns, stop_values=stop):
                found_fields.add(part.field)
                shaped.add(part.field)
                pattern_rows.append({"flow_id": flow.id, "event_seq": pd.NA, "category": rules.patterns.category_of()[hit.detector],
                                     "value": hit.value, "field": part.field, "encoding": "pattern", "offset": hit.offset,
                                     "confidence": "pattern", "detector": hit.detector, "part_ts": part_ts,
                                     "_length": hit.length})
    # A shape that a hook's exact value already explains adds nothing.
    pattern_rows = [row for row in pattern_rows
                    if not any(start < row["offset"] + row["_length"] and row["offset"] < end for start, end in spans[row["field"]])]
    rows = _innermost(exact, lambda row: ("exact", row["value"]))
    rows += _innermost(pattern_rows, lambda row: (row["detector"], row["value"]))
    return rows


def _shapes_possible(field: str, shaped: set[str], seen: Mapping[str, bytes], reveals: dict[tuple[str, str], bool]) -> bool:
    """Whether the shape detectors can find anything in part `field` that they did not find in the part it was
    cut out of. A part holds its parent's bytes as they are unless decoding changed them, and the detectors
    refuse a shape glued to letters or digits, which a JSON, form, query or cookie delimiter never is: a parent
    without a shape has none to give. One with a shape does: its innermost part is the one reported. Whether a
    decoding may reveal more is decided once per parent (`reveals`), not once per leaf."""
    parents = parent_fields(field)
    if not parents or parents[0] not in seen:
        return True
    parent = parents[0]
    if parent in shaped:
        return True
    key = (parent, decoding_between(parent, field))
    verdict = reveals.get(key)
    if verdict is None:
        verdict = reveals[key] = may_hide(seen[parent], key[1])
    return verdict


def _part_time(flow: HTTPFlow, field: str) -> int | None:
    """When a part was sent, if it was not with the request: a WebSocket message (`ws:<index>:…`) has its own
    time, which can be long after the handshake (and on the other side of a consent decision)."""
    if not field.startswith("ws:") or flow.websocket is None:
        return None
    index = field.split(":", 2)[1]
    if not index.isdigit() or int(index) >= len(flow.websocket.messages):
        return None
    return int(flow.websocket.messages[int(index)].timestamp * 1_000_000_000)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["event_seq"] = frame["event_seq"].astype("Int64")
    frame["part_ts"] = frame["part_ts"].astype("Int64")
    frame["offset"] = frame["offset"].astype("int64")
    frame["detector"] = frame["detector"].astype(object).where(frame["detector"].notna(), None)
    frame = frame.sort_values(["flow_id", "field", "offset", "encoding", "event_seq"], kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def match_flows(needles: pd.DataFrame, flows: Iterable[HTTPFlow], *, flow_seq: Mapping[str, int] | None = None,
                patterns: bool = True, rules: MatchingRules | None = None) -> pd.DataFrame:
    """Every place a needle's value (in any encoding) or a PI shape occurs in `flows` (see module doc).

    `flow_seq` maps a flow id to the seq of its net/flow event, so each match names the read that came
    before the flow; without it the earliest read of the value is named."""
    rules = rules or load_matching_rules()
    automaton, reads = _build(needles, rules)
    rows: list[dict[str, Any]] = []
    for flow in flows:
        rows += _flow_rows(flow, automaton, reads, (flow_seq or {}).get(flow.id), rules, patterns)
    return _frame(rows)


def _app_info(run: Run) -> dict[str, Any]:
    app = run.info.get("app")
    return app if isinstance(app, dict) else {}


def match_run(run: Run) -> pd.DataFrame:
    """`match_flows` over a run: its hook reads against the full flows in its flows.mitm."""
    events = run.events
    net_flows = events[(events["source"] == "net") & (events["kind"] == KIND_FLOW)] if len(events) else events
    if not has_traffic(run.root):
        if len(net_flows):
            raise RunDirError(f"{Path(run.root) / MITM_FILE} is missing but events.jsonl records {len(net_flows)} flows",
                              hint="the captured traffic was lost or moved; restore flows.mitm from the sealed copy")
        return _frame([])
    needles = needles_from_events(events)
    package = _app_info(run).get("package")
    if package:
        # The app's own package name is in its own traffic everywhere; it is not a leak of installed apps.
        needles = needles[needles["value"] != package]
    flow_seq = {str(flow_id): int(seq) for flow_id, seq in zip(net_flows["flow_id"], net_flows["seq"]) if flow_id}
    return match_flows(needles, load_flows(run.root), flow_seq=flow_seq)
