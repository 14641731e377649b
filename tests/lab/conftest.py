"""Fixtures for the lab tests: simulated adb devices (support.fixtures), a real redis-server on loopback,
plans of tiny real host programs, and runs made with monitor.testing's factories."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from support.fixtures import adb_env, frida_server_file, host_adb, make_sim, mitm_ca  # noqa: F401

# The interpreter itself, not a launcher script: Frida spawns executables (a pyenv shim is a shell script).
PYTHON = str(Path(sys.executable).resolve())
REPO = Path(__file__).resolve().parents[2]


def host_argv(seconds: float = 0.0, text: str = "hello") -> list[str]:
    return [PYTHON, "-c", f"import time; time.sleep({seconds}); print({text!r})"]


@pytest.fixture()
def write_plan(tmp_path: Path) -> Callable[[list[dict]], Path]:
    def write(jobs: list[dict]) -> Path:
        path = tmp_path / "plan.yaml"
        path.write_text(yaml.safe_dump({"jobs": jobs}, allow_unicode=True))
        return path
    return write


def consentmon(*args: str, env: dict[str, str] | None = None, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process."""
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, cwd=REPO, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, in the test's own directory, gone after the test."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
