"""An app that dies under the hooks (tests/support/native/antifrida.c built as `hardened`, killing itself the
way a protection does once it found Frida): the agent reports the fault with the last hooks that fired, the
events queued before it still arrive, the app's own fault handler still runs, and a host run records the
death as its `target-lost` gap with the fault and the last APIs."""

from __future__ import annotations

import json

import pytest

from monitor.runner.host import HostRunConfig, run_host
from support.native import build_native_targets

from agentrun import run_under_agent

pytestmark = pytest.mark.frida


@pytest.fixture(scope="module")
def hardened() -> str:
    return str(build_native_targets()["antifrida"])


@pytest.mark.parametrize(("mode", "fault"), [("segv", "access-violation"), ("abort", "abort")])
def test_a_fault_is_reported_with_the_last_hooks_that_fired_and_nothing_queued_is_lost(hardened: str, mode: str, fault: str) -> None:
    run = run_under_agent([hardened, mode])
    state = run.host.processes[run.pid]
    assert state.crash is not None and state.crash["fault"] == fault
    if mode == "segv":
        assert state.crash["module"] == "hardened" and state.crash["memory"] == {"operation": "write", "address": "0x8"}
    # The probes just before the fault are the last APIs, oldest first, and their events all arrived.
    assert state.crash["last_apis"][-2:] == ["libc.so.connect (frida_port)", "libc.so.access (frida_files)"]
    assert [event["category"] for event in run.sink.hooks()][-2:] == ["frida_port", "frida_files"]
    assert [event for event in run.sink.events if event["category"] == "crashing"]


def test_the_apps_own_fault_handler_still_runs(hardened: str) -> None:
    run = run_under_agent([hardened, "segv", "handled"])
    lines = [json.loads(line) for line in run.stdout_lines()]
    assert {"check": "own-handler", "signal": 11} in lines
    assert run.host.processes[run.pid].crash["fault"] == "access-violation"


def test_a_normal_exit_is_no_crash(hardened: str) -> None:
    run = run_under_agent([hardened])
    assert run.host.processes[run.pid].crash is None
    assert list(run.host.processes[run.pid].recent_apis)[-1] == "libc.so.access"


def test_a_host_run_records_the_crash_as_its_target_lost_gap(hardened: str, tmp_path) -> None:
    result = run_host(HostRunConfig(argv=[hardened, "segv"], out=tmp_path / "crashed", block_upstream=True,
                                    confdir=tmp_path / "mitm"))
    assert result.exit_reason == "target-lost" and result.partial
    [gap] = result.gaps
    assert gap["what"] == "target-lost" and "access-violation" in gap["reason"] and "hardened" in gap["reason"]
    assert gap["last_apis"][-1] == "libc.so.access (frida_files)"
    events = [json.loads(line) for line in (tmp_path / "crashed" / "events.jsonl").read_text().splitlines()]
    assert [event for event in events if event["kind"] == "gap" and event["payload"]["crash"]["fault"] == "access-violation"]
    info = json.loads((tmp_path / "crashed" / "run.json").read_text())
    assert info["gaps"][0]["crash"]["module"] == "hardened"
    clean = run_host(HostRunConfig(argv=[hardened], out=tmp_path / "clean", block_upstream=True, confdir=tmp_path / "mitm"))
    assert clean.exit_reason == "target-ended" and not clean.gaps


NPE_LOOP = """
public class NullLoop {
    static int length(int[] array) { return array.length; }
    public static void main(String[] args) {
        int total = 0;
        for (int index = 0; index < 200000; index++) {
            try { total += length(index % 2 == 0 ? null : new int[1]); } catch (NullPointerException error) { total++; }
        }
        System.out.println(total);
    }
}
"""


def test_faults_the_runtime_takes_and_handles_itself_are_no_crash(tmp_path) -> None:
    """HotSpot's implicit null checks fault in its JIT code and are handled by the VM: not a crash."""
    import subprocess

    from monitor.agent.session import AgentOptions

    source = tmp_path / "NullLoop.java"
    source.write_text(NPE_LOOP)
    subprocess.run(["javac", "-d", str(tmp_path / "classes"), str(source)], check=True, capture_output=True, timeout=180)
    run = run_under_agent(["/usr/bin/java", "-cp", str(tmp_path / "classes"), "NullLoop"],
                          options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    assert run.stdout_lines() == ["200000"]
    assert run.host.processes[run.pid].crash is None
    assert not [event for event in run.sink.events if event["category"] == "crashing"]


UNCAUGHT = """
public class Uncaught {
    public static void main(String[] args) throws Exception {
        Thread worker = new Thread(() -> {
            System.getenv("HOME");
            throw new IllegalStateException("instrumentation detected");
        }, "guard-worker");
        worker.start();
        worker.join();
        System.out.println("main goes on");
    }
}
"""


def test_an_uncaught_java_exception_is_reported_before_its_handler_runs(tmp_path) -> None:
    """The default handler still prints the very exception (the app sees the same), and the agent said first
    which exception, on which thread, after which hooks."""
    import subprocess

    from monitor.agent.session import AgentOptions

    source = tmp_path / "Uncaught.java"
    source.write_text(UNCAUGHT)
    subprocess.run(["javac", "-d", str(tmp_path / "classes"), str(source)], check=True, capture_output=True, timeout=180)
    command = ["/usr/bin/java", "-cp", str(tmp_path / "classes"), "Uncaught"]
    plain = subprocess.run(command, capture_output=True, text=True, timeout=120)
    run = run_under_agent(command, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    assert run.stdout_lines() == plain.stdout.splitlines() == ["main goes on"]
    assert 'Exception in thread "guard-worker" java.lang.IllegalStateException: instrumentation detected' in plain.stderr
    [crash] = [event["payload"] for event in run.sink.events if event["category"] == "crashing"]
    assert crash["fault"] == "uncaught-exception" and crash["thread"] == "guard-worker"
    assert crash["exception"] == "java.lang.IllegalStateException: instrumentation detected"
    assert isinstance(crash["last_apis"], list)
