"""Append-only writer of a run directory.

Every event is validated, numbered, written as one JSON line and flushed before `append` returns
(`append_many`: one flush per batch, before it returns), and folded into a SHA-256 hash chain
(chain_n = sha256(chain_{n-1} || line_n)) whose head goes into the manifest; so a line changed, dropped
or reordered later is detected by `verify`. A write that fails raises `CaptureError`: capture stops
loudly rather than losing evidence.

`monitor.events.Event` (pydantic) is THE schema. The agent floods this writer with events (issue 3:
≥ 100 000 events/s), which pydantic validation and `json.dumps` cannot keep up with, so events are
checked against `EventRecord`, a msgspec struct derived field by field from `Event`, and encoded by
msgspec. What the struct refuses (a value pydantic would coerce, e.g. "12" for an int, or a real schema
error) goes through `Event` itself, so what is accepted, and the error raised, are pydantic's.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from monitor.errors import CaptureError
from monitor.events import Event
from monitor.store import EVENTS_CHAIN_FILE, EVENTS_FILE, FLOWS_FILE, RUN_FILE, SCREENS_DIR
from monitor.store.files import make_private, private_opener, private_tree
from monitor.store.manifest import CHAIN_MARK, GENESIS, write_manifest

# Room kept on the run's file system for sealing it (run.json, manifest.json) when the disk fills: freed
# just before they are written, so a run stopped by a full disk is still sealed.
RESERVE_FILE = ".seal-reserve.tmp"
RESERVE_BYTES = 256 * 1024



def _derive_record(name: str, overrides: dict[str, tuple[Any, ...]] | None = None) -> type[msgspec.Struct]:
    """A msgspec struct with Event's fields, in Event's order, each typed as in Event unless overridden."""
    fields: list[tuple[Any, ...]] = []
    for field_name, info in Event.model_fields.items():
        if overrides and field_name in overrides:
            fields.append((field_name, *overrides[field_name]))
        elif info.is_required():
            fields.append((field_name, info.annotation))
        else:
            fields.append((field_name, info.annotation, info.default))
    # kw_only: fields keep Event's order whatever their defaults; forbid: Event is extra="forbid".
    return msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True)


EventRecord = _derive_record("EventRecord")

# An event as the agent sends it in a batch (hooks/src/events.ts): the host has not yet given it `ts` and
# `seq`, its `device_ts` is relative to the batch's clock base, and its stack may be an index into the
# batch's distinct stacks. msgspec checks every other field against Event's types while decoding the
# batch, so once the session has filled those four in (monitor/agent/session.py) the record is written
# as it is: same field names, so the same line as an EventRecord with the same values.
AgentRecord = _derive_record("AgentRecord", {
    "ts": (int | None, None), "seq": (int | None, None), "device_ts": (int,), "stack": (int | list[str] | None, None)})

_encode = msgspec.json.Encoder(order="sorted").encode


def dump_line(record: dict[str, Any] | msgspec.Struct) -> bytes:
    """The one serialisation of a record: compact, keys sorted, UTF-8, newline-terminated."""
    try:
        return _encode(record) + b"\n"
    except TypeError:
        # Outside what msgspec encodes with sorted keys (a dict keyed by numbers, deep in a payload):
        # the same JSON text, by the standard library.
        if isinstance(record, msgspec.Struct):
            record = msgspec.structs.asdict(record)
        return (json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()


def to_record(event: Event | dict[str, Any] | msgspec.Struct) -> msgspec.Struct:
    """An event checked against the schema, as an `EventRecord`. Raises pydantic's ValidationError."""
    kind = type(event)
    if kind is not dict:
        if kind is AgentRecord:
            # Already type-checked by the batch decoder; only what the session fills in is left to check.
            if event.ts is None or type(event.stack) is int:  # type: ignore[attr-defined]
                raise CaptureError("an agent event reached the writer without its time or with a stack index")
            return event  # type: ignore[return-value]
        if kind is EventRecord:
            return event  # type: ignore[return-value]
        if isinstance(event, Event):
            return msgspec.convert(event.model_dump(), EventRecord)
    try:
        return msgspec.convert(event, EventRecord)
    except msgspec.ValidationError:
        # Pydantic decides: it coerces what it accepts in lax mode, and its error names the field.
        return msgspec.convert(Event.model_validate(event).model_dump(), EventRecord)


class RunWriter:
    """Writes one run directory. Thread-safe: the agent, the proxy and the scenario all append."""

    def __init__(self, root: Path, *, run_info: dict[str, Any]) -> None:
        self.root = Path(root)
        try:
            # Evidence holds personal information: the run directory is its owner's only (0700, files 0600).
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if (self.root / EVENTS_FILE).exists():
                raise CaptureError(
                    f"{self.root} already holds a run ({EVENTS_FILE} exists)",
                    hint="choose an empty --out directory; runs are never overwritten",
                )
            make_private(self.root)
            (self.root / SCREENS_DIR).mkdir(exist_ok=True, mode=0o700)
            # Unbuffered: every line is written out before append returns anyway, and a write the disk refuses
            # leaves nothing behind in a buffer to be glued onto the next line.
            self._events: BinaryIO = open(self.root / EVENTS_FILE, "ab", buffering=0, opener=private_opener)
            self._flows: BinaryIO = open(self.root / FLOWS_FILE, "ab", buffering=0, opener=private_opener)
            self._reserve()
        except OSError as exc:
            raise CaptureError(f"cannot create run directory {self.root}: {exc}",
                               hint="choose a writable --out directory with free space") from exc
        self._sizes = {EVENTS_FILE: 0, FLOWS_FILE: 0}
        self._lock = threading.Lock()
        self._seq = 0
        self._chain = GENESIS.encode()  # hex digits as bytes: what chain_next hashes before each line
        # The first 16 hex digits of the chain after each line, written beside events.jsonl at the seal
        # (events.chain): `verify` then names the first line that differs, not only that one does.
        self._marks = bytearray()
        self._closed = False
        self.counts: dict[str, int] = {}
        self.run_info: dict[str, Any] = {"schema": 1, "started_ns": time.time_ns(), **run_info}
        self.write_run_info()

    @property
    def screens_dir(self) -> Path:
        """Where screenshots and UI dumps of this run go (sealed with the rest)."""
        return self.root / SCREENS_DIR

    def open_log(self, name: str) -> BinaryIO:
        """A side log kept with the evidence and sealed with it (the target's own output): append-only."""
        if "/" in name or name in {EVENTS_FILE, FLOWS_FILE, RUN_FILE} or name.startswith("."):
            raise CaptureError(f"{name!r} is not a log name a run directory can hold")
        try:
            return open(self.root / name, "ab", opener=private_opener)
        except OSError as exc:
            raise CaptureError(f"cannot write {self.root / name}: {exc}", hint="free disk space or choose another --out") from exc

    @property
    def seq(self) -> int:
        return self._seq

    def append(self, event: Event | dict[str, Any]) -> int:
        """Validate, number, write and flush one event. Returns its seq."""
        record = to_record(event)
        with self._lock:
            self._check_open()
            record.seq = self._seq
            line = dump_line(record)
            self._write(self._events, line, EVENTS_FILE)
            self._chain = hashlib.sha256(self._chain + line).hexdigest().encode()
            self._marks += self._chain[:CHAIN_MARK]
            self._seq += 1
            self._count(record)
            return record.seq

    def append_many(self, events: Iterable[Event | dict[str, Any]]) -> int:
        """Validate, number and write events in order, with one flush for all of them. Returns how many.

        Each event is written whole or not at all, exactly as by `append`: on an event outside the
        schema, the events before it are written and flushed, then its error is raised."""
        records: list[msgspec.Struct] = []
        refused: Exception | None = None
        for event in events:
            try:
                records.append(to_record(event))
            except (ValueError, CaptureError) as exc:  # pydantic's ValidationError, or an unfinished AgentRecord
                refused = exc
                break
        with self._lock:
            self._check_open()
            seq = self._seq
            chain = self._chain
            lines: list[bytes] = []
            marks: list[bytes] = []
            sha256 = hashlib.sha256
            for record in records:
                record.seq = seq
                line = dump_line(record)
                lines.append(line)
                chain = sha256(chain + line).hexdigest().encode()
                marks.append(chain[:CHAIN_MARK])
                seq += 1
            if lines:
                self._write(self._events, b"".join(lines), EVENTS_FILE)
            # Numbers, chain and counts move only once the whole batch is on disk.
            self._seq = seq
            self._chain = chain
            self._marks += b"".join(marks)
            counts = self.counts
            for record in records:
                key = f"{record.source}:{record.kind}"
                counts[key] = counts.get(key, 0) + 1
        if refused is not None:
            raise refused
        return len(records)

    def _check_open(self) -> None:
        if self._closed:
            raise CaptureError("an event arrived after the run was closed; it would be lost")

    def _count(self, record: msgspec.Struct) -> None:
        key = f"{record.source}:{record.kind}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def append_flow(self, flow_record: dict[str, Any]) -> None:
        """One decoded HTTP exchange (see store.flows.flow_record for its fields)."""
        with self._lock:
            if self._closed:
                raise CaptureError("a flow arrived after the run was closed; it would be lost")
            self._write(self._flows, dump_line(flow_record), FLOWS_FILE)

    def _write(self, handle: BinaryIO, line: bytes | bytearray, name: str) -> None:
        view = memoryview(line)
        try:
            while view:
                written = handle.write(view)
                if not written:
                    raise OSError(f"no byte of {len(view)} was written")
                view = view[written:]
        except OSError as exc:
            # Part of the line may be on disk: cut back to the last whole line, so the file stays a list of
            # whole events (and the next one does not start mid-line), then stop the capture loudly.
            try:
                os.ftruncate(handle.fileno(), self._sizes[name])
            except OSError:
                pass  # what is left is a torn last line, which readers report and recover sets aside
            raise CaptureError(f"cannot write {self.root / name}: {exc}; everything written before is kept",
                               hint="free disk space or choose another --out") from exc
        self._sizes[name] += len(line)

    def _reserve(self) -> None:
        with open(self.root / RESERVE_FILE, "wb", opener=private_opener) as handle:
            try:
                os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
            except OSError:
                handle.write(bytes(RESERVE_BYTES))

    def write_run_info(self, **updates: Any) -> None:
        self.run_info.update(updates)
        tmp = self.root / (RUN_FILE + ".tmp")
        try:
            tmp.unlink(missing_ok=True)
            with open(tmp, "x", encoding="utf-8", opener=private_opener) as handle:
                handle.write(json.dumps(self.run_info, ensure_ascii=False, indent=2, sort_keys=True))
            os.replace(tmp, self.root / RUN_FILE)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CaptureError(f"cannot write {self.root / RUN_FILE}: {exc}", hint="free disk space or choose another --out") from exc

    def close(self, **run_updates: Any) -> Path:
        """Flush, fsync, record the end and seal the directory with a manifest. Idempotent. On a full disk the
        room reserved at the start is what run.json and the manifest are written into."""
        with self._lock:
            if self._closed:
                return self.root / RUN_FILE
            self._closed = True
            for handle in (self._events, self._flows):
                try:
                    handle.flush()
                    os.fsync(handle.fileno())
                except OSError:
                    pass  # every line was written (or cut back) by _write; fsync failing loses nothing written
                finally:
                    handle.close()
        (self.root / RESERVE_FILE).unlink(missing_ok=True)
        self.write_run_info(ended_ns=time.time_ns(), event_count=self._seq, event_counts=dict(sorted(self.counts.items())), **run_updates)
        try:
            with open(self.root / EVENTS_CHAIN_FILE, "wb", opener=private_opener) as marks:
                marks.write(self._marks)
        except OSError:
            (self.root / EVENTS_CHAIN_FILE).unlink(missing_ok=True)  # verify still checks the head; it cannot localise
        private_tree(self.root)
        try:
            write_manifest(self.root, chain_head=self._chain.decode(), event_count=self._seq)
        except OSError as exc:
            raise CaptureError(f"cannot write {self.root / 'manifest.json'}: {exc}; the run is kept unsealed",
                               hint="free disk space, then `consentmon verify` will say what it holds") from exc
        make_private(self.root / "manifest.json")
        return self.root / RUN_FILE

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
