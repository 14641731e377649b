"""Fixtures for the lab tests: simulated adb devices (support.fixtures), a real redis-server on loopback,
plans of tiny real host programs, and runs made with monitor.testing's factories."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from support.fixtures import adb_env, frida_server_file, host_adb, make_sim, mitm_ca  # noqa: F401

from labkit import free_port


@pytest.fixture()
def write_plan(tmp_path: Path) -> Callable[[list[dict]], Path]:
    def write(jobs: list[dict]) -> Path:
        path = tmp_path / "plan.yaml"
        path.write_text(yaml.safe_dump({"jobs": jobs}, allow_unicode=True))
        return path
    return write


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
