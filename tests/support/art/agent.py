"""Running a dex program on host ART under consentmon's real agent (the host-ART bundle of the same
sources the phone bundle is built from), events kept in memory and checked against the one schema.

The launcher waits at its gate (a FIFO) once the VM is up and before the main class is loaded: the
agent is attached and armed there, so the program's first instruction already runs hooked. (The
agent's own early point, hooking the VM's creation, knows HotSpot's libjvm only; see hooks/README.md.)
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from monitor.agent.session import AgentHost, AgentOptions, local_device, wait_for_exit
from monitor.data import load_catalogue
from monitor.data.models import Catalogue
from monitor.hostart import HostArt
from support.sinks import ListSink

MAIN_RETURNED = "[launcher] main returned"


@dataclass
class ArtAgentRun:
    sink: ListSink
    pid: int
    stdout: str
    stderr: str
    summary: dict[int, dict[str, Any]]
    host: AgentHost
    returncode: int | None        # the process's; ended by us (negative) when it lingered after the detach
    lingered: str | None = None   # the threads of a process still waiting in DestroyJavaVM after the detach

    def stdout_lines(self) -> list[str]:
        return self.stdout.splitlines()

    def main_status(self) -> int | None:
        """What main left behind, from the launcher's line: 0 returned, 5 threw (kit/dalvikvm.c)."""
        found = re.search(re.escape(MAIN_RETURNED) + r" \(status (\d+)\)", self.stderr)
        return int(found.group(1)) if found else None


class _Drain(threading.Thread):
    """Reads a pipe to its end, so the program never blocks on a full pipe."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream, self.chunks = stream, []
        self.start()

    def run(self) -> None:
        for line in iter(self.stream.readline, ""):
            self.chunks.append(line)

    def text(self) -> str:
        return "".join(self.chunks)


def _threads(pid: int) -> str:
    """Each thread's name, state and kernel wait channel, for a process that does not end."""
    described = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            described.append(f"{(task / 'comm').read_text().strip()}:{state}:{(task / 'wchan').read_text().strip()}")
        except OSError:
            continue
    return ", ".join(described)


def _open_gate(gate: Path, process: subprocess.Popen, deadline: float) -> int:
    """Open the FIFO for writing once the launcher has opened it for reading (the VM is up)."""
    while time.monotonic() < deadline:
        try:
            return os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:   # ENXIO: no reader yet
                raise
        if process.poll() is not None:
            raise AssertionError(f"the runtime exited ({process.returncode}) before its VM was up")
        time.sleep(0.02)
    raise AssertionError("the runtime's VM was not up in time")


def _on_host_art(options: AgentOptions) -> AgentOptions:
    """The options as a host-ART run has them: the bundle with the host guards (and so the runtime ART needs)."""
    return replace(options, bundle_variant="host-art")


def run_on_art(runtime: HostArt, main: str, *, classpath: Sequence[Path], boot: Sequence[Path] = (),
               args: Sequence[str] = (), catalogue: Catalogue | None = None, options: AgentOptions | None = None,
               attach: bool = True, timeout: float = 180.0) -> ArtAgentRun:
    """Run `main` on ART; with `attach`, under the agent armed before main. Returns once main has returned
    and the agent was flushed and detached (or, without the agent, once the process exited)."""
    sink = ListSink()
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="consentmon-art-") as scratch:
        data, gate = Path(scratch) / "android", Path(scratch) / "gate"
        os.mkfifo(gate)
        process = subprocess.Popen(runtime.command(main, classpath=classpath, boot=boot, args=args),
                                   env=runtime.environment(data, gate=gate), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = _Drain(process.stdout), _Drain(process.stderr)
        host: AgentHost | None = None
        summary: dict[int, dict[str, Any]] = {}
        lingered: str | None = None
        try:
            gate_fd = _open_gate(gate, process, deadline)
            if attach:
                host = AgentHost(local_device(), sink, catalogue or load_catalogue(),
                                 _on_host_art(options or AgentOptions(importance_poll_ms=0)))
                host.instrument(process.pid)   # the VM is up: `init` installs the Java hooks before returning
            os.write(gate_fd, b"g")
            os.close(gate_fd)
            while MAIN_RETURNED not in stderr.text() and process.poll() is None:
                if host is not None:
                    host.check()
                if time.monotonic() > deadline:
                    raise AssertionError(f"{main} on ART did not return within {timeout:.0f} s")
                time.sleep(0.02)
            if host is not None:
                summary = host.finish()   # flush, then detach: the VM waits for the agent's thread until then
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # Seen in ~3 runs of 25: the session detached, yet DestroyJavaVM still waits for a thread the
                # bridge attached ("Thread-0", alive in poll). main has returned and every event was flushed:
                # the process is ended, as AgentHost ends a HotSpot VM whose detach does not complete.
                lingered = _threads(process.pid)
                process.kill()
                process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            stdout.join(timeout=5)
            stderr.join(timeout=5)
        if host is not None:
            host.check()
        return ArtAgentRun(sink=sink, pid=process.pid, stdout=stdout.text(), stderr=stderr.text(), summary=summary,
                           host=host, returncode=process.returncode, lingered=lingered)  # type: ignore[arg-type]


def spawn_on_art(runtime: HostArt, main: str, *, classpath: Sequence[Path], boot: Sequence[Path] = (),
                 args: Sequence[str] = (), catalogue: Catalogue | None = None, options: AgentOptions | None = None,
                 timeout: float = 120.0) -> ArtAgentRun:
    """Run `main` on ART the way `run --host` runs a program: spawned suspended by AgentHost, the agent
    loaded and `init` called before the first instruction, then resumed (no gate). Returns once main has
    returned (or the time is up) and the agent was flushed and detached."""
    sink = ListSink()
    output: dict[int, list[str]] = {1: [], 2: []}

    def on_output(pid: int, fd: int, data: bytes) -> None:
        if fd in output and data:
            output[fd].append(data.decode(errors="replace"))

    with tempfile.TemporaryDirectory(prefix="consentmon-art-") as scratch:
        host = AgentHost(local_device(), sink, catalogue or load_catalogue(),
                         _on_host_art(options or AgentOptions(wait_for_jvm=True, importance_poll_ms=0, follow_children=False)),
                         on_output=on_output)
        pid = host.spawn(runtime.command(main, classpath=classpath, boot=boot, args=args),
                         env=runtime.environment(Path(scratch) / "android"))
        host.resume(pid)
        deadline = time.monotonic() + timeout
        while MAIN_RETURNED not in "".join(output[2]) and not host.all_gone() and time.monotonic() < deadline:
            host.check()
            time.sleep(0.02)
        summary = host.finish()
        lingered = None
        if not wait_for_exit(pid, timeout=5):   # as in run_on_art: still in DestroyJavaVM after the detach
            lingered = _threads(pid)
            host.device.kill(pid)
            wait_for_exit(pid, timeout=5)
        host.check()
        return ArtAgentRun(sink=sink, pid=pid, stdout="".join(output[1]), stderr="".join(output[2]), summary=summary,
                           host=host, returncode=None, lingered=lingered)

