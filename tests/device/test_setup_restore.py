"""`device setup` changes exactly what it says, and every way of ending puts the device back exactly:
normal exit, an exception, SIGINT, SIGTERM, SIGKILL + `device restore`, and a device that vanished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.device import cacert
from monitor.device.adb import AndroidDevice
from monitor.device.journal import Journal
from monitor.device.session import DeviceSession, SetupOptions, restore
from monitor.errors import DeviceError


def options(ca: Path, frida: Path, port: int = 8080) -> SetupOptions:
    return SetupOptions(proxy_port=port, ca_cert=ca, frida_server=frida)


@pytest.mark.parametrize("android", [7, 10, 13, 14, 15])
def test_setup_then_restore_leaves_every_version_exactly_as_before(make_sim, mitm_ca, frida_server_file, android):
    sim = make_sim(android)
    before = sim.state.snapshot()
    device = AndroidDevice(sim.serial)
    with DeviceSession(device) as session:
        session.setup(options(mitm_ca, frida_server_file))
        state = sim.state
        name = cacert.store_file_name(cacert.load_ca(mitm_ca))
        # What a run needs is really there while the session lasts.
        assert state.settings["global"]["http_proxy"] == "127.0.0.1:8080"
        assert [(r.remote, r.local) for r in state.reverses] == [("tcp:8080", "tcp:8080")]
        assert state.pids_named("frida-server")
        store = cacert.store_for_sdk(int(state.props["ro.build.version.sdk"]))
        assert state.read_file(f"{store}/{name}").data == mitm_ca.read_bytes()
        if android >= 14:
            # Zygote's own mount namespace sees our CA too (that is what the nsenter bind is for).
            zygote = state.processes[state.pids_named("zygote64")[0]]
            assert state.read_file(f"{store}/{name}", zygote.namespace) is not None
        # Older certificates remain trusted.
        assert state.read_file(f"{store}/5ed36f99.0") is not None
    assert session.restore_report.complete
    assert sim.state.snapshot() == before
    assert not Journal.open(sim.serial).path.exists()


def test_previous_proxy_and_reverse_are_put_back_not_just_deleted(make_sim, mitm_ca, frida_server_file, host_adb):
    sim = make_sim(14)
    sim.run_shell("settings put global http_proxy 10.0.2.2:3128")
    host_adb.run("-s", sim.serial, "reverse", "tcp:8080", "tcp:9999")
    before = sim.state.snapshot()
    with DeviceSession(AndroidDevice(sim.serial)) as session:
        session.setup(options(mitm_ca, frida_server_file))
        assert sim.state.settings["global"]["http_proxy"] == "127.0.0.1:8080"
    assert sim.state.snapshot() == before
    assert sim.state.settings["global"]["http_proxy"] == "10.0.2.2:3128"


def test_a_matching_frida_server_already_running_is_left_running(make_sim, mitm_ca, frida_server_file):
    import lzma

    sim = make_sim(14)

    sim.state.write_file("/data/local/tmp/frida-server", lzma.decompress(frida_server_file.read_bytes()), 0o755)
    sim.run_shell("su 0 /data/local/tmp/frida-server -D")
    users_pid = sim.state.pids_named("frida-server")
    before = sim.state.snapshot()
    with DeviceSession(AndroidDevice(sim.serial)) as session:
        report = session.setup(options(mitm_ca, frida_server_file))
        assert "already running" in report.steps[0]
    assert sim.state.pids_named("frida-server") == users_pid
    assert sim.state.snapshot() == before


def test_wrong_frida_server_version_is_refused_with_the_fix(make_sim, mitm_ca, tmp_path):
    sim = make_sim(14)
    wrong = tmp_path / "frida-server"
    wrong.write_bytes(b"\x7fELF FRIDA_SERVER_VERSION=16.0.0")
    before = sim.state.snapshot()
    with pytest.raises(DeviceError) as caught:
        with DeviceSession(AndroidDevice(sim.serial)) as session:
            session.setup(SetupOptions(frida_server=wrong))
    assert "16.0.0" in caught.value.message and "frida-server-" in caught.value.hint
    # The failed setup rolled itself back.
    assert sim.state.snapshot() == before


def test_offline_without_a_frida_server_file_says_where_to_get_one(make_sim, tmp_path):
    sim = make_sim(14)
    with pytest.raises(DeviceError) as caught:
        with DeviceSession(AndroidDevice(sim.serial)) as session:
            session.setup(SetupOptions(frida_cache=tmp_path / "empty"))
    assert "--frida-server" in caught.value.hint and "android-x86_64" in caught.value.hint


def test_a_device_without_root_is_refused_before_anything_changes(make_sim, mitm_ca, frida_server_file):
    sim = make_sim(14, root_mode=None)
    before = sim.state.snapshot()
    with pytest.raises(DeviceError) as caught:
        with DeviceSession(AndroidDevice(sim.serial)) as session:
            session.setup(options(mitm_ca, frida_server_file))
    assert "no root" in caught.value.message
    assert sim.state.snapshot() == before


def _cli(host_adb, tmp_path: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**host_adb.env, "CONSENTMON_STATE_DIR": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "monitor.cli.device", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 60) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    process.kill()
    raise AssertionError(f"never saw {text!r}; output:\n{''.join(seen)}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_setup_wait_restores_on_sigint_and_sigterm(make_sim, host_adb, mitm_ca, frida_server_file, tmp_path, sig):
    sim = make_sim(14)
    before = sim.state.snapshot()
    process = _cli(host_adb, tmp_path, "device", "setup", "--serial", sim.serial, "--ca", str(mitm_ca),
                   "--frida-server", str(frida_server_file), "--proxy-port", "8081", "--wait")
    _wait_for(process, "waiting; press Ctrl-C")
    assert sim.state.settings["global"]["http_proxy"] == "127.0.0.1:8081"
    process.send_signal(sig)
    out = process.communicate(timeout=60)[0]
    assert process.returncode == 0, out
    assert "device restored" in out
    assert sim.state.snapshot() == before


def test_after_sigkill_device_restore_puts_it_back(make_sim, host_adb, mitm_ca, frida_server_file, tmp_path):
    sim = make_sim(13)
    before = sim.state.snapshot()
    process = _cli(host_adb, tmp_path, "device", "setup", "--serial", sim.serial, "--ca", str(mitm_ca),
                   "--frida-server", str(frida_server_file), "--wait")
    _wait_for(process, "waiting; press Ctrl-C")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert sim.state.snapshot() != before
    state_file = tmp_path / "state" / (sim.serial.replace(":", "_") + ".json")
    assert json.loads(state_file.read_text())["changes"]
    status = _cli(host_adb, tmp_path, "device", "status")
    assert "outstanding change" in status.communicate(timeout=60)[0]
    restore_run = _cli(host_adb, tmp_path, "device", "restore")
    out = restore_run.communicate(timeout=60)[0]
    assert restore_run.returncode == 0, out
    assert sim.state.snapshot() == before
    assert not state_file.exists()
    again = _cli(host_adb, tmp_path, "device", "restore", "--serial", sim.serial)
    assert "nothing to restore" in again.communicate(timeout=60)[0] and again.returncode == 0


def test_a_device_that_vanishes_keeps_its_state_file_and_is_restored_when_back(make_sim, host_adb, mitm_ca, frida_server_file):
    sim = make_sim(14)
    before = sim.state.snapshot()
    device = AndroidDevice(sim.serial)
    session = DeviceSession(device)
    with session:
        session.setup(options(mitm_ca, frida_server_file))
        sim.stop()                        # cable pulled mid-run
        host_adb.disconnect(sim.serial)
    report = session.restore_report
    assert not report.complete and report.pending_file is not None and report.pending_file.exists()
    assert sim.serial in report.reason
    sim.start()                           # the same phone, same state, back on the same port
    host_adb.connect(sim.serial)
    later = restore(AndroidDevice(sim.serial), Journal.open(sim.serial))
    assert later.complete
    assert sim.state.snapshot() == before
    # Idempotent: a second restore finds nothing left to do and changes nothing.
    assert restore(AndroidDevice(sim.serial), Journal.open(sim.serial)).done == []
    assert sim.state.snapshot() == before


def test_a_journal_left_by_a_crash_is_restored_before_a_new_setup(make_sim, mitm_ca, frida_server_file):
    sim = make_sim(10)
    before_proxy = sim.state.settings["global"].get("http_proxy")
    first = DeviceSession(AndroidDevice(sim.serial), keep_on_success=True)
    with first:
        first.setup(options(mitm_ca, frida_server_file, port=8080))
    # A new run with another port must not take our own 8080 proxy for the user's setting.
    with DeviceSession(AndroidDevice(sim.serial)) as second:
        report = second.setup(options(mitm_ca, frida_server_file, port=9090))
        assert report.earlier_restore is not None and report.earlier_restore.complete
    assert sim.state.settings["global"].get("http_proxy") == before_proxy
    assert os.listdir(Journal.open(sim.serial).path.parent) == []


def test_block_quic_rejects_udp_443_for_the_run_and_restore_removes_only_our_rule(make_sim, mitm_ca, frida_server_file,
                                                                                  host_adb, tmp_path):
    sim = make_sim(14)
    # A rule the user had before (UDP 443 blocked for IPv6 already) is left alone, before and after.
    sim.run_shell("su 0 ip6tables -w -I OUTPUT -p udp --dport 443 -j REJECT")
    before = sim.state.snapshot()
    process = _cli(host_adb, tmp_path, "device", "setup", "--serial", sim.serial, "--ca", str(mitm_ca),
                   "--frida-server", str(frida_server_file), "--block-quic", "--wait")
    output = _wait_for(process, "waiting; press Ctrl-C")
    quic = ("OUTPUT", "-p", "udp", "--dport", "443", "-j", "REJECT")
    assert sim.state.firewall == {"iptables": [quic], "ip6tables": [quic]}
    assert "ip6tables: UDP 443 already rejected; left as it is" in output
    process.send_signal(signal.SIGINT)
    out = process.communicate(timeout=60)[0]
    assert process.returncode == 0 and "device restored" in out, out
    assert sim.state.snapshot() == before
    assert sim.state.firewall == {"iptables": [], "ip6tables": [quic]}


def test_block_quic_needs_root_and_changes_nothing_without_it(make_sim, mitm_ca):
    sim = make_sim(14, root_mode=None)
    before = sim.state.snapshot()
    with pytest.raises(DeviceError) as caught, DeviceSession(AndroidDevice(sim.serial)) as session:
        session.setup(SetupOptions(proxy_port=None, frida=False, block_quic=True))
    assert caught.value.hint and sim.state.snapshot() == before
