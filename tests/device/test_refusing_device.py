"""A device that refuses one thing is one failing line, not a lost device: every other check still runs and
prints, and setup takes the next route where one exists (an emulator whose adbd refuses `reverse` reaches the
capture proxy through its alias of this host's loopback)."""

from __future__ import annotations

import pytest

from monitor.device.adb import AndroidDevice, ServiceRefused
from monitor.device.doctor import check_device
from monitor.device.session import DeviceSession, SetupOptions
from monitor.errors import DeviceError

EVERY_CHECK = {"device", "root", "selinux", "frida-server", "adb reverse", "proxy", "system partition", "CA certificate",
               "clock"}


def by_name(report):
    return {check.name: check for check in report.checks}


def _refusing(make_sim, **options):
    sim = make_sim(14, **options)
    sim.state.refused_services.add("reverse")
    return sim


def test_reverse_refused_is_a_missing_capability_not_a_lost_device(make_sim):
    sim = _refusing(make_sim)
    with pytest.raises(ServiceRefused, match="refuses `reverse`"):
        AndroidDevice(sim.serial).reverse_list()
    assert AndroidDevice(sim.serial).shell("getprop ro.product.model").ok  # the device is still there


def test_doctor_on_an_emulator_refusing_reverse_warns_and_runs_every_other_check(make_sim, mitm_ca):
    sim = _refusing(make_sim)
    report = check_device(AndroidDevice(sim.serial), ca_path=mitm_ca)
    checks = by_name(report)
    assert EVERY_CHECK <= set(checks)
    assert checks["adb reverse"].status == "warn" and "10.0.2.2" in checks["adb reverse"].detail
    assert checks["root"].status == "ok" and report.facts["model"] and report.facts["reverse"] is None


def test_doctor_on_a_phone_refusing_reverse_fails_that_line_with_its_fix(make_sim, mitm_ca):
    sim = _refusing(make_sim, emulator=False, root_mode=None, abi="arm64-v8a")
    report = check_device(AndroidDevice(sim.serial), ca_path=mitm_ca)
    checks = by_name(report)
    assert EVERY_CHECK <= set(checks)
    assert checks["adb reverse"].status == "fail" and "USB" in checks["adb reverse"].fix
    assert checks["root"].status == "fail" and checks["frida-server"].detail == "needs root"
    assert checks["clock"].status in {"ok", "warn"} and checks["selinux"].detail == "Enforcing"


def test_setup_on_an_emulator_refusing_reverse_routes_through_the_host_alias_and_restores(make_sim):
    sim = _refusing(make_sim)
    before = sim.state.snapshot()
    device = AndroidDevice(sim.serial)
    with DeviceSession(device) as session:
        report = session.setup(SetupOptions(proxy_port=8080, frida=False))
        assert sim.state.settings["global"]["http_proxy"] == "10.0.2.2:8080"
        assert report.facts["proxy_route"] == "emulator host alias"
        assert any(step.startswith("warning: adbd refuses `reverse`") for step in report.steps)
    assert sim.state.snapshot() == before


def test_setup_on_a_phone_refusing_reverse_says_what_to_do_and_changes_nothing(make_sim):
    sim = _refusing(make_sim, emulator=False)
    before = sim.state.snapshot()
    with pytest.raises(DeviceError, match="cannot reach the capture proxy") as refused:
        with DeviceSession(AndroidDevice(sim.serial)) as session:
            session.setup(SetupOptions(proxy_port=8080, frida=False))
    assert "Android 5+" in (refused.value.hint or "")
    assert sim.state.snapshot() == before
