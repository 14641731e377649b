"""Anti-instrumentation probes on a real C program under the real agent (tests/support/native/antifrida.c,
built as `hardened`): every probe is an `anti_instrumentation` event with or without --stealth; without it
the program finds Frida (its memory in /proc/self/maps, frida-server's port answering, its threads by id),
with it the program finds nothing, and everything else it reads is what it reads without the agent."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator

import pytest

from monitor.agent.session import AgentOptions
from monitor.data import load_catalogue
from support.native import build_native_targets

from agentrun import AgentRun, run_under_agent

pytestmark = pytest.mark.frida

FRIDA_PORT = 27042


@pytest.fixture(scope="module")
def hardened() -> str:
    return str(build_native_targets()["antifrida"])


@pytest.fixture(scope="module")
def fake_frida_server() -> Iterator[bool]:
    """Something listening on frida-server's default port, as on a phone running it there. False when the
    port is taken by another program (then whether it answers is not ours to say)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", FRIDA_PORT))
    except OSError:
        listener.close()
        yield False
        return
    listener.listen(16)
    yield True
    listener.close()


def checks(lines: list[str]) -> dict[str, dict]:
    return {item["check"]: item for item in map(json.loads, lines)}


@pytest.fixture(scope="module")
def runs(hardened: str, fake_frida_server: bool) -> dict[str, tuple[dict[str, dict], AgentRun | None]]:
    plain = subprocess.run([hardened], capture_output=True, text=True, timeout=60, check=True)
    out: dict[str, tuple[dict[str, dict], AgentRun | None]] = {"plain": (checks(plain.stdout.splitlines()), None)}
    for name, stealth in (("agent", False), ("stealth", True)):
        run = run_under_agent([hardened], options=AgentOptions(stealth=stealth))
        out[name] = (checks(run.stdout_lines()), run)
    return out


def probes(run: AgentRun) -> list[dict]:
    return [event for event in run.sink.hooks() if event["kind"] == "anti_instrumentation"]


def test_without_stealth_the_program_finds_frida(runs) -> None:
    plain, _ = runs["plain"]
    found, _ = runs["agent"]
    assert plain["maps-fopen"]["found"] == 0 and plain["maps-open"]["found"] == 0
    assert found["maps-fopen"]["found"] > 0 and found["maps-open"]["found"] == 1      # frida-agent in its memory map
    assert found["tid-scan"]["count"] > plain["tid-scan"]["count"]                     # threads it did not start
    if plain["port"]["connected"]:
        assert found["port"]["connected"] == 1                                         # "frida-server" answers


def test_with_stealth_the_program_finds_nothing_and_reads_the_rest_unchanged(runs) -> None:
    plain, _ = runs["plain"]
    hidden, run = runs["stealth"]
    assert hidden["maps-fopen"]["found"] == 0 and hidden["maps-open"]["found"] == 0
    assert hidden["maps-fopen"]["self_lines"] == plain["maps-fopen"]["self_lines"]   # its own mappings all there
    assert hidden["maps-open"]["cloexec"] == 1                                        # the descriptor's flags kept
    assert hidden["threads"]["count"] == plain["threads"]["count"] == 2 and hidden["threads"]["worker_seen"] == 1
    assert hidden["tid-scan"] == plain["tid-scan"]                                    # Frida's threads do not exist
    assert hidden["comm-fopen"]["name"] == "worker"                                   # its own thread's name as it set it
    assert hidden["port"] == {"check": "port", "connected": 0, "errno": 111}          # ECONNREFUSED, as with nothing there
    assert hidden["server-file"] == plain["server-file"]
    stats = run.summary[run.pid]["stats"] if run.summary[run.pid]["stats"] else None
    if stats:  # the program may end before the final stats call
        assert stats["stealth"]["errors"] == 0


@pytest.mark.parametrize("mode", ["agent", "stealth"])
def test_every_probe_is_an_event_with_its_check_and_the_code_that_made_it(runs, mode: str) -> None:
    _, run = runs[mode]
    events = probes(run)
    by_check: dict[str, list[dict]] = {}
    for event in events:
        by_check.setdefault(event["category"], []).append(event)
    assert {event["value"] for event in by_check["memory_map"]} == {"/proc/self/maps"}
    assert len(by_check["memory_map"]) == 2                                           # fopen + open, once each
    assert any(event["value"].endswith("/comm") for event in by_check["thread_names"])
    assert [event["value"] for event in by_check["frida_port"]] == [f"127.0.0.1:{FRIDA_PORT}"]
    assert [event["value"] for event in by_check["frida_files"]] == ["/data/local/tmp/frida-server"]
    for event in events:
        assert "hardened!" in event["stack"][0] and "antifrida.c" in event["stack"][0]
        assert event["payload"]["native"] is True
    # A probe is not a PI read and not one more connection the proxy did not see.
    assert not [event for event in run.sink.hooks() if event["kind"] == "connect" and event["value"].endswith(f":{FRIDA_PORT}")]


def test_probe_entries_are_data_with_a_source_and_stealth_hides_only_what_they_say() -> None:
    catalogue = load_catalogue()
    entries = [entry for entry in catalogue.native if entry.kind == "anti_instrumentation"]
    assert {entry.category for entry in entries} >= {"memory_map", "thread_names", "frida_port", "frida_files"}
    assert all(entry.source.startswith("https://") for entry in entries)
    assert {entry.hide for entry in entries} == {"cloaked_ranges", "cloaked_threads", "refuse", None}
    assert not {entry.category for entry in entries} & set(catalogue.categories())    # not PI categories


def test_stealth_changes_nothing_else_a_program_sees(catalogue) -> None:
    """The generated stub-Android program calls every catalogue API: with --stealth its output is exactly its
    output without the agent (tests/agent/test_stub_catalogue.py does the same without stealth)."""
    from support.stubgen import OWN_PACKAGE, build_stubs, exerciser_command

    classes, _calls = build_stubs(catalogue)
    command = exerciser_command(classes)
    plain = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    run = run_under_agent(command, options=AgentOptions(wait_for_jvm=True, own_package=OWN_PACKAGE, process_name="stubapp",
                                                        importance_poll_ms=0, stealth=True), timeout=120)
    assert run.stdout_lines() == plain
    assert not [event for event in run.sink.events if event["category"] == "crashing"]
    # The bridge's known "expected number" (a replaced boolean method that throws, hooks/README.md) and nothing else.
    errors = [event["payload"]["description"] for event in run.sink.events if event["category"] == "script-error"]
    assert all("expected number" in error for error in errors), errors
