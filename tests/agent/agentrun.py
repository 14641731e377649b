"""Running a program under the real agent with events kept in memory (imported by the agent tests)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from monitor.agent.session import AgentHost, AgentOptions, local_device
from monitor.data import load_catalogue
from monitor.data.models import Catalogue
from support.sinks import ListSink


@dataclass
class AgentRun:
    sink: ListSink
    pid: int
    output: bytes
    summary: dict[int, dict[str, Any]]
    host: AgentHost
    outputs: dict[int, bytearray] = field(default_factory=dict)

    def stdout_lines(self) -> list[str]:
        return self.output.decode(errors="replace").splitlines()


def run_under_agent(argv: list[str], *, catalogue: Catalogue | None = None, options: AgentOptions | None = None,
                    timeout: float = 60.0) -> AgentRun:
    """Spawn argv suspended under the agent, resume it, wait until it (and its children) ended."""
    sink = ListSink()
    outputs: dict[int, bytearray] = {}
    lock = threading.Lock()

    def on_output(pid: int, fd: int, data: bytes) -> None:
        if fd == 1 and data:
            with lock:
                outputs.setdefault(pid, bytearray()).extend(data)

    host = AgentHost(local_device(), sink, catalogue or load_catalogue(), options or AgentOptions(), on_output=on_output)
    pid = host.spawn(argv)
    host.resume(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host.check()
        if host.any_ending() and options is not None and options.wait_for_jvm:
            break
        if host.all_gone():
            break
        time.sleep(0.02)
    else:
        host.finish()
        raise AssertionError(f"{argv[0]} did not end within {timeout} s")
    summary = host.finish()
    host.check()
    with lock:
        output = b"".join(bytes(outputs[key]) for key in sorted(outputs))
    return AgentRun(sink=sink, pid=pid, output=output, summary=summary, host=host, outputs=outputs)
