"""frida-server under another name on a port of its own (`run --frida-server-name/--frida-port`), on the
simulated device: pushed under the name, started with `-l 127.0.0.1:PORT`, reached through a journalled
`adb forward` that Frida's remote device manager connects through; restore leaves device and host as before."""

from __future__ import annotations

import json
import socket
import time

import pytest

from monitor.device import frida_server
from monitor.device.adb import AndroidDevice
from monitor.device.session import DeviceSession, SetupOptions
from monitor.errors import DeviceError
from monitor.runner.device import DeviceRunConfig, run_device
from monitor.store.manifest import verify_run


def _connect_and_send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.settimeout(5)
        try:
            sock.recv(16)   # the stand-in hangs up after reading
        except OSError:
            pass


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_renamed_server_on_its_own_port_is_reached_through_a_forward_and_undone(make_sim, mitm_ca, frida_server_file):
    sim = make_sim(14)
    device = AndroidDevice(sim.serial)
    before = sim.state.snapshot()
    forwards_before = device.forward_list()
    with DeviceSession(device) as session:
        report = session.setup(SetupOptions(proxy_port=8080, ca_cert=mitm_ca, frida_server=frida_server_file,
                                            frida_server_name="thermal-hal-1a2b3c", frida_port=41234))
        facts = report.facts["frida"]
        assert facts["name"] == "thermal-hal-1a2b3c" and facts["port"] == 41234
        [pid] = sim.state.pids_named("thermal-hal-1a2b3c")
        process = sim.state.processes[pid]
        assert process.cmdline == f"{frida_server.REMOTE_DIR}/thermal-hal-1a2b3c -D -l 127.0.0.1:41234 -d thermal-hal-1a2b3c-cache"
        # Its agent goes to a folder of that name, not Frida's re.frida.server (a path anti-Frida code checks).
        assert sim.state.is_dir("/data/local/tmp/thermal-hal-1a2b3c-cache")
        assert not sim.state.is_dir("/data/local/tmp/re.frida.server")
        assert process.user == "root" and process.listen_port == 41234
        assert not [name for _user, name, _cmd in sim.state.snapshot()["processes"] if "frida" in name]
        assert sim.state.read_file(f"{frida_server.REMOTE_DIR}/thermal-hal-1a2b3c") is not None
        assert sim.state.read_file(frida_server.REMOTE_PATH) is None
        # The forward is the adb server's (this host): local tcp:X → the device's tcp:41234.
        local, remote = facts["forward"].split(" -> ")
        assert device.forward_list()[local] == remote == "tcp:41234"
        assert facts["remote"] == f"127.0.0.1:{local.split(':')[1]}"
        kinds = [change["kind"] for change in session.journal.changes]
        assert "forward" in kinds and kinds.count("process") == 1
        # A connection to the forwarded port reaches the renamed server on the device.
        _connect_and_send(int(local.split(":")[1]), b"GET /ws HTTP/1.1\r\n\r\n")
        assert _wait_for(lambda: (41234, b"GET /ws HTTP/1.1\r\n\r\n") in sim.state.connections)
    assert sim.state.snapshot() == before
    assert device.forward_list() == forwards_before


def test_a_device_port_nothing_listens_on_refuses_the_forwarded_connection(make_sim, host_adb):
    sim = make_sim(14)
    device = AndroidDevice(sim.serial)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local_port = probe.getsockname()[1]
    device.forward(f"tcp:{local_port}", "tcp:27042")
    try:
        with socket.create_connection(("127.0.0.1", local_port), timeout=5) as sock:
            sock.settimeout(5)
            assert sock.recv(16) == b""      # adb closes it: nothing listens on the device's 27042
        assert sim.state.connections == []
    finally:
        device.forward_remove(f"tcp:{local_port}")


def test_each_run_gets_a_fresh_innocuous_name_and_a_port_that_is_not_fridas() -> None:
    names = {frida_server.random_server_name() for _ in range(20)}
    assert len(names) > 15 and not any("frida" in name for name in names)
    ports = {frida_server.random_port() for _ in range(200)}
    assert not ports & set(frida_server.DEFAULT_PORTS) and all(1024 < port < 65536 for port in ports)
    with pytest.raises(DeviceError):
        frida_server.remote_path("../../system/bin/sh")


def test_a_second_server_on_a_taken_port_is_refused_like_the_real_one(make_sim, frida_server_file):
    sim = make_sim(14)
    before = sim.state.snapshot()
    with DeviceSession(AndroidDevice(sim.serial)) as session:
        session.setup(SetupOptions(frida_server=frida_server_file, frida_server_name="perfd-000001", frida_port=40001))
        result = sim.run_shell(f"su 0 {frida_server.REMOTE_DIR}/perfd-000001 -D -l 127.0.0.1:40001")
        assert result.code != 0 and b"Address already in use" in result.err + result.out
    assert sim.state.snapshot() == before


def test_a_device_run_connects_frida_through_the_forward_and_restores_everything(make_sim, frida_server_file, tmp_path):
    """Frida's remote device manager reaches the stand-in through the forward (it records Frida's first bytes);
    the stand-in speaks no Frida, so the run stops there, restored and sealed."""
    sim = make_sim(14)
    device = AndroidDevice(sim.serial)
    before = sim.state.snapshot()
    forwards_before = device.forward_list()
    out = tmp_path / "run"
    config = DeviceRunConfig(package="com.example.demo", out=out, scenario="agree", serial=sim.serial,
                             frida_server=frida_server_file, block_upstream=True, confdir=tmp_path / "mitm", stealth=True)
    with pytest.raises(DeviceError) as error:
        run_device(config)
    assert "frida-server" in error.value.message and error.value.hint
    info = json.loads((out / "run.json").read_text())
    frida_facts = info["device_setup"]["facts"]["frida"]
    assert "frida" not in frida_facts["name"] and frida_facts["port"] not in frida_server.DEFAULT_PORTS
    assert frida_facts["remote"] in error.value.message
    assert [port for port, _first in sim.state.connections] and {port for port, _ in sim.state.connections} == {frida_facts["port"]}
    assert sim.state.snapshot() == before
    assert device.forward_list() == forwards_before
    assert verify_run(out) == []
