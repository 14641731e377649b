"""Shared fixtures. Tests that need a real Android device are marked `device` and skip without one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest


def _adb_server_listening(port: int = 5037) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _real_device_serial() -> str | None:
    serial = os.environ.get("CONSENTMON_DEVICE")
    if serial:
        return serial
    if shutil.which("adb") is None or not _adb_server_listening():
        # No running adb server means no device to test on; `adb devices` would start a server that
        # outlives the test run, so do not ask.
        return None
    try:
        out = subprocess.run(["adb", "devices"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines()[1:]:
        parts = line.split()
        # A simulated device connects as 127.0.0.1:PORT; only a real one counts here.
        if len(parts) == 2 and parts[1] == "device" and not parts[0].startswith("127.0.0.1:"):
            return parts[0]
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # get_closest_marker, not `in item.keywords`: the keywords also hold folder names (tests/device/).
    if not any(item.get_closest_marker("device") is not None for item in items):
        return
    if _real_device_serial() is not None:
        return
    skip = pytest.mark.skip(reason="needs a real Android device or emulator (set CONSENTMON_DEVICE or connect one)")
    for item in items:
        if item.get_closest_marker("device") is not None:
            item.add_marker(skip)
