"""Ending a target through Frida when it may already be gone: the runner, the catalogue check and the agent host
all use one kill_quietly, which tells "killed" from "already gone" whatever way Frida says the latter."""

from __future__ import annotations

import subprocess
import sys

import frida
import pytest

from monitor.agent.session import kill_quietly, local_device, wait_for_exit

pytestmark = pytest.mark.frida


def test_a_running_process_is_killed_and_a_gone_one_is_no_error() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert kill_quietly(local_device(), process.pid) is True
    process.wait(timeout=10)
    assert wait_for_exit(process.pid, timeout=5)
    assert kill_quietly(local_device(), process.pid) is False


class _ExitingBetweenChecks:
    """Frida's answer when the process exits while Frida reads it (seen in a full-disk fault run)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def kill(self, pid: int) -> None:
        raise frida.NotSupportedError(self.message)


def test_a_process_exiting_while_frida_reads_it_is_gone_not_a_crash_of_the_run() -> None:
    assert kill_quietly(_ExitingBetweenChecks("failed to open file “/proc/18167/auxv”: No such process"), 18167) is False
    with pytest.raises(frida.NotSupportedError):
        kill_quietly(_ExitingBetweenChecks("unable to kill a system process"), 1)
