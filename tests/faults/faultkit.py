"""What the fault tests share: the demo app run by the real `consentmon` command in its own process, and
ways to wait for a run to reach a point, look at what it wrote, and clean up whatever a fault left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.demo import DEMO_PACKAGE, build_demo_app, demo_command

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]


def demo_argv(*, pause_ms: int = 300, consent: str | None = "agree") -> list[str]:
    return demo_command(build_demo_app(), consent=consent, pause_ms=pause_ms)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)  # the checkout's monitor, whatever the cwd
    env.setdefault("COLUMNS", "200")
    env.update(extra)
    return env


def start_host_run(out: Path, argv: list[str], *, duration: float = 60, logs: Path | None = None,
                   extra: list[str] | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`consentmon run --host --offline … -- ARGV` as its own process (its own session, so a signal to it is
    not a signal to the test), output to logs/{stdout,stderr}."""
    logs = logs or out.with_name(out.name + "-logs")
    logs.mkdir(parents=True, exist_ok=True)
    command = [PYTHON, "-m", "monitor", "run", "--host", "--offline", "--app-package", DEMO_PACKAGE,
               "--out", str(out), "--duration", str(duration), *(extra or []), "--", *argv]
    return subprocess.Popen(command, stdout=open(logs / "stdout", "wb"), stderr=open(logs / "stderr", "wb"),
                            cwd=str(out.parent), env=env or cli_env(), start_new_session=True)


def output_of(out: Path) -> str:
    logs = out.with_name(out.name + "-logs")
    return "".join((logs / name).read_text(errors="replace") for name in ("stdout", "stderr") if (logs / name).exists())


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def event_lines(out: Path) -> list[bytes]:
    path = out / "events.jsonl"
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def whole_events(out: Path) -> list[dict[str, Any]]:
    """The events whose line was written whole (a torn last line is not an event yet)."""
    return [json.loads(line) for line in event_lines(out) if line.endswith(b"\n")]


def hook_reads(out: Path) -> list[dict[str, Any]]:
    return [event for event in whole_events(out) if event["source"] == "hook" and event["kind"] == "pi_read"]


def run_info(out: Path) -> dict[str, Any]:
    return json.loads((out / "run.json").read_text())


def target_pid(out: Path) -> int | None:
    try:
        return run_info(out)["target"].get("pid")
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in {"Z", "X"}


def kill_if_alive(pid: int | None) -> bool:
    """SIGKILL a process a fault left behind; True if there was one."""
    if pid is None or not alive(pid):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def consentmon(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "monitor", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=str(cwd) if cwd else None, env=cli_env())


def fuzz_profile() -> str:
    """The hypothesis profile fuzz tests run under (registered in conftest.py): `fuzz` when CONSENTMON_FUZZ is set."""
    return "fuzz" if int(os.environ.get("CONSENTMON_FUZZ", "0") or 0) else "fuzz-quick"
