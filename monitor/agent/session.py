"""Runs the agent inside a process and turns its messages into events in the run directory.

The sequence for a program we start ourselves: spawn suspended → attach → load → `init` (hooks are
armed before a single instruction of the program ran) → resume. Child processes are caught with
Frida's child gating and get the same agent before they run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import frida
import msgspec

from monitor.agent.build import build_agent
from monitor.data import load_unpin
from monitor.data.models import Catalogue
from monitor.errors import AgentError, CaptureError, TargetError
from monitor.store.sink import EventSink
from monitor.store.writer import AgentRecord


_decode_batch = msgspec.json.Decoder(list[dict[str, Any]]).decode


class _AgentBatch(msgspec.Struct, forbid_unknown_fields=True):
    """A batch as the agent sends it (hooks/src/queue.ts): each event names its stack by index into `stacks`."""
    stacks: list[list[str]]
    events: list[AgentRecord]  # type: ignore[valid-type]


class _SharedStackBatch(msgspec.Struct, forbid_unknown_fields=True):
    """The same batch, events left as dicts: the path for a batch outside the fast decoder's strict types."""
    stacks: list[list[str]]
    events: list[dict[str, Any]]


_decode_agent_batch = msgspec.json.Decoder(_AgentBatch).decode
_decode_shared_batch = msgspec.json.Decoder(_SharedStackBatch).decode


def _stack_at(stacks: list[list[str]], index: Any) -> list[str]:
    if type(index) is not int or not 0 <= index < len(stacks):
        raise CaptureError(f"an event names stack {index!r}, the batch has {len(stacks)}")
    return stacks[index]


def _agent_records(data: bytes, base_ns: int, offset_ns: int) -> list[Any] | None:
    """The batch's events as records ready for the writer (every field type-checked by msgspec while
    decoding, the full stacks put back, device_ts made absolute and ts set), or None when some value is
    outside msgspec's strict types (pydantic then decides, on the slower path)."""
    try:
        batch = _decode_agent_batch(data)
    except msgspec.ValidationError:
        return None
    stacks = batch.stacks
    for record in batch.events:
        device_ts = record.device_ts + base_ns
        record.device_ts = device_ts
        record.ts = device_ts + offset_ns
        record.seq = -1
        stack = record.stack
        if type(stack) is int:
            record.stack = _stack_at(stacks, stack)
    return batch.events


def _agent_dicts(data: bytes, base_ns: int, offset_ns: int) -> list[dict[str, Any]]:
    """The same batch as plain dicts, for the writer to check with pydantic's rules."""
    batch = _decode_shared_batch(data)
    for event in batch.events:
        index = event.get("stack")
        if index is not None and type(index) is not list:
            event["stack"] = _stack_at(batch.stacks, index)
    return _stamp(batch.events, base_ns, offset_ns)


def _stamp(events: list[dict[str, Any]], base_ns: int, offset_ns: int) -> list[dict[str, Any]]:
    """Events as dicts with device_ts made absolute, ts on the host clock and seq left to the writer."""
    for event in events:
        device_ts = int(event["device_ts"]) + base_ns
        event["device_ts"] = device_ts
        event["ts"] = device_ts + offset_ns
        event["seq"] = -1
    return events


@dataclass
class AgentOptions:
    wait_for_jvm: bool = False
    # Follow forked/exec'd children: Frida holds each child until the agent is in it.
    follow_children: bool = True
    # Programs that arrive by exec and are resumed without the agent. Frida's descriptors in a freshly
    # exec'd process are the lowest free ones (3 and 4), and the JDK's launcher helper moves its error
    # pipe onto fd 3 with dup2 (Frida guards close(), not dup2): with the agent inside, the helper's
    # next failing exec died with SIGSEGV instead of the app getting its IOException (measured on
    # HotSpot 17, ~1 in 8 failing Runtime.exec; tests/agent/test_exec_children.py). Untouched, the
    # helper behaves exactly as without us; the program it execs is then not instrumented.
    unattached_programs: tuple[str, ...] = ("jspawnhelper",)
    own_package: str | None = None
    process_name: str | None = None
    max_stack_frames: int = 24
    max_list_items: int = 50
    max_value_chars: int = 4096
    max_events_per_api_per_second: int = 500
    rate_limit_report_ms: int = 1000
    importance_poll_ms: int = 1000
    flush_interval_ms: int = 50
    flush_batch_size: int = 256
    # Frida's JavaScript runtime for the agent; None: chosen by the runtime the target runs (script_runtime_for).
    # V8 serialises a batch about 3× faster than QuickJS (bench/hooks/pipeline.py: agent → disk events/s
    # doubles), but in an ART process (phone or host ART) V8 cannot run an exception handler: ART's signal chain
    # (libsigchain) calls Frida's handler where V8 refuses to run JavaScript ("Invoke in
    # DisallowJavascriptExecutionScope"), and the app would die of the agent's SIGTRAP instead of its own fault,
    # unreported (tests/agent/test_crash_on_art.py). QuickJS runs it.
    script_runtime: str | None = None
    # Neutralise certificate pinning (monitor/data/unpin.yaml). Changes app behaviour: off unless asked.
    unpin_tls: bool = False
    # Hide the agent from the anti-instrumentation probes whose catalogue entries say `hide` (its memory in
    # /proc/self/maps, its threads, frida-server's ports): hooks/README.md "Stealth". Probes are recorded either way.
    stealth: bool = False
    # The agent bundle (monitor/agent/build.py): "phone" (frida-java-bridge as published: phones, HotSpot) or
    # "host-art" (the bridge with the host guards, for Android's runtime run on this machine).
    bundle_variant: str = "phone"

    def script_runtime_for(self, device: frida.core.Device) -> str:
        """The JavaScript runtime the agent runs on: the one asked for, else QuickJS where the target runs ART
        (a phone, or the host-ART bundle) and V8 elsewhere."""
        if self.script_runtime is not None:
            return self.script_runtime
        runs_art = self.bundle_variant == "host-art" or device.type != "local"
        return "qjs" if runs_art else "v8"

    def to_config(self, catalogue: Catalogue) -> dict[str, Any]:
        return {
            "hooks": [entry.model_dump() for entry in catalogue.hooks],
            "native": [entry.model_dump() for entry in catalogue.native],
            "waitForJvm": self.wait_for_jvm,
            "ownPackage": self.own_package,
            "processName": self.process_name,
            "maxStackFrames": self.max_stack_frames,
            "maxListItems": self.max_list_items,
            "maxValueChars": self.max_value_chars,
            "maxEventsPerApiPerSecond": self.max_events_per_api_per_second,
            "rateLimitReportMs": self.rate_limit_report_ms,
            "importancePollMs": self.importance_poll_ms,
            "flushIntervalMs": self.flush_interval_ms,
            "flushBatchSize": self.flush_batch_size,
            "unpin": [entry.model_dump() for entry in load_unpin().entries] if self.unpin_tls else [],
            "stealth": self.stealth,
        }


RECENT_APIS = 16


@dataclass
class ProcessState:
    pid: int
    session: frida.core.Session
    script: frida.core.Script
    ending: threading.Event = field(default_factory=threading.Event)
    detached: threading.Event = field(default_factory=threading.Event)
    detach_reason: str | None = None
    jobs: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    # A native fault the agent saw (hooks/src/crash.ts: fault, address, module, last_apis), if the process had one.
    crash: dict[str, Any] | None = None
    # The APIs of the last events received from the process, oldest first: the hooks that fired before it died.
    recent_apis: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_APIS))
    # The handlers given to Frida, kept to be taken back at the end (Frida's objects outlive the run and would
    # keep this host, its agent source and every state alive: ~4 MiB per run in a long-lived process).
    handlers: list[tuple[Any, str, Any]] = field(default_factory=list)


class AgentHost:
    """One agent per instrumented process, all writing to one sink on one clock.

    `clock_offset_ns` is added to the agent's own time stamps (0 when the target runs on this host;
    the measured device offset on a phone). A message that cannot be recorded stops the run: the
    error is kept in `failure` and re-raised by `check()`.
    """

    def __init__(self, device: frida.core.Device, sink: EventSink, catalogue: Catalogue, options: AgentOptions,
                 *, clock_offset_ns: int = 0, on_output: Callable[[int, int, bytes], None] | None = None) -> None:
        self.device = device
        self.sink = sink
        self.catalogue = catalogue
        self.options = options
        self.clock_offset_ns = clock_offset_ns
        self.bundle = build_agent(variant=options.bundle_variant).read_text()
        self.processes: dict[int, ProcessState] = {}
        self.failure: BaseException | None = None
        self.script_errors = 0
        self.pending_children = 0
        self.roots: set[int] = set()     # processes we spawned (children arrive by child gating)
        self.closed = False
        self._lock = threading.Lock()
        self.device.on("child-added", self._on_child_added)
        if on_output is not None:
            self.device.on("output", on_output)

    # ---- process life ------------------------------------------------------------------------
    def spawn(self, argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None) -> int:
        try:
            pid = self.device.spawn(argv, env=env, cwd=cwd, stdio="pipe")
        except frida.ExecutableNotFoundError as exc:
            raise TargetError(f"cannot start {argv[0]}: not found", hint="give the full path of the program after --") from exc
        except frida.NotSupportedError as exc:
            raise TargetError(f"cannot start {argv[0]}: {exc}") from exc
        self.roots.add(pid)
        self.instrument(pid)
        return pid

    def instrument(self, pid: int) -> ProcessState:
        """Attach, load and arm the agent in a suspended process (not resumed here)."""
        try:
            session = self.device.attach(pid)
            if self.options.follow_children:
                session.enable_child_gating()
            script = session.create_script(self.bundle, name="consentmon", runtime=self.options.script_runtime_for(self.device))
        except (frida.ProcessNotFoundError, frida.ProcessNotRespondingError, frida.PermissionDeniedError) as exc:
            raise TargetError(f"cannot attach to pid {pid}: {exc}",
                              hint="on Linux, ptrace may be restricted: `sysctl kernel.yama.ptrace_scope=0`") from exc
        state = ProcessState(pid=pid, session=session, script=script)
        with self._lock:
            self.processes[pid] = state
        on_message = lambda message, data: self._on_message(state, message, data)  # noqa: E731
        on_detached = lambda reason, crash: self._on_detached(state, reason, crash)  # noqa: E731
        script.on("message", on_message)
        session.on("detached", on_detached)
        state.handlers = [(script, "message", on_message), (session, "detached", on_detached)]
        script.load()
        try:
            script.exports_sync.init(self.options.to_config(self.catalogue))
        except frida.RPCException as exc:
            raise AgentError(f"the agent failed to start in pid {pid}: {exc}") from exc
        return state

    def resume(self, pid: int) -> None:
        self.device.resume(pid)

    def _on_child_added(self, child: frida.core.Child) -> None:
        # Frida delivers this signal on its own event thread; attaching from there waits on that same
        # thread and never returns (seen with frida 17.2: the child stays gated, the run hangs).
        if self.closed or (child.origin == "fork" and child.parent_pid not in self.processes):
            return  # another host's child (one frida device serves every host in this Python process)
        self.pending_children += 1
        threading.Thread(target=self._instrument_child, args=(child,), name=f"consentmon-child-{child.pid}",
                         daemon=True).start()

    def _instrument_child(self, child: frida.core.Child) -> None:
        try:
            if child.origin == "exec" and child.path and PurePosixPath(child.path).name in self.options.unattached_programs:
                self._record_agent("child-not-instrumented", child.pid, {
                    "parent_pid": child.parent_pid, "path": child.path, "origin": child.origin,
                    "reason": "listed in AgentOptions.unattached_programs (it moves descriptors onto the agent's)"})
                return
            self.instrument(child.pid)
            self._record_agent("child-instrumented", child.pid, {"parent_pid": child.parent_pid, "path": child.path,
                                                                 "origin": child.origin})
        except Exception as exc:  # noqa: BLE001 - any failure here must stop the run, not pass silently
            self.failure = exc
        finally:
            try:
                self.device.resume(child.pid)
            except (frida.InvalidArgumentError, frida.ProcessNotFoundError) as exc:
                self._record_agent("child-lost", child.pid, {"error": str(exc), "origin": child.origin})
            self.pending_children -= 1

    # ---- messages ------------------------------------------------------------------------------
    def _on_message(self, state: ProcessState, message: dict[str, Any], data: bytes | None = None) -> None:
        try:
            if message.get("type") == "error":
                self.script_errors += 1
                self._record_agent("script-error", state.pid, {"description": message.get("description"),
                                                                 "stack": message.get("stack")})
                return
            payload = message.get("payload") or {}
            kind = payload.get("type")
            if kind == "events:add":
                # The batch is the message's data, JSON decoded here by msgspec (see hooks/src/queue.ts).
                offset = self.clock_offset_ns
                base = int(payload.get("clock_base_ns", 0))
                events: list[Any]
                if "stacks" in payload:
                    records = _agent_records(data, base, offset)
                    events = records if records is not None else _agent_dicts(data, base, offset)
                else:
                    events = _stamp(payload["events"] if "events" in payload else _decode_batch(data), base, offset)
                if len(events) != payload.get("count", len(events)):
                    raise CaptureError(f"pid {state.pid} announced {payload.get('count')} events and sent {len(events)}")
                # One call per batch: the run writer flushes once per batch, not once per event.
                self.sink.append_many(events)
                state.recent_apis.extend(_api_of(event) for event in events[-RECENT_APIS:])
            elif kind == "agent:status":
                self._on_status(state, payload)
        except Exception as exc:  # noqa: BLE001 - recorded and re-raised by check(): capture fails loudly
            self.failure = exc if isinstance(exc, CaptureError) else CaptureError(f"cannot record agent message: {exc}")

    def _on_status(self, state: ProcessState, payload: dict[str, Any]) -> None:
        phase = payload.get("phase")
        extra = {key: value for key, value in payload.items() if key not in {"type", "phase", "device_ts", "pid", "jobs"}}
        if phase == "hooks-installed":
            # Native hooks report at init, Java hooks once the VM is up: one message per scope.
            jobs = payload.get("jobs", [])
            state.jobs = [job for job in state.jobs if job.get("id") not in {item.get("id") for item in jobs}] + jobs
            failed = [job for job in jobs if job.get("status") == "failed"]
            extra["failed_jobs"] = failed
        self._record_agent(phase or "status", state.pid, extra, device_ts=payload.get("device_ts"))
        if phase == "process-ending":
            state.ending.set()
        elif phase == "crashing":
            state.crash = extra
            # The faulting thread waits for this before the fault goes on (hooks/src/crash.ts).
            state.script.post({"type": "crash:ack"})

    def _on_detached(self, state: ProcessState, reason: str, crash: Any) -> None:
        state.detach_reason = reason
        if crash is not None:
            self._record_agent("crashed", state.pid, {"summary": getattr(crash, "summary", str(crash)),
                                                      "report": getattr(crash, "report", None)})
        state.detached.set()

    def _record_agent(self, phase: str, pid: int, payload: dict[str, Any], *, device_ts: Any = None) -> None:
        now = time.time_ns()
        raw = int(device_ts) if device_ts is not None else now - self.clock_offset_ns
        kind = "hook_status" if phase == "hooks-installed" else "agent"
        self.sink.append({"source": "agent", "kind": kind, "ts": raw + self.clock_offset_ns, "device_ts": raw,
                          "pid": pid, "category": phase, "payload": payload or None})

    # ---- the end -------------------------------------------------------------------------------
    def check(self) -> None:
        if self.failure is not None:
            raise self.failure

    def any_ending(self) -> bool:
        """True when a program we spawned is ending or gone. A child ending (a shell command the app ran,
        a forked helper) is not the end of the run; with no spawned program, any process counts."""
        watched = [state for pid, state in self.processes.items() if pid in self.roots] or list(self.processes.values())
        return any(state.ending.is_set() or state.detached.is_set() for state in watched)

    def all_gone(self) -> bool:
        # A child being instrumented is not in `processes` yet, but it is not gone either.
        return self.pending_children == 0 and all(state.detached.is_set() for state in self.processes.values())

    def finish(self) -> dict[int, dict[str, Any]]:
        """Flush every agent, collect its counters and detach. Returns per-pid stats."""
        if not self.closed:
            self.closed = True
            self.device.off("child-added", self._on_child_added)
        summary: dict[int, dict[str, Any]] = {}
        for state in list(self.processes.values()):
            if not state.detached.is_set():
                try:
                    state.script.exports_sync.flush()
                    state.stats = state.script.exports_sync.stats()
                    state.jobs = state.script.exports_sync.jobs() or state.jobs
                except (frida.InvalidOperationError, frida.TransportError, frida.RPCException):
                    state.stats = state.stats or {"note": "process ended before the final flush; dispose() flushed it"}
                self._detach(state)
            summary[state.pid] = {"stats": state.stats, "detach_reason": state.detach_reason,
                                  "hooks_installed": sum(1 for job in state.jobs if job.get("status") == "installed"),
                                  "hooks_failed": sum(1 for job in state.jobs if job.get("status") == "failed")}
            self._release(state)
        return summary

    @staticmethod
    def _release(state: ProcessState) -> None:
        """Take back the handlers given to Frida for a detached process, so nothing of this run stays reachable."""
        if not state.detached.is_set():
            return  # still attached (detach timed out and the kill did not end it): its handlers may still fire
        for source, signal_name, handler in state.handlers:
            try:
                source.off(signal_name, handler)
            except (ValueError, frida.InvalidOperationError):
                pass  # already gone with its session
        state.handlers = []


    def _detach(self, state: ProcessState, timeout: float = 5.0) -> None:
        """Detach, bounded in time. A JVM inside DestroyJavaVM waits for our (attached) thread while the
        bridge's unload waits for the VM: that never resolves, so after the final flush the process is
        ended instead. Everything was flushed and counted before this point."""

        def detach() -> None:
            try:
                state.session.detach()
            except (frida.InvalidOperationError, frida.TransportError):
                state.detached.set()  # already gone: nothing left to detach from

        worker = threading.Thread(target=detach, name=f"consentmon-detach-{state.pid}", daemon=True)
        worker.start()
        if state.detached.wait(timeout=timeout):
            return
        state.detach_reason = "killed: detach did not complete (JVM waiting in DestroyJavaVM)"
        if not kill_quietly(self.device, state.pid):
            state.detach_reason = "process ended during detach"
        state.detached.wait(timeout=timeout)


def _api_of(event: Any) -> str:
    api = event.get("api") if isinstance(event, dict) else getattr(event, "api", None)
    return str(api or (event.get("category") if isinstance(event, dict) else getattr(event, "category", None)) or "?")


def local_device() -> frida.core.Device:
    return frida.get_local_device()


def kill_quietly(device: frida.core.Device, pid: int) -> bool:
    """Kill pid through Frida; False when it was already gone. Frida says so in three ways: no such process,
    an invalid operation, or (exiting between its checks) a failed read of /proc/<pid>/auxv: "No such process"."""
    try:
        device.kill(pid)
        return True
    except (frida.ProcessNotFoundError, frida.InvalidOperationError):
        return False
    except frida.NotSupportedError as exc:
        if "No such process" in str(exc):
            return False
        raise


def wait_for_exit(pid: int, timeout: float) -> bool:
    """True when pid is gone (or a zombie) within timeout."""
    deadline = time.monotonic() + timeout
    stat = Path(f"/proc/{pid}/stat")
    while time.monotonic() < deadline:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return True
        if fields and fields[0] in {"Z", "X"}:
            return True
        time.sleep(0.05)
    return False
