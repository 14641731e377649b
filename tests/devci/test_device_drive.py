"""A device run the test drives (`consent_monitor.device(app, drive=True)`): the runner hands the live run to
the plugin instead of a scenario; the app is launched, marks and the target work while the test's own UI
automation runs, and the run ends when the test releases it. (The real device path is in tests/device's
`device` tests; here the runner's driver hook is exercised with a stand-in target, since Frida cannot reach the
simulated device.)"""

from __future__ import annotations

import threading

from monitor.pytest_plugin import MonitoredRun
from monitor.runner.device import DeviceRunConfig, DeviceRunHandle


class Target:
    name = "device:sim"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def launch(self) -> None:
        self.calls.append("launch")

    def tap_point(self, x: int, y: int) -> None:
        self.calls.append(f"tap {x} {y}")


class Writer:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def append(self, event: dict) -> int:
        self.events.append(event)
        return len(self.events) - 1


def test_the_test_drives_a_device_run_between_marks(tmp_path):
    run = MonitoredRun("app-driven", tmp_path / "run", kind="device", controllable=True, nodeid="t::d")
    target, writer, stop = Target(), Writer(), threading.Event()
    config = DeviceRunConfig(package="com.example.app", out=tmp_path / "run", driver=run._drive_device)
    driver = threading.Thread(target=config.driver, args=(writer, DeviceRunHandle(target=target, stop_requested=stop)))
    run._thread = driver
    driver.start()
    assert run._ready.wait(5)
    assert target.calls == ["launch"]               # launched for the test
    run.mark("login-screen")
    run.target.tap_point(540, 1600)                  # the test's own taps reach the device
    assert writer.events[0]["payload"]["mark"] == "login-screen" and target.calls[-1] == "tap 540 1600"
    run.stop(timeout=5)                              # released: the driver returns, the runner seals the run
    assert not driver.is_alive()


def test_a_run_ended_by_the_device_releases_the_driver(tmp_path):
    run = MonitoredRun("app-driven", tmp_path / "run", kind="device", controllable=True, nodeid="t::d")
    stop = threading.Event()
    driver = threading.Thread(target=run._drive_device, args=(Writer(), DeviceRunHandle(target=Target(), stop_requested=stop)))
    driver.start()
    assert run._ready.wait(5)
    stop.set()                                       # duration elapsed, the app crashed twice, Ctrl-C
    driver.join(5)
    assert not driver.is_alive()
