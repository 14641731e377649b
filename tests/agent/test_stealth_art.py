"""Anti-Frida checks made from Java on Android's own runtime (host ART 10, tests/support/art): the app reads
/proc/self/maps through libcore and connects to frida-server's port; each probe is an anti_instrumentation
event with the Java stack of the class that made it, without --stealth the app finds Frida, with it it does
not, and the rest of what it prints is what it prints without the agent."""

from __future__ import annotations


import pytest

from monitor.agent.session import AgentOptions
from support.art.fixtures import art10  # noqa: F401 - the host ART runtime (built on first use)

pytestmark = [pytest.mark.frida, pytest.mark.timeout(900)]

CHECK = """
package com.guard.sdk;

import java.io.BufferedReader;
import java.io.FileReader;
import java.net.InetSocketAddress;
import java.net.Socket;

public class Check {
    public static void main(String[] args) throws Exception {
        int found = 0;
        boolean own = false;
        try (BufferedReader maps = new BufferedReader(new FileReader("/proc/self/maps"))) {
            for (String line = maps.readLine(); line != null; line = maps.readLine()) {
                if (line.contains("frida") || line.contains("gum-js")) {
                    found++;
                }
                own |= line.contains("libart.so");
            }
        }
        System.out.println("maps found=" + found + " libart=" + own);
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
def art_runs(art10, listener: None):
    from support.art.agent import run_on_art
    from support.art.dex import dex_jar

    app = dex_jar(art10, {"com/guard/sdk/Check.java": CHECK}, name="stealth-check")
    options = {"importance_poll_ms": 0, "follow_children": False}
    plain = run_on_art(art10, "com.guard.sdk.Check", classpath=[app.dex], attach=False)
    hooked = run_on_art(art10, "com.guard.sdk.Check", classpath=[app.dex], options=AgentOptions(**options))
    hidden = run_on_art(art10, "com.guard.sdk.Check", classpath=[app.dex], options=AgentOptions(stealth=True, **options))
    return plain, hooked, hidden


def test_on_art_the_app_finds_frida_without_stealth_and_nothing_with_it(art_runs) -> None:
    plain, hooked, hidden = art_runs
    assert len(hidden.stdout_lines()) > 1, hidden.stderr[-3000:]
    assert plain.stdout_lines()[:2] == ["maps found=0 libart=true", "port connected"]
    assert hooked.stdout_lines()[0] != "maps found=0 libart=true" and hooked.stdout_lines()[1] == "port connected"
    assert hidden.stdout_lines()[:2] == ["maps found=0 libart=true", "port ConnectException"]


def test_on_art_probes_carry_the_java_stack(art_runs) -> None:
    _, hooked, hidden = art_runs
    for run in (hooked, hidden):
        probes = {event["category"]: event for event in run.sink.hooks() if event["kind"] == "anti_instrumentation"
                  and any(frame.startswith("com.guard.sdk.Check.main(") for frame in event["stack"])}
        assert probes["memory_map"]["value"] == "/proc/self/maps"
        assert probes["frida_port"]["value"].endswith(":27042")
