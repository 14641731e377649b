"""doctor's findings and fixes, the clock offset, and app control through real adb."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.device.adb import AndroidDevice
from monitor.device.app import AppControl, LogcatCapture
from monitor.device.clock import measure_offset
from monitor.device.doctor import check_device
from monitor.device.journal import Journal
from monitor.device.session import DeviceSession, SetupOptions, restore
from support.adbsim import DEMO_PACKAGE
from support.adbsim.apk import build_apk, make_signer


def by_name(report):
    return {check.name: check for check in report.checks}


def test_doctor_on_a_prepared_emulator_reports_everything_ok(make_sim, mitm_ca, frida_server_file):
    sim = make_sim(14)
    device = AndroidDevice(sim.serial)
    session = DeviceSession(device, keep_on_success=True)
    with session:
        session.setup(SetupOptions(proxy_port=8080, ca_cert=mitm_ca, frida_server=frida_server_file))
    report = check_device(device, ca_path=mitm_ca)
    checks = by_name(report)
    assert report.facts["sdk"] == 34 and report.facts["abi"] == "x86_64" and report.facts["emulator"] is True
    assert checks["root"].status == "ok" and "su 0" in checks["root"].detail
    assert checks["frida-server"].status == "ok"
    assert checks["CA certificate"].status == "ok"
    assert checks["proxy"].status == "ok"
    # The setup was kept, so doctor says it is outstanding and how to undo it.
    assert checks["restore"].fix == f"consentmon device restore --serial {sim.serial}"
    assert restore(device, Journal.open(sim.serial)).complete


def test_doctor_on_a_bare_phone_gives_the_fixing_command_for_each_problem(make_sim, mitm_ca):
    sim = make_sim(13, emulator=False, root_mode=None, abi="arm64-v8a")
    sim.run_shell("settings put global http_proxy 192.168.1.5:8888")
    report = check_device(AndroidDevice(sim.serial), ca_path=mitm_ca)
    checks = by_name(report)
    assert not report.ready
    assert report.facts["emulator"] is False and report.facts["abi"] == "arm64-v8a"
    assert checks["root"].status == "fail" and "Magisk" in checks["root"].fix
    assert checks["proxy"].status == "warn" and checks["proxy"].fix.endswith("settings delete global http_proxy")
    assert checks["CA certificate"].fix.startswith("consentmon device setup")


def test_doctor_suggests_adb_root_on_a_debuggable_emulator_without_su(make_sim):
    sim = make_sim(14, root_mode=None)
    checks = by_name(check_device(AndroidDevice(sim.serial)))
    assert checks["root"].fix == f"adb -s {sim.serial} root"


def test_doctor_cli_exit_code_and_json(make_sim, host_adb, tmp_path):
    sim = make_sim(14, root_mode=None)
    env = {**host_adb.env, "CONSENTMON_STATE_DIR": str(tmp_path / "state"), "MITMPROXY_CONFDIR": str(tmp_path / "none")}
    result = subprocess.run([sys.executable, "-m", "monitor.cli.device", "doctor", "--serial", sim.serial, "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"ready": false' in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("skew_s", [0, 37, -3600])
def test_clock_offset_is_measured_within_its_uncertainty(make_sim, skew_s):
    sim = make_sim(14, clock_skew_ns=skew_s * 1_000_000_000)
    clock = measure_offset(AndroidDevice(sim.serial), samples=3)
    assert clock["method"] == "date +%s%N"
    assert abs(clock["offset_ns"] - skew_s * 1_000_000_000) <= clock["uncertainty_ns"] + 1_000_000


def test_clock_falls_back_to_whole_seconds_on_old_toybox(make_sim):
    sim = make_sim(7, clock_skew_ns=5_000_000_000)
    clock = measure_offset(AndroidDevice(sim.serial), samples=2)
    assert clock["method"] == "date +%s" and clock["note"]
    assert clock["uncertainty_ns"] >= 500_000_000
    assert abs(clock["offset_ns"] - 5_000_000_000) <= clock["uncertainty_ns"]


def test_install_records_apk_identity_and_pm_sees_the_permissions(make_sim, tmp_path):
    sim = make_sim(14, with_demo_app=False)
    signer = make_signer()
    apk = tmp_path / "demo.apk"
    apk.write_bytes(build_apk(version_code=42, version_name="4.2", signer=signer, block_scheme="v2",
                              permissions=["android.permission.CAMERA", "android.permission.INTERNET"]))
    app = AppControl(AndroidDevice(sim.serial), DEMO_PACKAGE)
    info = app.install(apk)
    assert (info.version_code, info.version_name, info.signer_sha256) == (42, "4.2", (signer.sha256,))
    dump = app.installed()
    assert dump.version_code == 42 and dump.version_name == "4.2"
    assert dump.granted["android.permission.CAMERA"] is False
    app.grant("android.permission.CAMERA")
    assert app.installed().granted["android.permission.CAMERA"] is True
    app.revoke("android.permission.CAMERA")
    assert app.installed().granted["android.permission.CAMERA"] is False
    # The temporary copy pushed for pm install is gone.
    assert sim.state.read_file("/data/local/tmp/consentmon-install.apk") is None


def test_clear_makes_the_next_launch_a_first_run(make_sim, tmp_path):
    sim = make_sim(14)
    app = AppControl(AndroidDevice(sim.serial), DEMO_PACKAGE)
    app.launch()
    sim.run_shell("input tap 700 1600")     # 同意
    assert sim.state.packages[DEMO_PACKAGE].data == {"consent": "agree"}
    app.relaunch()
    assert 'text="同意"' not in app.ui_dump()
    app.clear()
    app.launch()
    assert 'text="同意"' in app.ui_dump()
    shot = app.screenshot(tmp_path / "s.png")
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert sim.state.read_file("/sdcard/consentmon-ui.xml") is None


def test_logcat_capture_streams_lines_written_while_it_runs(make_sim, tmp_path):
    sim = make_sim(14)
    out = tmp_path / "logcat.txt"
    with LogcatCapture(AndroidDevice(sim.serial), out) as capture:
        AppControl(AndroidDevice(sim.serial), DEMO_PACKAGE).launch()
        import time

        deadline = time.monotonic() + 10
        while "Start proc" not in out.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.1)
    assert f":{DEMO_PACKAGE}/" in out.read_text()
    assert capture.error is None
