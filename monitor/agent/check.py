"""`consentmon catalogue --check -- CMD`: which catalogue entries install and fire in a real process.

The command runs under the agent on this machine (child processes included) until it ends or the
time is up; nothing is written to disk. Per entry: jobs installed, jobs failed (with the first
error) and events fired, so a catalogue change can be checked against a target before a real run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.agent.programs import is_jvm_command, resolve_program
from monitor.agent.session import AgentHost, AgentOptions, kill_quietly, local_device, wait_for_exit
from monitor.data.models import Catalogue
from monitor.store.sink import event_dict


class CountingSink:
    """Keeps agent events in memory (a check records nothing on disk)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, event: dict[str, Any]) -> int:
        with self._lock:
            self.events.append(event)
            return len(self.events)

    def append_many(self, events: Iterable[Any]) -> int:
        batch = [event_dict(event) for event in events]
        with self._lock:
            self.events.extend(batch)
        return len(batch)


@dataclass
class EntryCheck:
    api: str
    category: str
    kind: str
    condition: str | None
    installed: int = 0
    failed: int = 0
    fired: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"api": self.api, "category": self.category, "kind": self.kind, "when": self.condition,
                "installed": self.installed, "failed": self.failed, "fired": self.fired, "errors": self.errors[:3]}


@dataclass
class CatalogueCheck:
    argv: list[str]
    processes: list[int]
    exit_reason: str
    entries: list[EntryCheck]
    script_errors: int


def check_catalogue(argv: list[str], catalogue: Catalogue, *, duration: float = 30.0,
                    own_package: str | None = None) -> CatalogueCheck:
    argv = resolve_program(argv)
    options = AgentOptions(wait_for_jvm=is_jvm_command(argv), own_package=own_package, importance_poll_ms=0)
    sink = CountingSink()
    device = local_device()
    host = AgentHost(device, sink, catalogue, options)
    pid = host.spawn(argv)
    host.resume(pid)
    deadline = time.monotonic() + duration
    exit_reason = "duration-elapsed"
    try:
        while time.monotonic() < deadline:
            host.check()
            if host.any_ending():
                exit_reason = "target-ended"
                break
            time.sleep(0.02)
    finally:
        host.finish()
        if not wait_for_exit(pid, timeout=5):
            kill_quietly(device, pid)
    host.check()
    return CatalogueCheck(argv=argv, processes=sorted(host.processes), exit_reason=exit_reason,
                          entries=_tally(catalogue, host, sink), script_errors=host.script_errors)


def _tally(catalogue: Catalogue, host: AgentHost, sink: CountingSink) -> list[EntryCheck]:
    rows: dict[tuple[str, str], EntryCheck] = {}
    for entry in catalogue.hooks:
        condition = f"{'this' if entry.when.receiver else f'arg{entry.when.arg}'} {entry.when.match} " \
                    f"{','.join(entry.when.values)}" if entry.when else None
        rows.setdefault((entry.api, entry.category), EntryCheck(entry.api, entry.category, entry.kind, condition))
    for native in catalogue.native:
        condition = f"arg{native.when.arg} {native.when.match} {','.join(native.when.values)}" if native.when else None
        rows.setdefault((native.api, native.category), EntryCheck(native.api, native.category, native.kind, condition))
    by_api: dict[str, list[EntryCheck]] = {}
    for row in rows.values():
        by_api.setdefault(row.api, []).append(row)
    for state in host.processes.values():
        for job in state.jobs:
            for row in by_api.get(job.get("api", ""), []):
                if job.get("status") == "installed":
                    row.installed += 1
                elif job.get("status") == "failed":
                    row.failed += 1
                    if job.get("error"):
                        row.errors.append(str(job["error"]))
    for event in sink.events:
        row = rows.get((event.get("api") or "", event.get("category") or ""))
        if row is not None and event.get("source") == "hook":
            row.fired += 1
    return list(rows.values())
