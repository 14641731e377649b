"""A device run that cannot finish still leaves the device exactly as it was, and a sealed run directory
that says why. (Frida itself cannot reach the simulated device: that part is proven on real devices by
the `device`-marked tests.)"""

from __future__ import annotations

import json

import pytest

from monitor.errors import DeviceError
from monitor.runner.device import DeviceRunConfig, run_device
from monitor.store.manifest import verify_run


def test_failed_device_run_restores_the_device_and_seals_the_run(make_sim, frida_server_file, tmp_path):
    sim = make_sim(14)
    before = sim.state.snapshot()
    out = tmp_path / "run"
    config = DeviceRunConfig(package="com.example.demo", out=out, scenario="agree", serial=sim.serial,
                             frida_server=frida_server_file, block_upstream=True, confdir=tmp_path / "mitm",
                             block_quic=True)
    with pytest.raises(DeviceError) as error:
        run_device(config)
    assert "Frida" in error.value.message and error.value.hint
    assert sim.state.snapshot() == before            # proxy, reverse, CA mounts, frida-server, firewall: all undone
    info = json.loads((out / "run.json").read_text())
    assert info["exit_reason"] == "error"
    assert info["target"]["serial"] == sim.serial and info["target"]["android"]
    assert info["runtime"]["name"] == "art" and info["runtime"]["version"].startswith("Android ")
    assert info["device_setup"]["steps"]            # what was changed is on record
    assert info["device_setup"]["quic_blocked"] and any(step.startswith("iptables -I") for step in info["device_setup"]["steps"])
    assert info["clock"]["device_offset_start"]["offset_ns"] is not None
    assert verify_run(out) == []


def test_unknown_scenario_is_refused_before_the_device_is_touched(make_sim, tmp_path):
    sim = make_sim(13)
    before = sim.state.snapshot()
    with pytest.raises(Exception) as error:
        run_device(DeviceRunConfig(package="com.example.demo", out=tmp_path / "run", scenario="no-such-scenario",
                                   serial=sim.serial))
    assert "no-such-scenario" in str(error.value)
    assert sim.state.snapshot() == before
    assert not (tmp_path / "run").exists()
