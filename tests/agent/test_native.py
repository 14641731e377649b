"""Native and side-channel reads on real local processes (a small C target compiled at test time)."""

from __future__ import annotations

import json

import pytest

from monitor.agent.session import AgentOptions
from support.native import build_native_targets

from agentrun import AgentRun, run_under_agent

pytestmark = pytest.mark.frida


@pytest.fixture(scope="module")
def targets() -> dict:
    return build_native_targets()


@pytest.fixture(scope="module")
def sidechannels(targets: dict) -> tuple[AgentRun, dict[str, dict]]:
    run = run_under_agent([str(targets["sidechannels"])])
    reads = {line["read"]: line for line in map(json.loads, run.stdout_lines())}
    return run, reads


def by_api(run: AgentRun) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for event in run.sink.hooks():
        out.setdefault(event["api"], []).append(event)
    return out


def test_each_side_channel_is_recorded_once_with_what_the_program_read(sidechannels: tuple[AgentRun, dict]) -> None:
    run, reads = sidechannels
    events = by_api(run)
    assert [event["value"] for event in events["libc.so.open"]] == [reads["open"]["value"]]   # the loopback MAC
    assert events["libc.so.open"][0]["args"][0] == "/sys/class/net/lo/address"
    assert [event["args"][1] for event in events["libc.so.openat"]] == ["/proc/net/arp"]
    assert events["libc.so.openat"][0]["value"].startswith("IP address")
    # fopen opens through open inside libc: one read, reported as the caller's fopen.
    assert [event["args"][0] for event in events["libc.so.fopen"]] == ["/proc/cpuinfo"]
    assert [event["value"] for event in events["libc.so.ioctl"]] == [reads["ioctl"]["value"]]
    assert events["libc.so.ioctl"][0]["payload"]["interface"] == "lo"
    assert [event["value"] for event in events["libc.so.__system_property_get"]] == [reads["property"]["value"]]
    ifaddrs = events["libc.so.getifaddrs"]
    assert len(ifaddrs) == 1 and "lo mac 00:00:00:00:00:00" in ifaddrs[0]["value"] and "lo inet 127.0.0.1" in ifaddrs[0]["value"]


def test_reads_that_are_not_identifiers_or_that_failed_are_not_recorded(sidechannels: tuple[AgentRun, dict]) -> None:
    run, reads = sidechannels
    assert reads["silent-open"]["ok"] and not reads["silent-missing"]["ok"] and reads["silent-ioctl"]["ok"]
    paths = [arg for event in run.sink.hooks() for arg in event["args"]]
    assert "/proc/self/stat" not in paths and "/sys/class/net/consentmon-none/address" not in paths
    assert len(by_api(run)["libc.so.ioctl"]) == 1
    assert [event["args"][0] for event in by_api(run)["libc.so.__system_property_get"]] == ["ro.serialno"]


def test_native_events_carry_a_backtrace_and_the_calling_library(sidechannels: tuple[AgentRun, dict]) -> None:
    run, _ = sidechannels
    for event in run.sink.hooks():
        assert event["payload"]["module"] == "sidechannels"
        assert "sidechannels!main" in event["stack"][0]
        assert event["pid"] == run.pid and event["process"].endswith("/sidechannels")


def test_native_hooks_install_at_init_without_a_jvm(sidechannels: tuple[AgentRun, dict]) -> None:
    run, _ = sidechannels
    status = [event for event in run.sink.events if event["kind"] == "hook_status"]
    assert status and status[0]["payload"]["scope"] == "native" and status[0]["payload"]["failed"] == 0
    assert any(event["category"] == "no-java" for event in run.sink.events)


def test_a_flood_is_counted_and_reported_not_stored(targets: dict) -> None:
    # 200 reads of the MAC file under a cap of 50 per API per second (the loop takes far less than 1 s;
    # a slower machine only moves reads from "dropped" to "stored", the sum stays 200).
    run = run_under_agent([str(targets["sidechannels"]), "flood"], options=AgentOptions(max_events_per_api_per_second=50))
    stored = len(by_api(run)["libc.so.open"])
    dropped = sum(event["payload"].get("libc.so.open", 0) for event in run.sink.events if event["category"] == "rate_limited")
    assert stored + dropped == 200
    assert 50 <= stored < 200 and dropped > 0


def test_children_by_fork_and_by_spawn_are_instrumented_with_their_own_pid(targets: dict) -> None:
    run = run_under_agent([str(targets["multiproc"])])
    roles = {line["role"]: line for line in map(json.loads, run.stdout_lines()) if line["role"] != "reaped"}
    reaped = [line for line in map(json.loads, run.stdout_lines()) if line["role"] == "reaped"]
    assert all(line["status"] == 0 for line in reaped), reaped
    reads = [(event["pid"], event["api"]) for event in run.sink.hooks()]
    for role in ("parent", "exec-child", "fork-child"):
        assert reads.count((roles[role]["pid"], "libc.so.open")) == 1, (role, reads)
    instrumented = {event["pid"]: event["payload"]["origin"] for event in run.sink.events if event["category"] == "child-instrumented"}
    assert instrumented == {roles["exec-child"]["pid"]: "exec", roles["fork-child"]["pid"]: "fork"}


def test_native_connects_are_recorded_with_host_and_port_and_unix_sockets_are_not(sidechannels: tuple[AgentRun, dict]) -> None:
    run, reads = sidechannels
    assert not reads["connect-tcp4"]["ok"] and reads["connect-udp4"]["ok"]  # refused, and UDP's peer set
    connects = by_api(run)["libc.so.connect"]
    expected = [("127.0.0.1:1", "127.0.0.1", "1", "tcp"), ("127.0.0.1:9", "127.0.0.1", "9", "udp")]
    if reads["connect-tcp6"]["socket"]:
        expected.append(("0:0:0:0:0:0:0:1:2", "0:0:0:0:0:0:0:1", "2", "tcp"))
    assert [(event["value"], event["payload"]["host"], event["payload"]["port"], event["payload"]["transport"])
            for event in connects] == expected
    assert all(event["kind"] == "connect" and event["payload"]["module"] == "sidechannels" for event in connects)
    # A refused connect is still on record, with what connect() returned.
    assert int(connects[0]["payload"]["returned"], 16) & 0xffffffff == 0xffffffff  # -1
    assert not reads["silent-connect-unix"]["ok"]
