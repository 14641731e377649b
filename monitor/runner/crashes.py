"""The app dying during a device run (a hardened app killing itself once it sees the hooks, a crash under them):
each death is one `crash` event from the device — logcat's crash (`FATAL EXCEPTION` / `Fatal signal`), the
tombstone debuggerd wrote (kept in the run as crash-tombstone_NN.txt), the native fault the agent saw and the
last hooks that fired before it — and the scenario restarts the app once (a `relaunch-after-crash` mark) and
goes on; a second death ends the scenario."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from monitor.device.adb import AndroidDevice
from monitor.device.crash import Crash, new_tombstones, parse_crashes, read_tombstone, tombstone_digests, tombstone_pid
from monitor.errors import MonitorError
from monitor.store.writer import RunWriter

KIND_CRASH = "crash"


class _Agents(Protocol):
    processes: dict[int, Any]


class _Target(Protocol):
    pids: list[int]
    retired: set[int]

    def relaunch(self) -> None: ...


class AppCrashes:
    def __init__(self, device: AndroidDevice, package: str, writer: RunWriter, agents: _Agents, target: _Target,
                 logcat_path: Path, *, relaunches: int = 1, settle_seconds: float = 3.0,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.device = device
        self.package = package
        self.writer = writer
        self.agents = agents
        self.target = target
        self.logcat_path = Path(logcat_path)
        self.relaunches_left = relaunches
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.tombstones = tombstone_digests(device)
        self.recorded: set[tuple[str, int | None, str]] = set()
        self.handled: set[int] = set()
        self.events: list[dict[str, Any]] = []
        self.relaunched = 0
        self.gone = False

    # ---- between scenario steps ---------------------------------------------------------------

    def check(self) -> bool:
        """True when the app died and may not be restarted again (the scenario stops); cheap when nothing died."""
        dead = [pid for pid in list(self.target.pids) if pid not in self.handled and pid not in self.target.retired
                and (state := self.agents.processes.get(pid)) is not None and state.detached.is_set()]
        if not dead:
            return self.gone
        for pid in dead:
            self.handled.add(pid)
            self.record(died=pid)
        if self.relaunches_left > 0:
            self.relaunches_left -= 1
            self._relaunch(dead)
        else:
            self.gone = True
        return self.gone

    def _relaunch(self, dead: list[int]) -> None:
        started = self.clock()
        error: str | None = None
        try:
            self.target.relaunch()
            self.relaunched += 1
        except MonitorError as exc:
            error = str(exc)
            self.gone = True
        self.writer.append({"source": "scenario", "kind": "mark", "ts": started, "api": "relaunch",
                            "category": "relaunch-after-crash",
                            "payload": {"after_pids": dead, "ok": error is None, "error": error,
                                        "new_pid": self.target.pids[-1] if error is None and self.target.pids else None}})

    # ---- recording ----------------------------------------------------------------------------

    def _logcat(self) -> str:
        try:
            return self.logcat_path.read_text(errors="replace")
        except OSError:
            return ""

    def record(self, died: int | None = None) -> list[dict[str, Any]]:
        """Record every crash of the app in logcat not recorded yet, each with its tombstone; `died`: a process
        known dead (its crash lines may still be on their way: waited for, then recorded as died without one)."""
        deadline = time.monotonic() + (self.settle_seconds if died is not None else 0.0)
        while True:
            crashes = [crash for crash in parse_crashes(self._logcat(), self.package) if crash.key() not in self.recorded]
            if died is None or any(crash.pid == died for crash in crashes) or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        tombstones = self._new_tombstones()
        out = [self._record_crash(crash, tombstones) for crash in crashes]
        if died is not None and not any(crash.pid == died for crash in crashes):
            out.append(self._append(died, None, "died", {
                "summary": "the process ended with no crash in logcat (killed, or it ended itself)",
                "detach_reason": getattr(self.agents.processes.get(died), "detach_reason", None)}))
        return out

    def _new_tombstones(self) -> dict[int | None, tuple[str, str]]:
        """pid → (device path, run file) of each tombstone written since the last look, copied into the run."""
        after = tombstone_digests(self.device)
        found: dict[int | None, tuple[str, str]] = {}
        for path in new_tombstones(self.tombstones, after):
            try:
                data = read_tombstone(self.device, path)
            except MonitorError:
                continue
            name = f"crash-{path.rsplit('/', 1)[-1]}-{len(self.events) + len(found)}.txt"
            with self.writer.open_log(name) as out:
                out.write(data)
            found[tombstone_pid(data.decode(errors="replace"))] = (path, name)
        self.tombstones = after
        return found

    def _record_crash(self, crash: Crash, tombstones: dict[int | None, tuple[str, str]]) -> dict[str, Any]:
        self.recorded.add(crash.key())
        if crash.pid is not None:
            self.handled.add(crash.pid)
        tombstone = tombstones.get(crash.pid)
        payload = crash.as_payload()
        payload["tombstone_file"] = tombstone[1] if tombstone else None
        if tombstone is not None and payload["tombstone_path"] is None:
            payload["tombstone_path"] = tombstone[0]
        return self._append(crash.pid, crash.process, crash.kind, payload)

    def _append(self, pid: int | None, process: str | None, category: str, payload: dict[str, Any]) -> dict[str, Any]:
        state = self.agents.processes.get(pid) if pid is not None else None
        fault = getattr(state, "crash", None)
        payload["agent_fault"] = fault
        # The hooks that fired last in that process: the agent's own list at a native fault, else the host's.
        payload["last_apis"] = (fault or {}).get("last_apis") or (list(state.recent_apis) if state is not None else [])
        now = self.clock()
        event = {"source": "device", "kind": KIND_CRASH, "ts": now, "device_ts": None, "pid": pid,
                 "process": process or self.package, "category": category, "api": "logcat" if category != "died" else None,
                 "payload": payload}
        self.writer.append(event)
        self.events.append(event)
        return event

    def summary(self) -> dict[str, Any]:
        return {"crashes": len(self.events), "relaunched": self.relaunched, "gone": self.gone,
                "events": [{"pid": event["pid"], "category": event["category"],
                            "summary": event["payload"].get("summary"),
                            "tombstone_file": event["payload"].get("tombstone_file")} for event in self.events]}
