"""The simulated device (the real adb server talking to tests/support/adbsim) under faults of the monitor
preparing it: SIGKILL at any point of `device setup` — between a change being journalled and being made
included — then `consentmon device restore`; and the device disappearing mid-session and coming back. The
device always ends exactly as it began (DeviceState.snapshot())."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitor.device.adb import AndroidDevice
from monitor.device.journal import Journal
from monitor.device.session import DeviceSession, SetupOptions, restore


def _cli(host_adb, state: Path, *args: str) -> subprocess.Popen:
    env = {**host_adb.env, "CONSENTMON_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "monitor.cli.device", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _changes(journal: Path) -> list[dict]:
    try:
        return json.loads(journal.read_text())["changes"]
    except (OSError, ValueError, KeyError):
        return []


# Kill after the 1st, 2nd, … change was journalled: the kill lands between writing the intent and making the
# change, or just after, at each step of the setup (frida-server file, its process, reverse, proxy, CA, mounts).
@pytest.mark.parametrize("after", [1, 2, 4, 6, 9])
def test_sigkill_at_any_step_of_setup_then_device_restore_puts_it_back_exactly(make_sim, host_adb, mitm_ca,
                                                                                frida_server_file, tmp_path, after):
    sim = make_sim(14)
    before = sim.state.snapshot()
    state = tmp_path / "state"
    journal = state / (sim.serial.replace(":", "_") + ".json")
    process = _cli(host_adb, state, "device", "setup", "--serial", sim.serial, "--ca", str(mitm_ca),
                   "--frida-server", str(frida_server_file), "--proxy-port", "8082", "--block-quic", "--wait")
    try:
        deadline = time.monotonic() + 60
        while len(_changes(journal)) < after and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        recorded = _changes(journal)
        assert recorded, "the kill came before any change: nothing to prove"
        restored = _cli(host_adb, state, "device", "restore", "--serial", sim.serial)
        out = restored.communicate(timeout=120)[0]
        assert restored.returncode == 0, out
        assert sim.state.snapshot() == before, f"after {len(recorded)} journalled changes: {out}"
        assert not journal.exists()
    finally:
        process.kill()


def test_a_device_gone_mid_session_and_back_is_restored_exactly(make_sim, host_adb, mitm_ca, frida_server_file):
    sim = make_sim(15)
    before = sim.state.snapshot()
    session = DeviceSession(AndroidDevice(sim.serial))
    with session:
        session.setup(SetupOptions(proxy_port=8083, ca_cert=mitm_ca, frida_server=frida_server_file, block_quic=True))
        sim.stop()                               # the device disappears: its adb server is gone
        host_adb.disconnect(sim.serial)
    assert not session.restore_report.complete and session.restore_report.pending_file.exists()
    sim.start()                                  # … and comes back, same state, same port
    host_adb.connect(sim.serial)
    assert restore(AndroidDevice(sim.serial), Journal.open(sim.serial)).complete
    assert sim.state.snapshot() == before


@pytest.mark.parametrize("after_seconds", [0.05, 0.2, 0.4, 0.8])
def test_a_device_that_blinks_during_setup_is_refused_or_restored_never_left_half_set(make_sim, host_adb, mitm_ca,
                                                                                     frida_server_file, after_seconds):
    """The device drops off while setup is changing it: the error names it; nothing half-done stays once it is back."""
    from monitor.errors import DeviceError

    sim = make_sim(14)
    before = sim.state.snapshot()
    blink = threading.Timer(after_seconds, lambda: (sim.stop(), host_adb.disconnect(sim.serial)))
    blink.start()
    try:
        with DeviceSession(AndroidDevice(sim.serial)) as session:
            session.setup(SetupOptions(proxy_port=8084, ca_cert=mitm_ca, frida_server=frida_server_file))
            time.sleep(1.0)
    except (DeviceError, OSError) as error:
        assert sim.serial in str(error) or "device" in str(error).lower()
    blink.join()
    sim.start()
    host_adb.connect(sim.serial)
    assert restore(AndroidDevice(sim.serial), Journal.open(sim.serial)).complete
    assert sim.state.snapshot() == before
