"""Reads a run directory for analysis. Never talks to a device; refuses a broken run with a message
that names the file and line and says what to do.

events.jsonl can hold millions of lines, so it is decoded by msgspec straight into typed rows (checked
against the Event schema in C, much faster than json + pydantic per line) block by block, and each
block goes into columns at once: the parsed lines of the whole file never exist together. A block that
msgspec refuses is re-read line by line with the standard library and the Event model, which accept
the same things the writer may produce (NaN, very large integers) and name the first bad line.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from pydantic import ValidationError

from monitor.errors import RunDirError
from monitor.events import EVENT_FIELDS, Event
from monitor.store import EVENTS_FILE, FLOWS_FILE, MANIFEST_FILE, RUN_FILE, SPOOL_FILE

BLOCK_BYTES = 16 << 20
RUN_SCHEMA = 1  # run.json `schema`, as the writer writes it
# Columns whose values repeat across millions of reads (a process, an API, the same IMEI read again): each
# distinct text is kept once, which is most of the memory a large run would otherwise take.
SHARED_TEXT_COLUMNS = frozenset({"source", "kind", "process", "thread", "category", "api", "value", "sdk", "flow_id"})
GETTERS = {name: attrgetter(name) for name in EVENT_FIELDS}
INTEGER_COLUMNS = frozenset({"ts", "seq"})
BAD_RUN_HINT = "the file was edited or truncated; re-capture, or restore it from the sealed copy"


NULL_JSON = msgspec.Raw(b"null")


def _row_type() -> type[msgspec.Struct]:
    """The Event schema as a msgspec struct. Built from the pydantic model so the two cannot drift; `seq` is
    required here (the writer numbers every line, and analysis orders by it)."""
    fields: list[tuple[Any, ...]] = []
    for name, info in Event.model_fields.items():
        if name == "stack":
            # Kept as its JSON text: a run repeats a few thousand stacks millions of times, and each distinct
            # text is decoded (and checked against the schema) once, see `_stacks_of`.
            fields.append((name, msgspec.Raw, NULL_JSON))
        elif info.is_required() or name == "seq":
            fields.append((name, info.annotation))
        else:
            fields.append((name, info.annotation, info.default))
    # gc=False: rows hold no cycles, and a million tracked objects would make the collector rescan them.
    return msgspec.defstruct("EventRow", fields, gc=False, forbid_unknown_fields=True, kw_only=True)


EventRow = _row_type()
_DECODER = msgspec.json.Decoder(EventRow)
_STACK_DECODER = msgspec.json.Decoder(Event.model_fields["stack"].annotation)


@dataclass
class Run:
    root: Path
    info: dict[str, Any]
    events: pd.DataFrame
    flows: list[dict[str, Any]] = field(default_factory=list)
    sealed: bool = True
    # What the reader left out and why (a last line cut short by a kill), one sentence each.
    warnings: list[str] = field(default_factory=list)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc).splitlines()[0]


def _check_line(line: bytes) -> Event:
    record = json.loads(line)
    if isinstance(record, dict) and "seq" not in record:
        raise ValueError("seq: Field required (every line of events.jsonl is numbered by the writer)")
    return Event.model_validate(record)


def _first_bad_line(path: Path) -> str:
    """Find the first line of a JSONL file that is not a valid Event, for the error message."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue  # blank lines carry nothing and are skipped by the reader too
            try:
                _check_line(line)
            except (ValueError, UnicodeDecodeError) as exc:
                return f"{path}:{number}: {_describe(exc)}"
    return f"{path}: unreadable"


def _row_of_line(path: Path, number: int, line: bytes) -> Any:
    try:
        return _DECODER.decode(line)
    except msgspec.DecodeError:
        pass
    try:
        event = _check_line(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunDirError(f"cannot read events: {path}:{number}: {_describe(exc)}", hint=BAD_RUN_HINT) from exc
    record = event.model_dump()
    record["stack"] = msgspec.Raw(msgspec.json.encode(record["stack"]))
    return EventRow(**record)


def _line_number_at(path: Path, offset: int) -> int:
    """The number of the line that starts at byte `offset` (only needed to name a bad line)."""
    number = 1
    with open(path, "rb") as handle:
        while offset > 0:
            chunk = handle.read(min(offset, BLOCK_BYTES))
            if not chunk:
                break
            number += chunk.count(b"\n")
            offset -= len(chunk)
    return number


def _rows_of_block(path: Path, offset: int, block: memoryview) -> list[Any]:
    try:
        return _DECODER.decode_lines(block)
    except msgspec.DecodeError:
        pass
    first_number = _line_number_at(path, offset)
    rows = []
    for index, line in enumerate(bytes(block).split(b"\n")):
        if line.strip():
            rows.append(_row_of_line(path, first_number + index, line))
    return rows


def _blocks(path: Path, end: int | None = None) -> Iterator[tuple[int, memoryview]]:
    """(byte offset, whole lines of about BLOCK_BYTES) through the file (up to byte `end`). The partial line at
    the end of a read is read again with the next block rather than copied onto it."""
    offset = 0
    with open(path, "rb") as handle:
        while True:
            handle.seek(offset)
            data = handle.read(BLOCK_BYTES if end is None else min(BLOCK_BYTES, end - offset))
            if not data:
                return
            cut = data.rfind(b"\n") + 1
            while cut == 0:  # one line longer than a block
                more = handle.read(BLOCK_BYTES if end is None else min(BLOCK_BYTES, end - offset - len(data)))
                data += more
                cut = data.rfind(b"\n") + 1 if more else len(data)
            yield offset, memoryview(data)[:cut]
            offset += cut


@contextmanager
def _collector_paused() -> Iterator[None]:
    # Building millions of lists (stacks) would trigger full collections over an ever larger heap; nothing
    # built here is cyclic, so pausing the collector loses nothing. It is restored as it was found.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _stacks_of(path: Path, texts: list[Any], stacks: dict[bytes, list[str] | None]) -> Any:
    """Each row's stack from its JSON text; rows with the same text share one list (decoded once)."""
    keys = list(map(bytes, texts))
    for key in set(keys).difference(stacks):
        try:
            stacks[key] = _STACK_DECODER.decode(key)
        except msgspec.DecodeError as exc:
            raise RunDirError(f"cannot read events: {_first_bad_line(path)}", hint=BAD_RUN_HINT) from exc
    return map(stacks.__getitem__, keys)


class _Columns:
    """One growing numpy array per Event field, filled block by block. Sized from the first block's bytes
    per line, so a file is normally filled without a single copy of what was read before."""

    def __init__(self, file_bytes: int) -> None:
        self.size = 0
        self.capacity = 0
        self.file_bytes = file_bytes
        self.arrays: dict[str, np.ndarray] = {}

    def _grow(self, needed: int, bytes_per_line: float) -> None:
        estimate = int(self.file_bytes / max(bytes_per_line, 1.0) * 1.05) + 1024
        capacity = max(needed, estimate, 2 * self.capacity)
        for name in EVENT_FIELDS:
            grown = np.empty(capacity, dtype=np.int64 if name in INTEGER_COLUMNS else object)
            if self.capacity:
                grown[: self.size] = self.arrays[name][: self.size]
            self.arrays[name] = grown
        self.capacity = capacity

    def append(self, name: str, values: Any, count: int) -> None:
        target = self.arrays[name]
        if name in INTEGER_COLUMNS:
            target[self.size: self.size + count] = values
        else:
            # fromiter keeps each value one cell (a list stays a list, never a row of cells).
            target[self.size: self.size + count] = np.fromiter(values, dtype=object, count=count)

    def reserve(self, count: int, bytes_per_line: float) -> None:
        if self.size + count > self.capacity:
            self._grow(self.size + count, bytes_per_line)

    def frame(self) -> pd.DataFrame:
        if not self.arrays:  # an empty file: no block was read
            self._grow(0, float(max(self.file_bytes, 1)))
        return pd.DataFrame({name: pd.Series(array[: self.size], dtype=array.dtype, copy=False)
                             for name, array in self.arrays.items()}, copy=False)


def _torn_tail(path: Path, size: int) -> tuple[int, str | None]:
    """Where the whole lines of `path` end, and what was cut if its last line is incomplete: a capture killed
    while it wrote a line leaves the start of that line without its newline (and without its end)."""
    if size == 0:
        return size, None
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return size, None
        position = size
        tail = b""
        while position > 0 and b"\n" not in tail:
            step = min(64 * 1024, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
    start = position + tail.rfind(b"\n") + 1
    with open(path, "rb") as handle:
        handle.seek(start)
        last = handle.read(size - start)
    try:
        _DECODER.decode(last)
        return size, None  # a whole event that only lacks its newline
    except msgspec.DecodeError:
        pass
    number = _line_number_at(path, start)
    return start, (f"{path}:{number}: the last line is cut short ({len(last)} bytes, no newline): the capture was "
                   f"stopped while writing it; it is left out, every line before it is read")


def read_events(path: Path, *, torn_tail: list[str] | None = None) -> pd.DataFrame:
    """events.jsonl → DataFrame with exactly the Event columns (object dtype, None for missing; ts and seq
    int64), sorted by seq. Equal texts and equal stacks are shared objects: treat cells as read-only.

    `torn_tail` (a list): a last line cut short by a kill is left out and said in the list, rather than
    refused; for a run that was never sealed, where that is what a kill leaves."""
    if not path.exists():
        raise RunDirError(f"{path} is missing", hint="point at a run directory written by `consentmon run`")
    _require_regular(path)
    end: int | None = None
    if torn_tail is not None:
        size = path.stat().st_size
        end, said = _torn_tail(path, size)
        if said is not None:
            torn_tail.append(said)
    columns = _Columns(path.stat().st_size)
    shared: dict[Any, Any] = {}
    stacks: dict[bytes, list[str] | None] = {}
    with _collector_paused():
        for offset, block in _blocks(path, end):
            rows = _rows_of_block(path, offset, block)
            count = len(rows)
            if not count:
                continue
            columns.reserve(count, len(block) / count)
            for name in EVENT_FIELDS:
                values = list(map(GETTERS[name], rows))
                if name in SHARED_TEXT_COLUMNS:
                    values = map(shared.setdefault, values, values)
                elif name == "stack":
                    values = _stacks_of(path, values, stacks)
                columns.append(name, values, count)
            columns.size += count
            del rows
        frame = columns.frame()
    seqs = frame["seq"].to_numpy()
    if len(seqs) > 1 and not bool((seqs[1:] >= seqs[:-1]).all()):
        frame = frame.sort_values("seq", kind="stable").reset_index(drop=True)
    return frame


def _require_regular(path: Path) -> None:
    """A file of a run is a plain file inside it: a link (to /dev/zero, to a file of this machine) or a FIFO in a
    run directory from elsewhere would make analysis hang, or read what is not the run's."""
    if path.is_symlink() or not path.is_file():
        raise RunDirError(f"{path} is not a regular file (a symbolic link, a device or a pipe)",
                          hint="a run directory holds plain files only; copy the run without links (cp -rL is not it: re-capture)")


def read_flows(path: Path, *, torn_tail: list[str] | None = None) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    if not path.exists() and not path.is_symlink():
        return flows
    _require_regular(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise json.JSONDecodeError("a flow is a JSON object", line, 0)
                flows.append(record)
            except json.JSONDecodeError as exc:
                if torn_tail is not None and not line.endswith("\n"):
                    torn_tail.append(f"{path}:{number}: the last line is cut short (no newline); it is left out")
                    break
                raise RunDirError(f"{path}:{number}: not JSON ({exc.msg})", hint="the file was truncated or edited; re-capture") from exc
    return flows


def read_run_info(root: Path | str) -> dict[str, Any]:
    """run.json of a run directory, checked (a JSON object of the schema this version reads)."""
    root = Path(root)
    if not root.is_dir():
        raise RunDirError(f"{root} is not a directory", hint="pass the directory `consentmon run --out` wrote")
    run_path = root / RUN_FILE
    if not run_path.exists() and not run_path.is_symlink():
        raise RunDirError(f"{run_path} is missing: {root} is not a consentmon run directory",
                          hint="pass the directory `consentmon run --out` wrote")
    _require_regular(run_path)
    try:
        info = json.loads(run_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{run_path}:{exc.lineno}: not valid JSON ({exc.msg})",
                          hint="run.json is rewritten whole at every update; restore it from the sealed copy or re-capture") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{run_path}: cannot read ({exc})", hint="restore it from the sealed copy or re-capture") from exc
    if not isinstance(info, dict):
        raise RunDirError(f"{run_path}:1: not a run description (a JSON object)", hint="restore it from the sealed copy or re-capture")
    schema = info.get("schema", 1)
    if schema != RUN_SCHEMA:
        raise RunDirError(f"{run_path}: run directory schema {schema!r}; this consentmon reads schema {RUN_SCHEMA}",
                          hint="analyze it with the consentmon version that recorded it (run.json `tool.version`)")
    return info


def read_run(root: Path | str) -> Run:
    root = Path(root)
    info = read_run_info(root)
    if (root / SPOOL_FILE).exists():
        raise RunDirError(f"{root / SPOOL_FILE} exists: the capture was stopped before its flows were written out, "
                          f"so flows.jsonl and flows.mitm are incomplete",
                          hint=f"run `consentmon recover {root}` to write them from the spool, then analyze again")
    sealed = (root / MANIFEST_FILE).exists()
    # A run never sealed (its capture was killed) may end in a line cut short: reported and left out. In a
    # sealed run every line was whole when sealed, so a cut one is damage and refused.
    warnings: list[str] | None = None if sealed else []
    events = read_events(root / EVENTS_FILE, torn_tail=warnings)
    flows = read_flows(root / FLOWS_FILE, torn_tail=warnings)
    return Run(root=root, info=info, events=events, flows=flows, sealed=sealed, warnings=warnings or [])
