"""A batch as the agent sends it becomes exactly the events it stands for, on disk, or capture fails loudly.

The agent sends each batch as JSON data: distinct stacks once, each event naming its stack by index, and
device_ts relative to the batch's clock base (hooks/src/queue.ts, clock.ts). The host decodes it with a
strict msgspec decoder and writes the records as they are; a batch outside those strict types goes
through pydantic's rules instead. Both must give the same lines, with full stacks and epoch times.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.agent.session import AgentHost, AgentOptions, ProcessState, local_device
from monitor.data.models import Catalogue
from monitor.errors import CaptureError
from monitor.store.manifest import verify_run
from monitor.store.writer import AgentRecord, EventRecord, RunWriter

BASE_NS = 1_763_000_000_000_000_000
OFFSET_NS = 5_000
STACK_A = ["com.umeng.commonsdk.Collector.imei(Collector.java:12)", "com.example.app.Main.onCreate(Main.java:3)"]
STACK_B = ["com.amap.api.location.Client.locate(Client.java:40)", "com.example.app.Main.onResume(Main.java:9)"]


def wire_event(index: int, stack: int | None, **changes: Any) -> dict[str, Any]:
    event = {"source": "hook", "kind": "pi_read", "ts": None, "device_ts": 1_000 * index + 7, "seq": None, "pid": 4242,
             "process": "com.example.app", "thread": "main", "category": "device_id",
             "api": "android.telephony.TelephonyManager.getImei", "args": ["0"], "value": f"86753091234{index:04d}",
             "stack": stack, "sdk": None, "flow_id": None, "payload": {"n": index}}
    event.update(changes)
    return event


def deliver(tmp: Path, name: str, batches: list[tuple[dict[str, Any], bytes]]) -> tuple[AgentHost, Path]:
    writer = RunWriter(tmp / name, run_info={})
    host = AgentHost(local_device(), writer, Catalogue(version="test", hooks=[]), AgentOptions())
    host.clock_offset_ns = OFFSET_NS
    state = ProcessState(pid=4242, session=None, script=None)  # type: ignore[arg-type]  # only pid is read
    try:
        for payload, data in batches:
            host._on_message(state, {"type": "send", "payload": payload}, data)
    finally:
        host.closed = True
        host.device.off("child-added", host._on_child_added)
        writer.close()
    return host, tmp / name


def written_events(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]


def batch(events: list[dict[str, Any]], stacks: list[list[str]]) -> tuple[dict[str, Any], bytes]:
    payload = {"type": "events:add", "count": len(events), "encoding": "json", "stacks": len(stacks), "clock_base_ns": str(BASE_NS)}
    return payload, json.dumps({"stacks": stacks, "events": events}).encode()


def test_a_batch_is_written_with_full_stacks_and_epoch_times(tmp_path: Path) -> None:
    events = [wire_event(0, 0), wire_event(1, 1), wire_event(2, 0), wire_event(3, None)]
    host, run = deliver(tmp_path, "run", [batch(events, [STACK_A, STACK_B])])
    host.check()
    written = written_events(run)
    assert [event["stack"] for event in written] == [STACK_A, STACK_B, STACK_A, None]
    assert [event["device_ts"] for event in written] == [BASE_NS + 1_000 * index + 7 for index in range(4)]
    assert [event["ts"] for event in written] == [BASE_NS + 1_000 * index + 7 + OFFSET_NS for index in range(4)]
    assert [event["seq"] for event in written] == [0, 1, 2, 3]
    assert [event["payload"] for event in written] == [{"n": index} for index in range(4)]
    assert verify_run(run) == []


def test_a_batch_outside_the_strict_types_gives_the_same_lines_through_pydantic(tmp_path: Path) -> None:
    strict = [wire_event(index, index % 2) for index in range(6)]
    # "4242" for an int is refused by msgspec's strict decoder and coerced by pydantic: the slow path.
    lax = [wire_event(index, index % 2, pid="4242") for index in range(6)]
    _, fast = deliver(tmp_path, "fast", [batch(strict, [STACK_A, STACK_B])])
    _, slow = deliver(tmp_path, "slow", [batch(lax, [STACK_A, STACK_B])])
    assert (fast / "events.jsonl").read_bytes() == (slow / "events.jsonl").read_bytes()


@pytest.mark.parametrize("stack", [2, -1])
def test_an_event_naming_a_stack_the_batch_lacks_fails_the_capture(tmp_path: Path, stack: int) -> None:
    host, run = deliver(tmp_path, "run", [batch([wire_event(0, 0), wire_event(1, stack)], [STACK_A, STACK_B])])
    with pytest.raises(CaptureError, match=f"names stack {stack}"):
        host.check()
    # Nothing of the broken batch is on disk: it is refused whole, loudly, never half-written.
    assert written_events(run) == []


def test_an_event_outside_the_schema_fails_the_capture_and_keeps_the_events_before_it(tmp_path: Path) -> None:
    good = batch([wire_event(0, 0)], [STACK_A])
    bad = batch([wire_event(1, 0), wire_event(2, 0, kind=None)], [STACK_A])
    host, run = deliver(tmp_path, "run", [good, bad])
    with pytest.raises(CaptureError):
        host.check()
    assert [event["value"] for event in written_events(run)] == ["867530912340000", "867530912340001"]


def test_an_unfinished_agent_record_is_refused_by_the_writer(tmp_path: Path) -> None:
    # The writer trusts decoded agent records only once the session has given them a time and a full stack.
    with RunWriter(tmp_path / "run", run_info={}) as writer:
        record = AgentRecord(**wire_event(0, 0))
        with pytest.raises(CaptureError, match="without its time or with a stack index"):
            writer.append_many([record])
        assert writer.seq == 0


def test_agent_records_have_exactly_the_event_records_fields() -> None:
    # Same names in the same order: a decoded agent record is encoded as the same line as an EventRecord.
    assert AgentRecord.__struct_fields__ == EventRecord.__struct_fields__
