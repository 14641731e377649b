"""A device run with --apk keeps the static scan of the installed APK in run.json, beside the install facts
(on the simulated device: Frida cannot reach it, so the run ends after the install, sealed)."""

from __future__ import annotations

import json

import pytest

from monitor.errors import MonitorError
from monitor.runner.device import DeviceRunConfig, run_device
from monitor.scan import scan_apk, scan_from_run_info
from monitor.store.manifest import verify_run


def test_run_json_holds_the_apk_scan(make_sim, frida_server_file, plain_apk, tmp_path):
    sim = make_sim(14)
    out = tmp_path / "run"
    # Frida cannot reach the simulated device (or the agent is not built): the run ends after the install.
    with pytest.raises(MonitorError):
        run_device(DeviceRunConfig(package="com.example.demo", out=out, scenario="agree", serial=sim.serial,
                                   apk=plain_apk.path, frida_server=frida_server_file, block_upstream=True,
                                   confdir=tmp_path / "mitm"))
    info = json.loads((out / "run.json").read_text())
    assert info["apk"]["package"] == "com.example.demo" and info["apk"]["signer_sha256"] == [plain_apk.signer_sha256]
    scan = info["apk_scan"]
    assert scan["sha256"] == info["apk"]["apk_sha256"]
    assert scan["network_security"]["ca_route"] == "system"
    assert [entry["name"] for entry in scan["permissions"]] == ["android.permission.INTERNET"]
    assert verify_run(out) == []
    assert scan_from_run_info(info) == scan_apk(plain_apk.path)
    assert scan_from_run_info({}) is None and scan_from_run_info({"apk_scan": {"error": "x"}}) is None
