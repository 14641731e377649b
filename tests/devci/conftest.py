"""Runs for the CI tests: small analysed runs written with monitor.testing's factories (no Frida, a second
each), and one real demo run per session, recorded by `consentmon run --host --fail-on` itself."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.testing.factories import (APP_FRAME, UMENG_FRAME, at, click, dialog, pi_read, run_info,
                                       write_run)

DATA = Path(__file__).parent / "data"


def consentmon(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env)


def umeng_before_consent(root: Path, *, with_location: bool = False) -> Path:
    """The Umeng SDK reads the IMEI and the BSSID before the 同意 click; the app reads the IMEI after it."""
    events = [
        pi_read(ts=at(1), stack=[UMENG_FRAME]),
        pi_read(ts=at(1.5), api="android.net.wifi.WifiInfo.getBSSID", category="wifi", value="02:00:00:00:00:00",
                stack=[UMENG_FRAME]),
        dialog(ts=at(2)),
        click(ts=at(5), text="同意"),
        pi_read(ts=at(6), stack=[APP_FRAME]),
    ]
    if with_location:
        events.insert(2, pi_read(ts=at(1.8), api="android.location.LocationManager.getLastKnownLocation",
                                 category="location", value="39.9,116.4", stack=[UMENG_FRAME]))
    return write_run(root, events, info=run_info())


def clean(root: Path) -> Path:
    """Consent first, reads after: no case."""
    return write_run(root, [dialog(ts=at(1)), click(ts=at(2), text="同意"), pi_read(ts=at(3), stack=[APP_FRAME])],
                     info=run_info())


@pytest.fixture
def umeng_run(tmp_path: Path) -> Path:
    return umeng_before_consent(tmp_path / "umeng")


@pytest.fixture
def clean_run(tmp_path: Path) -> Path:
    return clean(tmp_path / "clean")


@dataclass
class DemoRun:
    dir: Path
    result: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo app (user agrees) under real Frida and mitmproxy, as a CI job would record it:
    `consentmon run --host --fail-on before-consent -- java … DemoApp --consent agree`."""
    from monitor.demo import DEMO_APP_DOMAINS, DEMO_PACKAGE, build_demo_app, demo_command

    out = tmp_path_factory.mktemp("devci-demo") / "run"
    argv = demo_command(build_demo_app(), consent="agree")
    domains = [arg for domain in DEMO_APP_DOMAINS for arg in ("--app-domain", domain)]
    result = consentmon("run", "--host", "--offline", "--out", str(out), "--app-package", DEMO_PACKAGE, *domains,
                        "--duration", "120", "--fail-on", "before-consent", "--", *argv, timeout=300)
    return DemoRun(out, result)
