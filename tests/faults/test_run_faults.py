"""Faults during a run of the demo app under the real `consentmon run --host` (real Frida, real mitmproxy, a
real JVM): the app killed, the monitor sent SIGINT, SIGTERM or SIGKILL, the capture proxy dying, the disk
filling. In every case no event written before the fault is lost, and the run directory stays analysable —
sealed (or recovered) and marked partial, with the gap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from faults.faultkit import (alive, consentmon, demo_argv, event_lines, hook_reads, kill_if_alive, output_of,
                             run_info, start_host_run, target_pid, wait_for)
from monitor.analysis import analyze_run
from monitor.devci.exitcodes import ExitCode
from monitor.store.manifest import verify_run
from monitor.store.reader import read_run

pytestmark = [pytest.mark.frida, pytest.mark.proxy]

# The demo with long pauses: the Umeng SDK's reads and uploads happen in its first second, then it waits
# 4 s for the consent; the faults strike in that wait, with events written and flows in the spool.
PAUSE_MS = 4000


def _mid_run(out: Path) -> bytes:
    """Wait until the run has PI reads on disk and a flow in the spool; the whole lines written by then."""
    wait_for(lambda: _ended_early(out) or len(hook_reads(out)) >= 3 and (out / "flows.spool").exists() and (out / "flows.spool").stat().st_size > 0,
             60, "the demo's first reads and uploads")
    return b"".join(line for line in event_lines(out) if line.endswith(b"\n"))


def _ended_early(out: Path) -> bool:
    """The run ended before the fault could strike (it failed to start): said at once, with its output."""
    if (out / "manifest.json").exists() and len(hook_reads(out)) < 3:
        raise AssertionError(f"the run ended before the fault: {output_of(out)[-2000:]}")
    return False


def _assert_nothing_lost(before: bytes, out: Path) -> None:
    after = (out / "events.jsonl").read_bytes()
    assert after.startswith(before), "an event written before the fault changed or disappeared"
    assert len(before.splitlines()) >= 3


def _assert_analysable(out: Path) -> None:
    run = read_run(out)
    assert len(run.events) > 0
    findings = analyze_run(out)
    assert findings.cases, "the Umeng reads before consent are still a case"


# SIGHUP takes SIGTERM's path (monitor/runner/common.py stop_signals_as_interrupt).
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_cleanly_sealed_partial_with_the_target_ended(tmp_path, signum):
    out = tmp_path / "run"
    process = start_host_run(out, demo_argv(pause_ms=PAUSE_MS))
    pid = None
    try:
        before = _mid_run(out)
        pid = target_pid(out)
        process.send_signal(signum)
        assert process.wait(60) == 0, output_of(out)
        assert pid is not None and not alive(pid), "the target was left running"
        info = run_info(out)
        assert info["interrupted"] and info["partial"] and info["exit_reason"] == "interrupted"
        assert verify_run(out) == []                       # sealed: manifest and hash chain intact
        assert not (out / "flows.spool").exists()          # flows written out before the seal
        _assert_nothing_lost(before, out)
        assert read_run(out).flows, "the uploads before the signal are in flows.jsonl"
        _assert_analysable(out)
    finally:
        process.kill()
        kill_if_alive(pid)


def test_sigkill_leaves_a_run_that_recover_makes_analysable(tmp_path):
    out = tmp_path / "run"
    process = start_host_run(out, demo_argv(pause_ms=PAUSE_MS))
    pid = None
    try:
        before = _mid_run(out)
        pid = target_pid(out)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        spooled = (out / "flows.spool").stat().st_size
        assert spooled > 0 and not (out / "manifest.json").exists()
        recovered = consentmon("recover", str(out))
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
        assert not (out / ".seal-reserve.tmp").exists()
        _assert_nothing_lost(before, out)
        run = read_run(out)
        assert run.flows and not run.sealed
        assert any(event == "flow" for event in run.events["kind"])
        problems = verify_run(out)
        assert problems and "not closed" in problems[0]    # a killed capture is never presented as whole
        assert consentmon("verify", str(out)).returncode == ExitCode.RUN_DIR
        _assert_analysable(out)
    finally:
        process.kill()
        kill_if_alive(pid)  # a SIGKILLed monitor cannot end its target: see RELIABILITY.md


# SIGKILL: killed; SIGSEGV sent to a JVM: HotSpot's handler takes it for a crash, writes hs_err and aborts.
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSEGV], ids=["killed", "crashed"])
def test_the_app_killed_mid_run_is_a_gap_in_a_sealed_partial_run(tmp_path, signum):
    out = tmp_path / "run"
    process = start_host_run(out, demo_argv(pause_ms=PAUSE_MS))
    pid = None
    try:
        before = _mid_run(out)
        pid = target_pid(out)
        last_seq = len(before.splitlines()) - 1
        os.kill(pid, signum)
        assert process.wait(60) == 0, output_of(out)
        assert "target-lost" in output_of(out)
        info = run_info(out)
        assert info["exit_reason"] == "target-lost" and info["partial"]
        [gap] = info["gaps"]
        assert gap["what"] == "target-lost" and gap["pid"] == pid and gap["after_seq"] >= last_seq
        events = [json.loads(line) for line in event_lines(out)]
        assert [event["category"] for event in events if event["kind"] == "gap"] == ["target-lost"]
        assert verify_run(out) == []
        _assert_nothing_lost(before, out)
        _assert_analysable(out)
    finally:
        process.kill()
        kill_if_alive(pid)


def test_a_dying_capture_proxy_stops_the_run_loudly_sealed_partial_with_the_gap(tmp_path, monkeypatch):
    from monitor.capture.proxy import CaptureProxy
    from monitor.demo import DEMO_PACKAGE
    from monitor.errors import CaptureError
    from monitor.runner import host as host_runner

    proxies: list[CaptureProxy] = []

    class Recorded(CaptureProxy):
        def start(self) -> CaptureProxy:
            proxies.append(self)
            return super().start()

    monkeypatch.setattr(host_runner, "CaptureProxy", Recorded)
    out = tmp_path / "run"
    seen: dict[str, bytes] = {}

    def kill_the_proxy() -> None:
        seen["before"] = _mid_run(out)
        proxy = proxies[0]
        proxy._loop.call_soon_threadsafe(proxy._master.shutdown)   # mitmproxy's loop ends under the capture

    killer = threading.Thread(target=kill_the_proxy, daemon=True)
    killer.start()
    with pytest.raises(CaptureError) as error:
        host_runner.run_host(host_runner.HostRunConfig(argv=demo_argv(pause_ms=PAUSE_MS), out=out, duration=60,
                                                       app_package=DEMO_PACKAGE, block_upstream=True,
                                                       confdir=tmp_path / "mitm"))
    killer.join(5)
    assert "capture proxy" in error.value.message and "stopped" in error.value.message and error.value.hint
    info = run_info(out)
    assert info["partial"] and info["exit_reason"] == "error" and "capture proxy" in info["capture_failure"]
    assert [gap["what"] for gap in info["gaps"]] == ["run-stopped"]
    assert verify_run(out) == []
    _assert_nothing_lost(seen["before"], out)
    assert read_run(out).flows, "the flows recorded before the proxy died were written out"
    _assert_analysable(out)


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only), else skip: the disk the run fills."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_the_run_cleanly_says_so_and_keeps_what_was_written(small_disk, tmp_path):
    from monitor.store.writer import RESERVE_BYTES

    # Room for the run's start and the seal reserve, then ~24 KiB: the demo's events fill it mid-run.
    ballast = small_disk / "ballast"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    ballast.write_bytes(bytes(free - RESERVE_BYTES - 24 * 1024))
    out = small_disk / "run"
    process = start_host_run(out, demo_argv(pause_ms=300), logs=tmp_path / "logs")
    pid = None
    try:
        rc = process.wait(120)
        pid = target_pid(out)
        said = "".join((tmp_path / "logs" / name).read_text() for name in ("stdout", "stderr"))
        assert rc == ExitCode.RUN, said
        assert "No space left on device" in said and "fix:" in said
        info = run_info(out)
        assert info["partial"] and info["exit_reason"] == "error"
        assert "No space left on device" in info["gaps"][0]["reason"]
        lines = (out / "events.jsonl").read_bytes()
        assert lines.endswith(b"\n")                                  # cut back to the last whole event
        assert verify_run(out) == []                                  # sealed in the room kept for it
        run = read_run(out)
        assert len(run.events) == len(lines.splitlines()) and (run.events["kind"] == "pi_read").any()
    finally:
        process.kill()
        kill_if_alive(pid)
