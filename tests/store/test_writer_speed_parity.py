"""The fast writer path (msgspec) accepts, refuses and writes exactly what the pydantic schema does."""

from __future__ import annotations

import json
import typing

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from monitor.errors import CaptureError
from monitor.events import Event
from monitor.store import EVENTS_FILE
from monitor.store.manifest import verify_run
from monitor.store.reader import read_run
from monitor.store.writer import EventRecord, RunWriter, dump_line, to_record


def _pydantic_line(event: dict) -> bytes:
    """What the writer wrote before msgspec: pydantic's dump through the standard json module."""
    record = Event.model_validate(event).model_dump()
    return (json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()


def test_the_struct_has_every_field_of_the_schema_with_its_type_and_default():
    struct_fields = {field.name: field for field in msgspec.structs.fields(EventRecord)}
    assert list(struct_fields) == list(Event.model_fields)
    hints = typing.get_type_hints(EventRecord)
    for name, info in Event.model_fields.items():
        assert hints[name] == info.annotation, name
        if info.is_required():
            assert struct_fields[name].required, name
        else:
            assert struct_fields[name].default == info.default, name


TEXT = st.text(max_size=12)
MAYBE_TEXT = st.none() | TEXT
# Values as they arrive: mostly right, sometimes what pydantic coerces ("12", 3.0, True) or refuses.
INTISH = st.integers(-2**63, 2**63 - 1) | st.text(alphabet="0123456789", min_size=1, max_size=6) | st.floats(allow_nan=False) | st.booleans()
PAYLOAD = st.none() | st.dictionaries(TEXT, st.none() | st.integers(-1000, 1000) | TEXT | st.lists(TEXT, max_size=3) | st.dictionaries(TEXT, TEXT, max_size=2), max_size=4)
EVENTS = st.fixed_dictionaries(
    {"source": st.sampled_from(["hook", "net", "agent", "camera"]), "kind": TEXT | st.integers(), "ts": INTISH},
    optional={"device_ts": st.none() | INTISH, "seq": INTISH, "pid": st.none() | INTISH, "process": MAYBE_TEXT,
              "thread": MAYBE_TEXT, "category": MAYBE_TEXT, "api": MAYBE_TEXT, "value": MAYBE_TEXT | st.integers(),
              "args": st.none() | st.lists(TEXT | st.integers(), max_size=3), "stack": st.none() | st.lists(TEXT, max_size=4),
              "sdk": MAYBE_TEXT, "flow_id": MAYBE_TEXT, "payload": PAYLOAD, "colour": TEXT})


@settings(max_examples=400, deadline=None)
@given(EVENTS)
def test_accepts_refuses_and_writes_what_pydantic_does(event):
    try:
        expected = _pydantic_line(event)
    except ValidationError:
        with pytest.raises(ValidationError):
            to_record(event)
        return
    record = to_record(event)
    assert dump_line(record) == expected


def test_a_realistic_agent_event_is_written_byte_for_byte_as_before():
    event = {"source": "hook", "kind": "pi_read", "ts": 1_700_000_000_123_456_789, "device_ts": 1_700_000_000_123_456_789,
             "seq": -1, "pid": 4242, "process": "com.example.app:push", "thread": "main", "category": "device_id",
             "api": "android.telephony.TelephonyManager.getImei", "args": ["0"], "value": "867530912345675",
             "stack": ["com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(DeviceConfig.java:12)", "中文.Frame(X.java:1)"],
             "sdk": None, "flow_id": None, "payload": {"this_class": "android.telephony.TelephonyManager", "z": [1, 2.5, None], "a": {"b": "é"}}}
    assert dump_line(to_record(event)) == _pydantic_line(event)
    assert dump_line(to_record(Event.model_validate(event))) == _pydantic_line(event)


def _event(ts: int, **extra: object) -> dict:
    return {"source": "hook", "kind": "pi_read", "ts": ts, "category": "device_id", "api": "a.B.c", "value": f"v{ts}", **extra}


def test_append_many_numbers_chains_and_counts_like_append(tmp_path):
    one_by_one = RunWriter(tmp_path / "single", run_info={})
    batched = RunWriter(tmp_path / "batched", run_info={})
    events = [_event(ts, kind="pi_read" if ts % 3 else "click") for ts in range(10)]
    for event in events:
        one_by_one.append(dict(event))
    assert batched.append_many([dict(event) for event in events[:4]]) == 4
    assert batched.append_many([dict(event) for event in events[4:]]) == 6
    assert batched.seq == one_by_one.seq == 10
    assert batched.counts == one_by_one.counts == {"hook:pi_read": 6, "hook:click": 4}
    one_by_one.close()
    batched.close()
    assert (tmp_path / "single" / EVENTS_FILE).read_bytes() == (tmp_path / "batched" / EVENTS_FILE).read_bytes()
    assert verify_run(tmp_path / "batched") == []


def test_append_many_writes_the_events_before_a_bad_one_then_fails_loudly(tmp_path):
    writer = RunWriter(tmp_path / "run", run_info={})
    batch = [_event(1), _event(2), {"source": "hook", "kind": "pi_read", "ts": 3, "colour": "red"}, _event(4)]
    with pytest.raises(ValidationError, match="colour"):
        writer.append_many(batch)
    # On disk before the error surfaced: a crash now keeps them.
    assert len((tmp_path / "run" / EVENTS_FILE).read_bytes().splitlines()) == 2
    writer.append(_event(5))
    writer.close()
    run = read_run(tmp_path / "run")
    assert list(run.events["value"]) == ["v1", "v2", "v5"]
    assert list(run.events["seq"]) == [0, 1, 2]
    assert verify_run(tmp_path / "run") == []


def test_append_many_after_close_is_refused(tmp_path):
    writer = RunWriter(tmp_path / "run", run_info={})
    writer.close()
    with pytest.raises(CaptureError, match="after the run was closed"):
        writer.append_many([_event(1)])
