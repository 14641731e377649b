"""The same flows on a real emulator or rooted phone. Skipped unless one is connected
(tests/conftest.py); see docs/real-device-checklist.md for what to prepare.

    CONSENTMON_DEVICE=emulator-5554 \
    CONSENTMON_FRIDA_SERVER=~/Downloads/frida-server-17.x.y-android-x86_64.xz \
    CONSENTMON_TEST_APK=app-debug.apk CONSENTMON_TEST_PACKAGE=com.example.app \
    .venv/bin/python -m pytest tests/device/test_real_device.py -q
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.device import cacert
from monitor.device.adb import AndroidDevice, pick_serial
from monitor.device.app import AppControl
from monitor.device.clock import measure_offset
from monitor.device.doctor import check_device
from monitor.device.session import DeviceSession, SetupOptions
from monitor.scenario.model import load_scenario
from monitor.scenario.runner import run_scenario
from monitor.scenario.device import DeviceTarget

pytestmark = pytest.mark.device


@pytest.fixture()
def device() -> AndroidDevice:
    return AndroidDevice(pick_serial(os.environ.get("CONSENTMON_DEVICE")))


def snapshot(device: AndroidDevice) -> dict:
    """What setup touches, read back from the device itself."""
    store = cacert.store_for_sdk(int(device.getprop("ro.build.version.sdk")))
    return {
        "http_proxy": device.shell("settings get global http_proxy").out.strip(),
        "reverse": device.reverse_list(),
        "store": sorted(device.shell(f"ls {store}", root=device.root_mode is not None).out.split()),
        "mounts": sorted(line for line in device.shell("cat /proc/mounts").out.splitlines() if "cacerts" in line),
        "frida": sorted(line.split()[-1] for line in device.shell("ps -A").out.splitlines() if "frida" in line),
        "tmp": sorted(device.shell("ls /data/local/tmp").out.split()),
        "firewall": [device.shell(f"{tool} -w -S OUTPUT", root=device.root_mode is not None).out.strip()
                     for tool in ("iptables", "ip6tables")],
    }


def test_doctor_reads_the_device(device):
    report = check_device(device)
    assert report.facts["sdk"] >= 24 and report.facts["abi"]
    assert {c.name for c in report.checks} >= {"device", "root", "selinux", "frida-server", "proxy", "clock"}


def test_clock_offset_is_small_and_bounded(device):
    clock = measure_offset(device)
    assert clock["uncertainty_ns"] < 1_000_000_000


def test_setup_and_restore_leave_the_device_as_it_was(device, tmp_path):
    frida_file = os.environ.get("CONSENTMON_FRIDA_SERVER")
    if device.root_mode is None or not frida_file:
        pytest.skip("needs a rooted device and CONSENTMON_FRIDA_SERVER=<frida-server file for it>")
    from mitmproxy.certs import CertStore

    CertStore.from_store(tmp_path, "mitmproxy", 2048)
    before = snapshot(device)
    with DeviceSession(device, state_dir=tmp_path / "state") as session:
        session.setup(SetupOptions(proxy_port=8080, ca_cert=tmp_path / "mitmproxy-ca-cert.pem",
                                   frida_server=Path(frida_file).expanduser(), block_quic=True))
        assert device.shell("settings get global http_proxy").out.strip() == "127.0.0.1:8080"
        assert device.shell("iptables -w -C OUTPUT -p udp --dport 443 -j REJECT", root=True).ok
    assert session.restore_report.complete
    assert snapshot(device) == before


def test_agree_scenario_on_a_real_app(device, tmp_path):
    package = os.environ.get("CONSENTMON_TEST_PACKAGE")
    if not package:
        pytest.skip("set CONSENTMON_TEST_PACKAGE (and CONSENTMON_TEST_APK to install it) to drive a real app")
    app = AppControl(device, package)
    if os.environ.get("CONSENTMON_TEST_APK"):
        app.install(Path(os.environ["CONSENTMON_TEST_APK"]))
    events: list[dict] = []

    class Sink:
        def append(self, event: dict) -> int:
            events.append(event)
            return len(events) - 1

    result = run_scenario(load_scenario("agree"), DeviceTarget(app), Sink(), tmp_path / "screens")
    app.force_stop()
    assert result.ok, result.failures
    assert list((tmp_path / "screens").glob("*.png"))


def test_full_run_under_frida_on_a_real_app(device, tmp_path):
    """consentmon run --serial S --app PKG --scenario agree, end to end: hooks from the first instruction,
    traffic through the proxy, consent from the UI, device restored, run sealed and analysable."""
    from monitor.analysis import analyze_run
    from monitor.runner.device import DeviceRunConfig, run_device
    from monitor.store.manifest import verify_run

    package = os.environ.get("CONSENTMON_TEST_PACKAGE")
    if not package:
        pytest.skip("set CONSENTMON_TEST_PACKAGE (and CONSENTMON_TEST_APK to install it) to drive a real app")
    before = snapshot(device)
    frida_server = os.environ.get("CONSENTMON_FRIDA_SERVER")
    apk = os.environ.get("CONSENTMON_TEST_APK")
    result = run_device(DeviceRunConfig(package=package, out=tmp_path / "run", scenario="agree", serial=device.serial,
                                        apk=Path(apk) if apk else None,
                                        frida_server=Path(frida_server).expanduser() if frida_server else None))
    assert snapshot(device) == before
    assert result.lost_events == 0
    assert verify_run(tmp_path / "run") == []
    findings = analyze_run(tmp_path / "run")
    assert findings.summary["pi_reads"] > 0   # every real app reads something the catalogue hooks
