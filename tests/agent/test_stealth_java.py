"""Anti-Frida checks made from Java on HotSpot (an SDK reading /proc/self/maps with java.nio, connecting to
frida-server's port with java.net.Socket): each probe is an anti_instrumentation event carrying the Java stack
of the class that made it; without --stealth the program finds Frida, with it it does not, and everything else
it prints is the same as without the agent."""

from __future__ import annotations

import subprocess

import pytest

from monitor.agent.session import AgentOptions

from agentrun import AgentRun, run_under_agent

pytestmark = pytest.mark.frida

SOURCE = """
package com.guard.sdk;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

public class Check {
    public static void main(String[] args) throws Exception {
        List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
        long found = maps.stream().filter(line -> line.contains("frida") || line.contains("gum-js")).count();
        long own = maps.stream().filter(line -> line.contains("libjava.so")).count();
        System.out.println("maps found=" + found + " libjava=" + (own > 0));
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", 27042), 2000);
            System.out.println("port connected");
        } catch (java.io.IOException error) {
            System.out.println("port " + error.getClass().getSimpleName());
        }
    }
}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, listener: None) -> dict[str, tuple[list[str], AgentRun | None]]:
    root = tmp_path_factory.mktemp("javaprobe")
    source = root / "src" / "com" / "guard" / "sdk" / "Check.java"
    source.parent.mkdir(parents=True)
    source.write_text(SOURCE)
    subprocess.run(["javac", "-d", str(root / "classes"), str(source)], check=True, capture_output=True, timeout=180)
    command = ["/usr/bin/java", "-cp", str(root / "classes"), "com.guard.sdk.Check"]
    plain = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout.splitlines()
    out: dict[str, tuple[list[str], AgentRun | None]] = {"plain": (plain, None)}
    for name, stealth in (("agent", False), ("stealth", True)):
        run = run_under_agent(command, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0, stealth=stealth))
        out[name] = (run.stdout_lines(), run)
    return out


def test_without_stealth_java_code_finds_frida_and_with_it_does_not(runs) -> None:
    plain, _ = runs["plain"]
    found, _ = runs["agent"]
    hidden, _ = runs["stealth"]
    assert plain == ["maps found=0 libjava=true", "port connected"]
    assert found[0].startswith("maps found=") and found[0] != "maps found=0 libjava=true" and found[1] == "port connected"
    assert hidden == ["maps found=0 libjava=true", "port ConnectException"]     # refused, as with nothing listening


@pytest.mark.parametrize("mode", ["agent", "stealth"])
def test_java_probes_carry_the_java_stack_of_the_class_that_made_them(runs, mode: str) -> None:
    _, run = runs[mode]
    probes = [event for event in run.sink.hooks() if event["kind"] == "anti_instrumentation"
              and any(frame.startswith("com.guard.sdk.Check.main(") for frame in event["stack"])]
    by_check = {event["category"]: event for event in probes}
    assert by_check["memory_map"]["value"] == "/proc/self/maps"
    # The JDK connects a dual-stack socket: 127.0.0.1 as an IPv4-mapped IPv6 address.
    assert by_check["frida_port"]["value"] in ("127.0.0.1:27042", "0:0:0:0:0:ffff:7f00:1:27042")
    assert "native_stack" in by_check["memory_map"]["payload"]                 # the libc call underneath, kept
    stats = next(iter(run.summary.values()))["stats"]
    if "record_errors" in stats:   # the JVM may end before the final stats call
        assert stats["record_errors"] == 0, stats["last_record_error"]
        if mode == "stealth":
            assert stats["stealth"]["errors"] == 0 and stats["stealth"]["map_lines_hidden"] > 0
