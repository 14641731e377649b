"""`consentmon recover`: the flows a killed capture left in flows.spool, written out with their events.

The run stays unsealed: a killed capture's record is never presented as whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from monitor.errors import CaptureError
from monitor.events import KIND_FLOW
from monitor.store import EVENTS_FILE, FLOWS_FILE, MITM_FILE, SPOOL_FILE
from monitor.store.flows import DEFAULT_BODY_CAP, unspool
from monitor.store.writer import RESERVE_FILE, dump_line, to_record


class EventsAppender:
    """Appends events to the events.jsonl of a run whose capture was killed (never sealed): numbered on from
    its last whole line. A last line cut short (the process died inside a write) is moved, as it was, to
    events.jsonl.torn rather than left for the next line to be glued onto. The run stays unsealed: a killed
    capture's record is never presented as whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.torn = False
        size = path.stat().st_size
        with open(path, "rb") as handle:
            tail = b""
            # The last whole line: read backwards in blocks until a newline before it is found.
            position = size
            while position > 0:
                step = min(64 * 1024, position)
                position -= step
                handle.seek(position)
                tail = handle.read(step) + tail
                if tail.count(b"\n") >= 2 or (position == 0 and tail):
                    break
        keep = tail.rfind(b"\n") + 1
        if keep < len(tail):  # a torn last line
            with open(path.with_name(path.name + ".torn"), "ab") as side:
                side.write(tail[keep:])
                side.flush()
                os.fsync(side.fileno())
            os.truncate(path, size - (len(tail) - keep))
            self.torn = True
        last = tail[:keep].rstrip(b"\n").rsplit(b"\n", 1)[-1]
        self.seq = int(json.loads(last)["seq"]) + 1 if last.strip() else 0
        self.evented = _flow_ids_with_events(path)

    def append(self, events: list[dict[str, Any]]) -> None:
        lines = []
        for event in events:
            record = to_record(event)
            record.seq = self.seq  # type: ignore[attr-defined]
            self.seq += 1
            lines.append(dump_line(record))
        with open(self.path, "ab") as handle:
            handle.write(b"".join(lines))
            handle.flush()
            os.fsync(handle.fileno())


def _flow_ids_with_events(path: Path) -> frozenset[str]:
    """The flow ids that already have a `flow` event (a capture killed while it wrote them out at the end)."""
    found = set()
    marker = b'"kind":"%s"' % KIND_FLOW.encode()
    with open(path, "rb") as handle:
        for line in handle:
            if marker in line:
                flow_id = json.loads(line).get("flow_id")
                if flow_id:
                    found.add(flow_id)
    return frozenset(found)


def recover(run_dir: Path, body_cap: int = DEFAULT_BODY_CAP) -> tuple[int, str | None]:
    """Write out the flows a killed capture left in flows.spool: flows.mitm records, flows.jsonl lines and
    their events. Returns how many, and what was lost if the last one was cut short while it was written."""
    run_dir = Path(run_dir)
    spool = run_dir / SPOOL_FILE
    if not spool.exists():
        raise CaptureError(f"{spool} does not exist: nothing to recover", hint="this run's flows were already written out")
    events_path = run_dir / EVENTS_FILE
    if not events_path.exists():
        raise CaptureError(f"{events_path} is missing: {run_dir} is not a run directory `consentmon run` wrote",
                           hint="point at the run directory whose capture was killed")
    try:
        events = EventsAppender(events_path)
    except (ValueError, KeyError, TypeError) as exc:
        raise CaptureError(f"{events_path}: its last line is not an event ({exc})",
                           hint="the file was edited; restore it, then run `consentmon recover` again") from exc
    with open(run_dir / FLOWS_FILE, "wb") as jsonl:  # derived from the spool only: afresh, like flows.mitm
        count, cut_short = unspool(spool, run_dir / MITM_FILE, lambda record: jsonl.write(dump_line(record)),
                                   events.append, body_cap, evented=events.evented)
        jsonl.flush()
        os.fsync(jsonl.fileno())
    # The room a capture keeps for sealing itself: a killed one never used it.
    (run_dir / RESERVE_FILE).unlink(missing_ok=True)
    if events.torn:
        torn = f"the last line of {EVENTS_FILE} was cut short by the kill; it is kept as it was in {EVENTS_FILE}.torn"
        cut_short = f"{cut_short}; {torn}" if cut_short else torn
    return count, cut_short
