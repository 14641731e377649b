"""Helpers of the lab tests (imported by name: tests/lab is on the path of its own test modules)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

# The interpreter itself, not a launcher script: Frida spawns executables (a pyenv shim is a shell script).
PYTHON = str(Path(sys.executable).resolve())
REPO = Path(__file__).resolve().parents[2]


def host_argv(seconds: float = 0.0, text: str = "hello") -> list[str]:
    return [PYTHON, "-c", f"import time; time.sleep({seconds}); print({text!r})"]


def consentmon(*args: str, env: dict[str, str] | None = None, timeout: float = 240,
               **kwargs) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process."""
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, cwd=REPO, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
