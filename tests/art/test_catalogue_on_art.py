"""Every catalogue entry on Android's own runtime: the generated stub program (support.stubgen) runs on
host ART 10 with the stub framework on the boot class path, under the real agent (the host-ART bundle of
the same sources as the phone bundle), and is compared with itself run without the agent.

The agent is attached at the launcher's gate, once the VM is up and before the main class is loaded
(tests/support/art/agent.py), so every call of `main` runs hooked.
"""

from __future__ import annotations

import json
import re

import pytest

from monitor.agent.session import AgentOptions
from monitor.analysis.attribution import Attributor
from monitor.data import load_attribution, load_catalogue, load_sdks
from monitor.data.models import Catalogue, return_type
from monitor.hostart import HostArt

from support.art.agent import ArtAgentRun, run_on_art
from support.art.dex import dex_jar
from support.art.stubs import StubProgram
from support.stubgen import OWN_PACKAGE

pytestmark = [pytest.mark.frida, pytest.mark.timeout(900)]

# Child gating stays off here: with it, the exerciser's Runtime.exec aborted ART ("Native thread exited
# without calling DetachCurrentThread" for a thread of the agent, at the fork); see hooks/README.md.
OPTIONS = AgentOptions(own_package=OWN_PACKAGE, process_name="stubapp", importance_poll_ms=0, follow_children=False)
# ART's libcore has no https: URL handler without Android's okhttp (not in Debian): `new URL("https://…")`
# throws before openConnection is called, with and without the agent.
NEVER_CALLED_ON_ART = "ClassNotFoundException: com.android.okhttp"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def unhooked(art10: HostArt, art_stub_program: StubProgram) -> ArtAgentRun:
    return run_on_art(art10, art_stub_program.main, classpath=[art_stub_program.app.dex],
                      boot=[art_stub_program.framework.dex], attach=False)


@pytest.fixture(scope="module")
def hooked(art10: HostArt, art_stub_program: StubProgram, catalogue: Catalogue) -> ArtAgentRun:
    return run_on_art(art10, art_stub_program.main, classpath=[art_stub_program.app.dex],
                      boot=[art_stub_program.framework.dex], catalogue=catalogue, options=OPTIONS)


def java_events(run: ArtAgentRun, catalogue: Catalogue) -> list[dict]:
    apis = {entry.api for entry in catalogue.hooks}
    return [event for event in run.sink.hooks() if event["api"] in apis]


def lines_of(run: ArtAgentRun) -> list[dict]:
    return [json.loads(line) for line in run.stdout_lines()[:-1]]


def test_the_program_sees_exactly_the_same_results_with_and_without_hooks(unhooked: ArtAgentRun, hooked: ArtAgentRun) -> None:
    # main returned normally in both (the hooked VM may be ended after the detach: ArtAgentRun.lingered).
    assert unhooked.returncode == 0 and hooked.main_status() == 0, hooked.stderr[-2000:]
    assert hooked.stdout_lines() == unhooked.stdout_lines()
    assert json.loads(unhooked.stdout_lines()[-1]) == {"done": len(unhooked.stdout_lines()) - 1}


def test_original_exceptions_reach_the_program_as_the_same_object(art_stub_program: StubProgram, hooked: ArtAgentRun) -> None:
    calls = art_stub_program.calls
    thrown = [line for line in lines_of(hooked) if calls[line["i"]].mode == "throw"]
    assert len(thrown) > 100 and all(line.get("same_object") for line in thrown)


def test_every_hook_is_installed_on_the_boot_and_app_classes(hooked: ArtAgentRun, catalogue: Catalogue) -> None:
    jobs = [job for state in hooked.host.processes.values() for job in state.jobs if job["api"] != "class-watch"]
    assert [job for job in jobs if job["status"] == "failed"] == []
    assert {entry.api for entry in catalogue.hooks} <= {job["api"] for job in jobs if job["status"] == "installed"}


def test_the_class_watch_is_installed_on_art(hooked: ArtAgentRun) -> None:
    """The agent's watch for classes defined later (hooks/src/classwatch.ts) has an ART backend: the return of
    art::ClassLinker::DefineClass, where every class a loader other than the boot loader defines passes, those
    ART resolves natively included (tests/agent/test_callbacks_on_art.py proves an app's listener class and a
    DexClassLoader's SDK class)."""
    watch = [job for state in hooked.host.processes.values() for job in state.jobs if job["api"] == "class-watch"]
    assert [(job["status"], job["error"]) for job in watch] == [("installed", None)]
    assert watch[0]["overload"].startswith("art:ClassLinker::DefineClass")


def test_every_entry_fires_once_per_call_with_its_category_and_kind(art_stub_program: StubProgram, unhooked: ArtAgentRun,
                                                                    hooked: ArtAgentRun, catalogue: Catalogue) -> None:
    never_called = {line["i"] for line in lines_of(unhooked) if NEVER_CALLED_ON_ART in line.get("threw", "")}
    assert [art_stub_program.calls[index].api for index in never_called] == ["java.net.URL.openConnection"]
    expected = [(call.api, call.expect_category, call.expect_kind) for call in art_stub_program.calls
                if call.expect_category is not None and call.index not in never_called]
    seen = [(event["api"], event["category"], event["kind"]) for event in java_events(hooked, catalogue)]
    assert seen == expected   # in call order: argument-aware conditions and overloads pick the same entry as on HotSpot
    fired = {(api, category) for api, category, _ in seen}
    # Every entry fires on ART as on HotSpot, but the one whose only call never happens on ART (https: above).
    assert {(entry.api, entry.category) for entry in catalogue.hooks} - fired == {("java.net.URL.openConnection", "network_request")}


def test_calls_whose_condition_does_not_hold_fire_nothing(art_stub_program: StubProgram, hooked: ArtAgentRun,
                                                          catalogue: Catalogue) -> None:
    lines = {line["i"]: line for line in lines_of(hooked)}
    calls = [call for call in art_stub_program.calls if call.api == "android.provider.Settings$Secure.getString"]
    silent = [call for call in calls if call.mode == "nomatch"]   # getString(resolver, "consentmon.nomatch")
    assert silent and all(lines[call.index]["returned"] == "getString-value" for call in silent)   # the call ran
    events = [event for event in java_events(hooked, catalogue) if event["api"] == "android.provider.Settings$Secure.getString"]
    assert len(events) == sum(1 for call in calls if call.expect_category is not None) < len(calls)


def test_each_overload_is_hooked_and_reported_as_its_own_call(art_stub_program: StubProgram, hooked: ArtAgentRun,
                                                              catalogue: Catalogue) -> None:
    events = [event for event in java_events(hooked, catalogue) if event["api"] == "android.telephony.TelephonyManager.getImei"]
    calls = [call for call in art_stub_program.calls if call.api == "android.telephony.TelephonyManager.getImei"
             and call.expect_category is not None]
    assert {call.signature for call in calls} == {"java.lang.String getImei()", "java.lang.String getImei(int)"}
    assert len(events) == len(calls)
    assert [event["value"] for event in events if not (event["payload"] or {}).get("threw")] == ["getImei-value"] * 2


def test_a_throwing_call_is_recorded_with_the_original_exception(art_stub_program: StubProgram, hooked: ArtAgentRun,
                                                                  catalogue: Catalogue) -> None:
    threw = [event for event in java_events(hooked, catalogue) if (event["payload"] or {}).get("threw")]
    stubbed = [event for event in threw if "stub failure in" in event["payload"]["threw"]]
    expected = sum(1 for call in art_stub_program.calls if call.mode == "throw" and call.expect_category is not None)
    assert len(stubbed) == expected
    assert all("java.lang.IllegalStateException: stub failure in " in event["payload"]["threw"] for event in stubbed)
    # JDK sockets fail by themselves on an unresolved address, with ART's own exception types.
    natural = [event for event in threw if event not in stubbed]
    assert natural and all(event["payload"].get("host") == "push.example.invalid" for event in natural)


def test_stacks_are_arts_frames_of_the_caller(hooked: ArtAgentRun, catalogue: Catalogue) -> None:
    events = java_events(hooked, catalogue)
    assert all(event["process"] == "stubapp" and event["pid"] == hooked.pid and event["thread"] == "main" for event in events)
    # The caller first, in StackTraceElement's format (the same text as HotSpot's): Class.method(File.java:line).
    frame = re.compile(r"^consentmon\.stubgen\.Exerciser\.main\(Exerciser\.java:\d+\)$")
    assert all(frame.match(event["stack"][0]) for event in events), events[0]["stack"]


def test_the_only_script_errors_are_the_bridges_boolean_default_on_a_throw(art_stub_program: StubProgram, hooked: ArtAgentRun) -> None:
    """frida-java-bridge 7.0.13 returns `false` from the JNI callback of a replaced boolean method whose
    implementation threw; Frida wants a number there, so each such throw is a script error (the app still
    gets its exception: the bridge threw it into the VM first). The same count on HotSpot; the wording is the
    script runtime's (V8 there, QuickJS on ART: AgentOptions.script_runtime_for)."""
    signature = {call.index: call.signature for call in art_stub_program.calls}
    boolean_throws = [line for line in lines_of(hooked) if "threw" in line and return_type(signature[line["i"]]) == "boolean"]
    errors = [event for event in hooked.sink.events if event["source"] == "agent" and event["category"] == "script-error"]
    assert {event["payload"]["description"] for event in errors} <= {"Error: expected number", "Error: expected an unsigned integer"}
    assert len(errors) == len(boolean_throws)


def test_sdk_attribution_from_an_art_stack(art10: HostArt, art_stub_program: StubProgram, catalogue: Catalogue) -> None:
    sources = {
        "com/example/artapp/Main.java": "package com.example.artapp;\n"
        "public final class Main { public static void main(String[] args) {\n"
        "  System.out.println(android.provider.Settings.Secure.getString(null, \"android_id\"));\n"
        "  com.umeng.commonsdk.Collector.collect(); } }\n",
        "com/umeng/commonsdk/Collector.java": "package com.umeng.commonsdk;\n"
        "public final class Collector { public static void collect() {\n"
        "  System.out.println(new android.telephony.TelephonyManager().getDeviceId()); } }\n",
    }
    app = dex_jar(art10, sources, name="attribution-app", classpath=[art_stub_program.framework.classes])
    run = run_on_art(art10, "com.example.artapp.Main", classpath=[app.dex], boot=[art_stub_program.framework.dex],
                     catalogue=catalogue, options=AgentOptions(own_package="com.example.artapp", importance_poll_ms=0,
                                                               follow_children=False))
    assert run.stdout_lines() == ["getString-value", "getDeviceId-value"]
    attributor = Attributor(sdks=load_sdks(), table=load_attribution(), app_package="com.example.artapp")
    owners = {event["api"]: attributor.attribute(event["stack"], api=event["api"]) for event in java_events(run, catalogue)}
    secure, device_id = owners["android.provider.Settings$Secure.getString"], owners["android.telephony.TelephonyManager.getDeviceId"]
    assert (secure.owner, secure.frame) == ("app", "com.example.artapp.Main.main(Main.java:3)")
    assert (device_id.owner, device_id.sdk_id, device_id.frame) == ("sdk", "umeng-analytics",
                                                                    "com.umeng.commonsdk.Collector.collect(Collector.java:3)")
