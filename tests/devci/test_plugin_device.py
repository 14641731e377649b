"""The plugin's device path on a real emulator or phone (marked `device`: skipped without one). Run with
CONSENTMON_DEVICE=<serial> CONSENTMON_TEST_PACKAGE=<app> [CONSENTMON_TEST_APK=<apk>]
[CONSENTMON_FRIDA_SERVER=<file>]; see docs/real-device-checklist.md."""

from __future__ import annotations

import os

import pytest

from .test_pytest_plugin import _plugin_args

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.device, pytest.mark.e2e]

PROJECT = '''
import os


def test_first_launch_is_recorded_and_judged(consent_monitor):
    extra = {"frida_server": os.environ["CONSENTMON_FRIDA_SERVER"]} if os.environ.get("CONSENTMON_FRIDA_SERVER") else {}
    run = consent_monitor.device(scenario="first-launch-idle", duration=60, **extra)
    assert (run.dir / "manifest.json").is_file()
    assert run.result.exit_reason
    assert {"category", "consent_state"} <= set(run.reads.columns)
    run.findings(rule="before-consent")   # whatever the app does: the findings can be read
    assert run.gate("any").exit_code in (0, 1)
'''


def test_a_device_run_from_a_project_test(pytester: pytest.Pytester) -> None:
    package = os.environ.get("CONSENTMON_TEST_PACKAGE")
    if not package:
        pytest.skip("set CONSENTMON_TEST_PACKAGE (and CONSENTMON_TEST_APK to install it) to drive a real app")
    pytester.makepyfile(test_device_consent=PROJECT)
    args = ["--consentmon-app", package]
    if os.environ.get("CONSENTMON_DEVICE"):
        args += ["--consentmon-serial", os.environ["CONSENTMON_DEVICE"]]
    if os.environ.get("CONSENTMON_TEST_APK"):
        args += ["--consentmon-apk", os.environ["CONSENTMON_TEST_APK"]]
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", *args, timeout=900)
    result.assert_outcomes(passed=1)
