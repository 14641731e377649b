"""The first statement of main is observed; the agent's event type and the Python schema agree."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from monitor.agent.build import HOOKS_DIR
from monitor.agent.session import AgentOptions
from monitor.data.models import Catalogue
from monitor.events import EVENT_FIELDS
from support.stubgen import STUB_PACKAGE, build_stubs

from agentrun import run_under_agent


@pytest.mark.frida
def test_a_device_id_read_in_the_first_statement_of_main_is_recorded(catalogue: Catalogue) -> None:
    classes, _ = build_stubs(catalogue)
    java = shutil.which("java")
    assert java is not None
    started_ns = time.time_ns()
    run = run_under_agent([java, "-cp", str(classes), f"{STUB_PACKAGE}.EarlyCall"],
                          options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    ended_ns = time.time_ns()
    assert json.loads(run.stdout_lines()[0]) == {"android_id": "getString-value"}
    java_apis = {entry.api for entry in catalogue.hooks}
    reads = [event for event in run.sink.hooks() if event["api"] in java_apis]
    assert len(reads) == 1, [(event["api"], event["args"]) for event in run.sink.hooks()]
    assert reads[0]["api"] == "android.provider.Settings$Secure.getString" and reads[0]["value"] == "getString-value"
    assert reads[0]["stack"][0].startswith(f"{STUB_PACKAGE}.EarlyCall.main(")
    # The Java hooks were in before the read: their status precedes it on the agent's own clock.
    installed = [event for event in run.sink.events if event["kind"] == "hook_status" and event["payload"]["scope"] == "java"]
    assert installed and installed[0]["device_ts"] < reads[0]["device_ts"]
    # The agent stamps events relative to a clock base it sends with each batch; on disk they are epoch ns.
    assert started_ns < reads[0]["device_ts"] == reads[0]["ts"] < ended_ns


def test_typescript_agent_event_has_the_same_fields_as_the_python_event() -> None:
    source = (HOOKS_DIR / "src" / "events.ts").read_text()
    body = re.search(r"export interface AgentEvent \{(.*?)\n\}", source, re.S)
    assert body is not None, "AgentEvent interface not found in hooks/src/events.ts"
    fields = re.findall(r"^\s+(\w+)\??:", body.group(1), re.M)
    assert fields == list(EVENT_FIELDS)


def test_typescript_config_knows_every_catalogue_field() -> None:
    # The agent trusts the host's shape: a field added to HookEntry/NativeEntry must be declared in config.ts.
    from monitor.data.models import HookEntry, NativeEntry, PayloadField, Record, When
    source = (Path(HOOKS_DIR) / "src" / "config.ts").read_text()
    for interface, model in (("HookEntry", HookEntry), ("NativeEntry", NativeEntry), ("RecordSpec", Record),
                             ("When", When), ("PayloadField", PayloadField)):
        body = re.search(rf"export interface {interface} \{{(.*?)\n\}}", source, re.S)
        assert body is not None, interface
        assert re.findall(r"^\s+(\w+)\??:", body.group(1), re.M) == list(model.model_fields), interface
