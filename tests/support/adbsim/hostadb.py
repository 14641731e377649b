"""Run Debian's real `adb` server on a private port, so tests never touch a user's own server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from monitor.errors import DeviceError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HostAdb:
    """An adb server of our own. Its key pair lives in a private HOME so the user's stays untouched."""

    def __init__(self, port: int | None = None, home: Path | None = None) -> None:
        if shutil.which("adb") is None:
            raise DeviceError("the adb program is not installed", hint="apt-get install -y adb")
        self.port = port or free_port()
        self._tmp = None if home else tempfile.TemporaryDirectory(prefix="consentmon-adb-")
        self.home = Path(home) if home else Path(self._tmp.name)

    @property
    def env(self) -> dict[str, str]:
        """Environment for any process (adb, adbutils, consentmon) that should use this server."""
        env = dict(os.environ)
        env["ANDROID_ADB_SERVER_PORT"] = str(self.port)
        env["HOME"] = str(self.home)
        env.pop("ANDROID_SERIAL", None)
        return env

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["adb", *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def start(self) -> "HostAdb":
        result = self.run("start-server")
        if result.returncode != 0:
            raise DeviceError(f"adb start-server failed: {result.stderr.strip()}")
        return self

    def connect(self, serial: str, *, timeout: float = 20) -> None:
        """`adb connect` and wait until the device is online (past the AUTH exchange)."""
        deadline = time.monotonic() + timeout
        self.run("connect", serial)
        while time.monotonic() < deadline:
            state = self.run("-s", serial, "get-state").stdout.strip()
            if state == "device":
                return
            if state in ("", "offline") and "connected" not in self.run("connect", serial).stdout:
                pass
            time.sleep(0.2)
        raise DeviceError(f"simulated device {serial} did not come online: {self.run('devices').stdout}")

    def disconnect(self, serial: str) -> None:
        self.run("disconnect", serial)

    def kill(self) -> None:
        self.run("kill-server")
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> "HostAdb":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
