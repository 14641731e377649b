"""An app that dies under the hooks, on Android's runtime (host ART 10): the agent's report of the death comes
first, with the last hooks that fired, as on HotSpot (tests/agent/test_stealth_crash.py).

- An uncaught exception on a worker thread: ART hands it to Thread.dispatchUncaughtException (on a phone
  RuntimeInit's handler then logs FATAL EXCEPTION and kills the app); the report names the exception and the
  thread, and the default handler still prints the very same exception.
- A fault in the app's own native code (an SDK's JNI library writing to an unmapped page, as a protection does
  when it found an instrument): ART's fault handler takes the process down; before it does, the agent has sent
  the queued events and the fault with its module and the last APIs (the SDK's native read just before).
"""

from __future__ import annotations

import pytest

from monitor.agent.session import AgentOptions
from support.art.fixtures import art10  # noqa: F401 - the host ART runtime (built on first use)
from support.native import build_jni_library

from test_stealth_crash import UNCAUGHT

pytestmark = [pytest.mark.frida, pytest.mark.timeout(900)]

PROGRAM = {
    "com/sdk/jni/DeviceInfo.java": """
package com.sdk.jni;
public final class DeviceInfo {
    public static native String macByFile(String path);
    public static native void die();
}
""",
    "Uncaught.java": UNCAUGHT,   # the HotSpot test's program (a lambda: desugared for ART as D8 does)
    "com/example/dies/App.java": """
package com.example.dies;
public class App {
    public static void main(String[] args) throws Exception {
        System.load(args[0]);
        System.out.println("mac " + com.sdk.jni.DeviceInfo.macByFile("/sys/class/net/lo/address"));
        com.sdk.jni.DeviceInfo.die();
        System.out.println("never printed");
    }
}
""",
}


def program_dex(art10):
    from support.art.dex import dex_jar

    return dex_jar(art10, PROGRAM, name="crash-app").dex


def _runs(art10, main: str, args: list[str]):
    from support.art.agent import run_on_art

    plain = run_on_art(art10, main, classpath=[program_dex(art10)], args=args, attach=False)
    hooked = run_on_art(art10, main, classpath=[program_dex(art10)], args=args,
                        options=AgentOptions(importance_poll_ms=0, follow_children=False))
    return plain, hooked


def _crashes(run) -> list[dict]:
    return [event["payload"] for event in run.sink.events if event["category"] == "crashing"]


def test_on_art_an_uncaught_exception_is_reported_before_its_handler_runs(art10) -> None:
    plain, hooked = _runs(art10, "Uncaught", [])
    assert hooked.stdout_lines() == plain.stdout_lines() == ["main goes on"]
    assert "java.lang.IllegalStateException: instrumentation detected" in plain.stderr
    assert "java.lang.IllegalStateException: instrumentation detected" in hooked.stderr
    (crash,) = _crashes(hooked)
    assert crash["fault"] == "uncaught-exception" and crash["thread"] == "guard-worker"
    assert crash["exception"] == "java.lang.IllegalStateException: instrumentation detected"
    assert isinstance(crash["last_apis"], list)


def test_on_art_a_fault_in_the_apps_native_code_is_reported_with_the_last_hooks_that_fired(art10) -> None:
    plain, hooked = _runs(art10, "com.example.dies.App", [str(build_jni_library())])
    # ART's fault handler ends the process as it would without the agent; the app printed the same before.
    assert plain.returncode != 0 and hooked.returncode != 0
    assert hooked.stdout_lines() == plain.stdout_lines() and plain.stdout_lines()[0].startswith("mac ")
    assert "never printed" not in plain.stdout
    (crash,) = _crashes(hooked)
    assert crash["fault"] == "access-violation" and crash["module"] == "libjnimac.so"
    assert crash["memory"] == {"operation": "write", "address": "0x8"}
    assert crash["last_apis"] and crash["last_apis"][-1].startswith("libc.so.open")
    # Every event queued before the fault arrived: the SDK's read of the MAC file.
    (read,) = [event for event in hooked.sink.hooks() if event["api"] == "libc.so.open"
               and event["args"][0] == "/sys/class/net/lo/address"]
    assert read["stack"][0].startswith("com.sdk.jni.DeviceInfo.macByFile(")
    # The app dies of its own fault, as without the agent: ART's report names SIGSEGV, not the agent (no JNI
    # made from inside the fault handler, no script engine refusing to run there).
    for run in (plain, hooked):
        assert "Fatal signal 11 (SIGSEGV)" in run.stderr
    assert "JNI DETECTED ERROR" not in hooked.stderr and "DisallowJavascriptExecutionScope" not in hooked.stderr


