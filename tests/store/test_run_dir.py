"""The run directory is evidence: every event is kept in order, sealed, and any later change is detected."""

from __future__ import annotations

import json
import threading

import pytest

from monitor.errors import CaptureError, RunDirError
from monitor.store import EVENTS_FILE, MANIFEST_FILE, RUN_FILE
from monitor.store.manifest import verify_run
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter


def _event(ts: int, **extra: object) -> dict:
    return {"source": "hook", "kind": "pi_read", "ts": ts, "category": "device_id",
            "api": "android.telephony.TelephonyManager.getDeviceId", "value": f"v{ts}", **extra}


def test_events_are_numbered_flushed_and_read_back_in_order(tmp_path):
    writer = RunWriter(tmp_path / "run", run_info={"app": {"package": "com.example"}})
    for ts in (30, 10, 20):
        writer.append(_event(ts))
    # Flushed at once: a crash now would not lose what was appended.
    lines = (tmp_path / "run" / EVENTS_FILE).read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [0, 1, 2]
    writer.close()
    run = read_run(tmp_path / "run")
    assert list(run.events["seq"]) == [0, 1, 2]
    assert list(run.events["value"]) == ["v30", "v10", "v20"]
    assert run.info["event_count"] == 3 and run.info["app"]["package"] == "com.example"
    assert run.sealed


def test_concurrent_writers_lose_nothing(tmp_path):
    writer = RunWriter(tmp_path / "run", run_info={})

    def burst(offset: int) -> None:
        for index in range(500):
            writer.append(_event(offset + index))

    threads = [threading.Thread(target=burst, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    run = read_run(tmp_path / "run")
    assert len(run.events) == 2000
    assert sorted(run.events["seq"]) == list(range(2000))
    assert verify_run(tmp_path / "run") == []


def test_an_event_outside_the_schema_is_refused_not_written(tmp_path):
    writer = RunWriter(tmp_path / "run", run_info={})
    with pytest.raises(ValueError):
        writer.append({"source": "hook", "kind": "pi_read", "ts": 1, "colour": "red"})
    assert writer.seq == 0


def test_an_existing_run_is_never_overwritten(tmp_path):
    RunWriter(tmp_path / "run", run_info={}).close()
    with pytest.raises(CaptureError, match="already holds a run"):
        RunWriter(tmp_path / "run", run_info={})


def test_appending_after_close_fails_loudly(tmp_path):
    writer = RunWriter(tmp_path / "run", run_info={})
    writer.close()
    with pytest.raises(CaptureError):
        writer.append(_event(1))


@pytest.mark.parametrize("tamper", ["edit", "drop", "swap", "add_file"])
def test_tampering_is_detected(tmp_path, tamper):
    root = tmp_path / "run"
    writer = RunWriter(root, run_info={})
    for ts in range(5):
        writer.append(_event(ts))
    writer.close()
    assert verify_run(root) == []
    events = root / EVENTS_FILE
    lines = events.read_text().splitlines(keepends=True)
    if tamper == "edit":
        lines[2] = lines[2].replace('"v2"', '"v9"')
    elif tamper == "drop":
        del lines[1]
    elif tamper == "swap":
        lines[0], lines[1] = lines[1], lines[0]
    if tamper == "add_file":
        (root / "extra.txt").write_text("later")
    else:
        events.write_text("".join(lines))
    problems = verify_run(root)
    assert problems, "a tampered run must not verify"


def test_derived_files_do_not_break_the_seal(tmp_path):
    root = tmp_path / "run"
    RunWriter(root, run_info={}).close()
    (root / "findings.json").write_text("{}")
    (root / "report.html").write_text("<html>")
    assert verify_run(root) == []


def test_unsealed_run_is_reported(tmp_path):
    root = tmp_path / "run"
    writer = RunWriter(root, run_info={})
    writer.append(_event(1))
    (root / MANIFEST_FILE).unlink(missing_ok=True)
    assert "not closed" in verify_run(root)[0]
    assert not read_run(root).sealed


def test_corrupt_line_is_named_by_file_and_line(tmp_path):
    root = tmp_path / "run"
    writer = RunWriter(root, run_info={})
    writer.append(_event(1))
    writer.append(_event(2))
    writer.close()
    with open(root / EVENTS_FILE, "a") as handle:
        handle.write('{"source": "hook", "kind": \n')
    with pytest.raises(RunDirError) as error:
        read_run(root)
    assert f"{EVENTS_FILE}:3" in str(error.value)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(RunDirError) as error:
        read_run(tmp_path)
    assert RUN_FILE in str(error.value) and error.value.hint


def test_reader_edge_cases_keep_their_line_numbers(tmp_path):
    # A bad line far into a large file (past the reader's first block) is still named by its line.
    root = tmp_path / "run"
    writer = RunWriter(root, run_info={})
    filler = "x" * 2000
    for ts in range(12_000):
        writer.append(_event(ts, payload={"pad": filler}))
    writer.close()
    with open(root / EVENTS_FILE, "a") as handle:
        handle.write('{"source": "hook", "kind": "pi_read", "ts": "soon", "seq": 12000}\n')
    with pytest.raises(RunDirError) as error:
        read_run(root)
    assert f"{EVENTS_FILE}:12001" in str(error.value)


def test_empty_events_file_reads_as_no_events(tmp_path):
    root = tmp_path / "run"
    RunWriter(root, run_info={}).close()
    run = read_run(root)
    assert len(run.events) == 0 and "ts" in run.events.columns


def test_crlf_line_endings_are_read(tmp_path):
    root = tmp_path / "run"
    writer = RunWriter(root, run_info={})
    for ts in (1, 2):
        writer.append(_event(ts))
    writer.close()
    events = root / EVENTS_FILE
    events.write_bytes(events.read_bytes().replace(b"\n", b"\r\n"))  # copied through a Windows tool
    assert list(read_run(root).events["value"]) == ["v1", "v2"]
