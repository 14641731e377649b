"""`make soak MINUTES=N`: the demo run again and again for N minutes (loopback only, upstream blocked), with a
simulated device prepared and restored beside each run. After every round nothing may be left behind: no
child process, no listening port, no new file in the temp folder, no adb forward or reverse, the device
exactly as it began; and the monitor's memory must stay flat. Its figures go to BENCHMARKS.md ("## soak").
Skipped unless CONSENTMON_SOAK_MINUTES is set."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pytest

from faults.faultkit import children_of
from faults.test_security import _listening

MINUTES = float(os.environ.get("CONSENTMON_SOAK_MINUTES", "0") or 0)
pytestmark = [pytest.mark.soak, pytest.mark.frida, pytest.mark.proxy,
              pytest.mark.skipif(not MINUTES, reason="the soak runs under `make soak MINUTES=N` (CONSENTMON_SOAK_MINUTES)")]


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_soak_the_demo_leaves_nothing_behind_and_memory_stays_flat(make_sim, mitm_ca, frida_server_file, host_adb, tmp_path,
                                                                   monkeypatch):
    from monitor.demo import DEMO_APP_DOMAINS, DEMO_PACKAGE, build_demo_app, demo_command, demo_local_answers
    from monitor.device.adb import AndroidDevice
    from monitor.device.session import DeviceSession, SetupOptions
    from monitor.runner.host import HostRunConfig, run_host
    from monitor.store.manifest import verify_run

    classes = build_demo_app()
    sim = make_sim(14)
    device_before = sim.state.snapshot()
    # A temp folder of its own (this process and the programs it starts): /tmp is shared with other work.
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    temp_before = set(os.listdir(temp))
    listening_before = set(_listening(os.getpid()))  # the simulated device's own server lives in this process
    deadline = time.monotonic() + MINUTES * 60
    rounds: list[dict[str, float]] = []
    started = time.monotonic()
    while time.monotonic() < deadline or len(rounds) < 3:
        began = time.monotonic()
        with DeviceSession(AndroidDevice(sim.serial)) as session:
            session.setup(SetupOptions(proxy_port=8080, ca_cert=mitm_ca, frida_server=frida_server_file))
        out = tmp_path / f"run-{len(rounds)}"
        result = run_host(HostRunConfig(argv=demo_command(classes, consent="agree", pause_ms=100), out=out, duration=120,
                                        app_package=DEMO_PACKAGE, app_domains=DEMO_APP_DOMAINS, block_upstream=True,
                                        local_answers=demo_local_answers(), confdir=tmp_path / "mitm"))
        if result.exit_reason != "target-ended" or verify_run(out):
            kept = Path(__file__).resolve().parents[2] / "reports" / f"soak-failed-{int(time.time())}"
            shutil.copytree(out, kept)  # pytest's temp folders rotate under parallel work: keep the evidence
            raise AssertionError(f"run {len(rounds)} ended {result.exit_reason}, verify {verify_run(out)}; kept in {kept}")
        assert sim.state.snapshot() == device_before
        forwards = host_adb.run("forward", "--list").stdout.strip()
        reverses = host_adb.run("-s", sim.serial, "reverse", "--list").stdout.strip()
        assert not forwards and not reverses, (forwards, reverses)
        time.sleep(0.3)  # let the exited target be reaped
        assert children_of(os.getpid()) == [], "a process of the run outlived it"
        assert set(_listening(os.getpid())) - listening_before == set(), "a port of the run is still listening"
        if not rounds:
            # Frida keeps a folder for its helper and agent for the life of the process, made on first use.
            temp_before = set(os.listdir(temp))
        leaked = sorted(set(os.listdir(temp)) - temp_before)
        assert not leaked, f"temp files left: {leaked}"
        rounds.append({"seconds": time.monotonic() - began, "rss": _rss_mib(), "fds": _open_fds(),
                       "events": result.events, "flows": result.flows})
        for path in out.rglob("*"):  # keep the disk flat too: the run was checked, its files are not needed
            if path.is_file():
                path.unlink()
    elapsed = time.monotonic() - started
    settled = rounds[2:] or rounds
    rss = [round_["rss"] for round_ in settled]
    # Least-squares slope of memory over rounds, after two rounds of warm-up (caches, the agent bundle).
    xs = list(range(len(rss)))
    slope = (statistics.covariance(xs, rss) / statistics.variance(xs)) if len(rss) > 2 else 0.0
    growth = max(rss) - rss[0]
    fds = [round_["fds"] for round_ in settled]
    _write_figures(rounds, elapsed, slope, growth, fds)
    assert slope < 1.0, f"memory grows {slope:.2f} MiB per run"
    assert growth < 64, f"memory grew {growth:.0f} MiB over the soak"
    assert max(fds) - min(fds) <= 4, f"open files went from {min(fds)} to {max(fds)}"


def _write_figures(rounds: list[dict[str, float]], elapsed: float, slope: float, growth: float, fds: list[int]) -> None:
    from support.benchwriter import replace_section

    seconds = [round_["seconds"] for round_ in rounds]
    rss = [round_["rss"] for round_ in rounds]
    section = (
        "## soak\n\n"
        f"`make soak MINUTES={MINUTES:g}` (tests/faults/test_soak.py): the demo under real Frida and mitmproxy, with a simulated\n"
        "device set up and restored beside each run, in one process, again and again. After every run: no child\n"
        "process, no listening port, no new temp file, no adb forward/reverse, the device snapshot as it began.\n\n"
        "| measure | value |\n|---|---|\n"
        f"| runs | {len(rounds)} in {elapsed / 60:.1f} min |\n"
        f"| seconds per run (median, max) | {statistics.median(seconds):.1f}, {max(seconds):.1f} |\n"
        f"| monitor RSS after run 1 / 3 / last | {rss[0]:.0f} / {rss[min(2, len(rss) - 1)]:.0f} / {rss[-1]:.0f} MiB |\n"
        f"| RSS slope after warm-up | {slope:+.2f} MiB per run |\n"
        f"| RSS growth after warm-up | {growth:.1f} MiB |\n"
        f"| open files after warm-up (min–max) | {min(fds)}–{max(fds)} |\n"
        "| leaked processes, ports, temp files, adb forwards | 0, 0, 0, 0 |\n"
    )
    replace_section("## soak", section)
