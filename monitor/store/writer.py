"""Append-only writer of a run directory.

Every event is validated, numbered, written as one JSON line and flushed at once, and folded into a
SHA-256 hash chain (chain_n = sha256(chain_{n-1} || line_n)) whose head goes into the manifest; so a
line changed, dropped or reordered later is detected by `verify`. A write that fails raises
`CaptureError`: capture stops loudly rather than losing evidence.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from monitor.errors import CaptureError
from monitor.events import Event
from monitor.store import EVENTS_FILE, FLOWS_FILE, RUN_FILE, SCREENS_DIR
from monitor.store.manifest import write_manifest

GENESIS = "0" * 64


def dump_line(record: dict[str, Any]) -> bytes:
    """The one serialisation of a record: compact, keys sorted, UTF-8, newline-terminated."""
    return (json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()


def chain_next(previous: str, line: bytes) -> str:
    return hashlib.sha256(previous.encode() + line).hexdigest()


class RunWriter:
    """Writes one run directory. Thread-safe: the agent, the proxy and the scenario all append."""

    def __init__(self, root: Path, *, run_info: dict[str, Any]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if (self.root / EVENTS_FILE).exists():
                raise CaptureError(
                    f"{self.root} already holds a run ({EVENTS_FILE} exists)",
                    hint="choose an empty --out directory; runs are never overwritten",
                )
            (self.root / SCREENS_DIR).mkdir(exist_ok=True)
            self._events: BinaryIO = open(self.root / EVENTS_FILE, "ab")
            self._flows: BinaryIO = open(self.root / FLOWS_FILE, "ab")
        except OSError as exc:
            raise CaptureError(f"cannot create run directory {self.root}: {exc}") from exc
        self._lock = threading.Lock()
        self._seq = 0
        self._chain = GENESIS
        self._closed = False
        self.counts: dict[str, int] = {}
        self.run_info: dict[str, Any] = {"schema": 1, "started_ns": time.time_ns(), **run_info}
        self.write_run_info()

    @property
    def seq(self) -> int:
        return self._seq

    def append(self, event: Event | dict[str, Any]) -> int:
        """Validate, number, write and flush one event. Returns its seq."""
        record = event.model_dump() if isinstance(event, Event) else Event.model_validate(event).model_dump()
        with self._lock:
            if self._closed:
                raise CaptureError("an event arrived after the run was closed; it would be lost")
            record["seq"] = self._seq
            line = dump_line(record)
            self._write(self._events, line, EVENTS_FILE)
            self._chain = chain_next(self._chain, line)
            self._seq += 1
            key = f"{record['source']}:{record['kind']}"
            self.counts[key] = self.counts.get(key, 0) + 1
            return record["seq"]

    def append_many(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.append(event)

    def append_flow(self, flow_record: dict[str, Any]) -> None:
        """One decoded HTTP exchange (see capture.addon for its fields)."""
        with self._lock:
            if self._closed:
                raise CaptureError("a flow arrived after the run was closed; it would be lost")
            self._write(self._flows, dump_line(flow_record), FLOWS_FILE)

    def _write(self, handle: BinaryIO, line: bytes, name: str) -> None:
        try:
            handle.write(line)
            handle.flush()
        except OSError as exc:
            raise CaptureError(f"cannot write {self.root / name}: {exc}", hint="free disk space or choose another --out") from exc

    def write_run_info(self, **updates: Any) -> None:
        self.run_info.update(updates)
        tmp = self.root / (RUN_FILE + ".tmp")
        try:
            tmp.write_text(json.dumps(self.run_info, ensure_ascii=False, indent=2, sort_keys=True))
            os.replace(tmp, self.root / RUN_FILE)
        except OSError as exc:
            raise CaptureError(f"cannot write {self.root / RUN_FILE}: {exc}") from exc

    def close(self, **run_updates: Any) -> Path:
        """Flush, fsync, record the end and seal the directory with a manifest. Idempotent."""
        with self._lock:
            if self._closed:
                return self.root / RUN_FILE
            self._closed = True
            for handle in (self._events, self._flows):
                try:
                    handle.flush()
                    os.fsync(handle.fileno())
                finally:
                    handle.close()
        self.write_run_info(ended_ns=time.time_ns(), event_count=self._seq, event_counts=dict(sorted(self.counts.items())), **run_updates)
        write_manifest(self.root, chain_head=self._chain, event_count=self._seq)
        return self.root / RUN_FILE

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
