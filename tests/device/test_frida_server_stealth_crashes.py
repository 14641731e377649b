"""An app dying during a device run, on the simulated device: logcat's crash (`FATAL EXCEPTION`, `Fatal signal`)
and the tombstone (root only) are recorded with the last hooks that fired, the app is restarted once (a
recorded `relaunch-after-crash`), a second death ends the scenario; a stop the run made itself is no crash."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from monitor.device.adb import AndroidDevice
from monitor.device.app import LogcatCapture
from monitor.device.crash import parse_crashes, tombstone_digests
from monitor.runner.crashes import AppCrashes
from monitor.store.writer import RunWriter

PACKAGE = "com.example.hardened"


def java_crash(pid: int) -> list[str]:
    return [f"12-06 02:10:0{index}.000  {pid}  {pid} E AndroidRuntime: {text}" for index, text in enumerate([
        "FATAL EXCEPTION: main",
        f"Process: {PACKAGE}, PID: {pid}",
        "java.lang.SecurityException: instrumentation detected",
        "\tat com.secneo.guard.Check.run(Check.java:42)",
    ])]


def native_crash(pid: int, tombstone: str) -> list[str]:
    return [
        f"12-06 02:11:00.000  {pid}  {pid + 3} F libc    : Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), "
        f"fault addr 0x8 in tid {pid + 3} (pool-1), pid {pid} ({PACKAGE})",
        f"12-06 02:11:00.500  900  900 F DEBUG   : Tombstone written to: {tombstone}",
    ]


def test_logcat_crashes_of_the_app_are_parsed_and_others_left_out() -> None:
    other = [line.replace(PACKAGE, "com.other.app") for line in java_crash(77)]
    text = "\n".join(other + java_crash(1234) + native_crash(1300, "/data/tombstones/tombstone_04"))
    java, native = parse_crashes(text, PACKAGE)
    assert java.kind == "java" and java.pid == 1234 and java.process == PACKAGE and java.thread == "main"
    assert java.summary == "java.lang.SecurityException: instrumentation detected"
    assert java.lines[-1].strip().startswith("at com.secneo.guard.Check.run")
    assert native.kind == "native" and native.pid == 1300 and native.signal == "SIGSEGV" and native.thread == "pool-1"
    assert native.tombstone_path == "/data/tombstones/tombstone_04"
    assert parse_crashes(text.replace(PACKAGE, PACKAGE + ":push"), PACKAGE)[0].process == PACKAGE + ":push"


@dataclass
class FakeState:
    detached: threading.Event = field(default_factory=threading.Event)
    detach_reason: str | None = None
    crash: dict[str, Any] | None = None
    recent_apis: deque = field(default_factory=lambda: deque(maxlen=16))


@dataclass
class FakeAgents:
    processes: dict[int, FakeState] = field(default_factory=dict)


@dataclass
class FakeTarget:
    """The run's InstrumentedTarget as AppCrashes sees it: its pids, those it stopped itself, relaunch."""
    agents: FakeAgents
    pids: list[int] = field(default_factory=list)
    retired: set[int] = field(default_factory=set)
    relaunches: int = 0
    next_pid: int = 2000

    def launch(self) -> None:
        self.pids.append(self.next_pid)
        self.agents.processes[self.next_pid] = FakeState()
        self.next_pid += 1

    def relaunch(self) -> None:
        self.retired.update(self.pids)
        self.relaunches += 1
        self.launch()


def _events(out) -> list[dict]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def test_a_crash_is_recorded_with_its_tombstone_and_last_hooks_and_the_app_restarted_once(make_sim, tmp_path) -> None:
    sim = make_sim(14)
    device = AndroidDevice(sim.serial)
    sim.state.write_file("/data/tombstones/tombstone_00", b"pid: 11, tid: 11, name: old  >>> com.old <<<\nold crash\n")
    assert device.shell("ls /data/tombstones").ok is False                   # root only, as on a phone
    assert list(tombstone_digests(device)) == ["/data/tombstones/tombstone_00"]
    out = tmp_path / "run"
    writer = RunWriter(out, run_info={"target": {"kind": "device"}, "app": {"package": PACKAGE, "domains": []}})
    agents = FakeAgents()
    target = FakeTarget(agents)
    target.launch()
    first = target.pids[0]
    agents.processes[first].recent_apis.extend(["libc.so.open64", "libc.so.connect"])
    with LogcatCapture(device, out / "logcat.txt"):
        crashes = AppCrashes(device, PACKAGE, writer, agents, target, out / "logcat.txt", settle_seconds=5)
        assert crashes.check() is False and crashes.events == []              # alive: nothing to say
        # The app's protection kills it: a native fault, the agent's report, logcat and a new tombstone.
        agents.processes[first].crash = {"fault": "access-violation", "module": "libsecneo.so",
                                         "last_apis": ["libc.so.open64 (memory_map)", "libc.so.connect (frida_port)"]}
        sim.state.write_file("/data/tombstones/tombstone_01",
                             f"pid: {first}, tid: {first + 3}, name: pool-1  >>> {PACKAGE} <<<\nsignal 11 (SIGSEGV)\n".encode())
        sim.state.logcat.extend(native_crash(first, "/data/tombstones/tombstone_01"))
        agents.processes[first].detached.set()
        assert crashes.check() is False                                        # restarted: the scenario goes on
        assert target.relaunches == 1 and len(target.pids) == 2
        # The restarted app dies again, of an uncaught exception: recorded, not restarted.
        second = target.pids[1]
        sim.state.logcat.extend(java_crash(second))
        agents.processes[second].recent_apis.extend(["android.provider.Settings$Secure.getString"])
        agents.processes[second].detached.set()
        assert crashes.check() is True and target.relaunches == 1
    writer.close(exit_reason="app-crashed", interrupted=False, partial=False, gaps=[])
    events = _events(out)
    native, relaunch, java = [event for event in events if event["kind"] in ("crash", "mark")]
    assert native["kind"] == "crash" and native["category"] == "native" and native["pid"] == first
    assert native["payload"]["signal"] == "SIGSEGV" and native["payload"]["tombstone_path"] == "/data/tombstones/tombstone_01"
    assert native["payload"]["last_apis"] == ["libc.so.open64 (memory_map)", "libc.so.connect (frida_port)"]
    assert native["payload"]["agent_fault"]["module"] == "libsecneo.so"
    stored = out / native["payload"]["tombstone_file"]
    assert stored.read_bytes().startswith(f"pid: {first}".encode())
    assert relaunch["category"] == "relaunch-after-crash" and relaunch["payload"] == {
        "after_pids": [first], "ok": True, "error": None, "new_pid": second}
    assert java["category"] == "java" and java["pid"] == second and java["payload"]["tombstone_file"] is None
    assert java["payload"]["summary"] == "java.lang.SecurityException: instrumentation detected"
    assert java["payload"]["last_apis"] == ["android.provider.Settings$Secure.getString"]
    assert crashes.summary()["crashes"] == 2 and crashes.summary()["relaunched"] == 1 and crashes.summary()["gone"]


def test_a_death_without_a_crash_report_and_a_stop_the_run_made_are_told_apart(make_sim, tmp_path) -> None:
    sim = make_sim(14)
    device = AndroidDevice(sim.serial)
    out = tmp_path / "run"
    writer = RunWriter(out, run_info={"target": {"kind": "device"}, "app": {"package": PACKAGE, "domains": []}})
    agents = FakeAgents()
    target = FakeTarget(agents)
    target.launch()
    (out / "logcat.txt").write_text("")
    crashes = AppCrashes(device, PACKAGE, writer, agents, target, out / "logcat.txt", settle_seconds=0.3)
    target.relaunch()                                     # the scenario's own relaunch: the old process is retired
    agents.processes[target.pids[0]].detached.set()
    assert crashes.check() is False and crashes.events == [] and target.relaunches == 1
    # The new process ends with nothing in logcat (killed, or Process.killProcess by a protection).
    agents.processes[target.pids[1]].detach_reason = "process-terminated"
    agents.processes[target.pids[1]].detached.set()
    started = time.monotonic()
    assert crashes.check() is False and target.relaunches == 2
    assert time.monotonic() - started >= 0.3              # waited for a crash report to arrive
    [died] = crashes.events
    assert died["category"] == "died" and died["payload"]["detach_reason"] == "process-terminated"
    writer.close(exit_reason="scenario-finished", interrupted=False, partial=False, gaps=[])
