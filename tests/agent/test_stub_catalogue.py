"""Every catalogue entry, exercised on a generated stub-Android JVM program under the real agent.

The program and the list of calls it makes are generated from the catalogue (monitor/testing/stubgen),
so an entry added to catalogue.yaml is covered here without writing a test for it.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest

from monitor.agent.session import AgentOptions
from monitor.data.models import Catalogue
from support.stubgen import OWN_PACKAGE, Call, build_stubs, exerciser_command

from agentrun import AgentRun, run_under_agent

pytestmark = pytest.mark.frida


@pytest.fixture(scope="module")
def stubs(catalogue: Catalogue) -> tuple[list[str], list[Call]]:
    classes, calls = build_stubs(catalogue)
    return exerciser_command(classes), calls


@pytest.fixture(scope="module")
def unhooked(stubs: tuple[list[str], list[Call]]) -> list[str]:
    result = subprocess.run(stubs[0], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.fixture(scope="module")
def hooked(stubs: tuple[list[str], list[Call]]) -> AgentRun:
    options = AgentOptions(wait_for_jvm=True, own_package=OWN_PACKAGE, process_name="stubapp",
                           importance_poll_ms=0)
    return run_under_agent(stubs[0], options=options, timeout=120)


def java_events(run: AgentRun, catalogue: Catalogue) -> list[dict]:
    apis = {entry.api for entry in catalogue.hooks}
    return [event for event in run.sink.hooks() if event["api"] in apis]


def test_the_program_sees_exactly_the_same_results_with_and_without_hooks(unhooked: list[str], hooked: AgentRun) -> None:
    assert hooked.stdout_lines() == unhooked
    # The last line proves every call ran (a hook that broke one would stop short or differ above).
    assert json.loads(unhooked[-1]) == {"done": len(unhooked) - 1}


def test_a_stub_exception_reaches_the_program_as_the_same_object(stubs: tuple[list[str], list[Call]], hooked: AgentRun) -> None:
    calls = stubs[1]
    lines = [json.loads(line) for line in hooked.stdout_lines()[:-1]]
    thrown = [line for line in lines if calls[line["i"]].mode == "throw"]
    assert thrown and all("threw" in line and line["same_object"] for line in thrown)


def test_every_entry_fires_once_per_call_with_its_category_and_kind(stubs: tuple[list[str], list[Call]], hooked: AgentRun,
                                                                    catalogue: Catalogue) -> None:
    calls = stubs[1]
    expected = [(call.api, call.expect_category, call.expect_kind) for call in calls if call.expect_category is not None]
    seen = [(event["api"], event["category"], event["kind"]) for event in java_events(hooked, catalogue)]
    assert seen == expected
    # Every entry of the catalogue is among them (one of its calls satisfies its condition).
    fired = {(api, category) for api, category, _ in seen}
    assert {(entry.api, entry.category) for entry in catalogue.hooks} - fired == set()


def test_calls_whose_condition_does_not_hold_fire_nothing(stubs: tuple[list[str], list[Call]]) -> None:
    silent = [call for call in stubs[1] if call.mode == "nomatch"]
    # e.g. Settings.Secure.getString(resolver, "consentmon.nomatch"), getPackageInfo(own package)
    assert silent and all(call.expect_category is None for call in silent)
    assert any(call.api == "android.provider.Settings$Secure.getString" for call in silent)


def test_a_throwing_call_is_still_recorded_with_what_it_threw(stubs: tuple[list[str], list[Call]], hooked: AgentRun,
                                                              catalogue: Catalogue) -> None:
    events = java_events(hooked, catalogue)
    threw = [event for event in events if (event["payload"] or {}).get("threw")]
    # JDK classes cannot be stubbed to fail on demand; a socket connect to an unresolved address fails by itself.
    natural = [event for event in threw if event["api"] in ("java.net.Socket.connect", "java.nio.channels.SocketChannel.connect",
                                                            "java.net.DatagramSocket.connect",
                                                            "java.nio.channels.DatagramChannel.connect")]
    stubbed = [event for event in threw if event not in natural]
    expected_throws = sum(1 for call in stubs[1] if call.mode == "throw" and call.expect_category is not None)
    assert len(stubbed) == expected_throws
    assert all("stub failure in" in event["payload"]["threw"] for event in stubbed)
    assert len(natural) == 5 and all(("UnknownHostException: push.example.invalid" in event["payload"]["threw"]
                                       or "UnresolvedAddressException" in event["payload"]["threw"]
                                       or "SocketException: Unresolved address" in event["payload"]["threw"])
                                      and event["payload"]["host"] == "push.example.invalid" and event["payload"]["port"] == "5224"
                                      for event in natural), natural


def test_events_carry_the_caller_frames_and_the_process(hooked: AgentRun, catalogue: Catalogue) -> None:
    events = java_events(hooked, catalogue)
    assert all(event["process"] == "stubapp" and event["pid"] == hooked.pid and event["thread"] == "main" for event in events)
    # The first frame is the code that called the API, not the hooked method.
    assert all(event["stack"][0].startswith("consentmon.stubgen.Exerciser.main") for event in events), \
        Counter(event["stack"][0].split("(")[0] for event in events).most_common(3)


def test_payload_contracts_for_prefs_permissions_and_app_starts(hooked: AgentRun, catalogue: Catalogue) -> None:
    events = java_events(hooked, catalogue)
    prefs = [event for event in events if event["kind"] == "prefs" and not event["payload"].get("threw")]
    assert prefs and all(set(event["payload"]) >= {"key", "value"} for event in prefs)
    requests = [event for event in events if event["category"] == "permission_request" and not event["payload"].get("threw")]
    assert requests and all(event["payload"]["permissions"] == ["android.permission.CAMERA", "android.permission.READ_CONTACTS"]
                            for event in requests)
    results = [event for event in events if event["api"] == "android.app.Activity.onRequestPermissionsResult"
               and not event["payload"].get("threw")]
    assert results and all(event["payload"]["results"] == ["granted", "denied"] for event in results)
    checks = [event for event in events if event["category"] == "permission_check" and not event["payload"].get("threw")]
    assert checks and all(event["payload"]["check"] == "true" and event["payload"]["result"] == "7" for event in checks)
    starts = [event for event in events if event["kind"] == "app_start" and event["category"] in
              ("activity_start", "service_start", "service_bind", "broadcast")]
    assert starts and all(event["payload"]["target_package"] == "com.other.app" for event in starts)
    pages = [event for event in events if event["kind"] == "webview"]
    assert pages and all(event["value"] == "s" for event in pages)


def test_every_hook_installed_on_the_stubs(hooked: AgentRun, catalogue: Catalogue) -> None:
    jobs = [job for state in hooked.host.processes.values() for job in state.jobs]
    java_failed = [job for job in jobs if job["status"] == "failed" and not job["api"].startswith("libc.")]
    assert java_failed == []
    installed_apis = {job["api"] for job in jobs if job["status"] == "installed"}
    assert {entry.api for entry in catalogue.hooks} <= installed_apis
