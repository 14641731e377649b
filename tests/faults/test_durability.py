"""A kill can stop the writer at any byte. Real runs of the demo (one killed by SIGKILL, one sealed) are cut
at many offsets of events.jsonl, flows.spool, manifest.json and run.json: the run stays readable — a torn
last line is reported, never a crash — and no whole event or flow before the cut is lost."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faults.faultkit import demo_argv, event_lines, fuzz_profile, hook_reads, kill_if_alive, start_host_run, target_pid, wait_for
from monitor.errors import MonitorError, RunDirError
from monitor.store.manifest import verify_run
from monitor.store.reader import read_run
from monitor.store.recover import recover

pytestmark = [pytest.mark.frida, pytest.mark.proxy]


def _record(base: Path, *, kill: bool) -> Path:
    out = base / ("killed" if kill else "sealed")
    process = start_host_run(out, demo_argv(pause_ms=4000 if kill else 200))
    pid = None
    try:
        if kill:
            wait_for(lambda: len(hook_reads(out)) >= 3 and (out / "flows.spool").exists()
                     and (out / "flows.spool").stat().st_size > 0, 60, "reads and a spooled flow")
            pid = target_pid(out)
            process.send_signal(signal.SIGKILL)
        process.wait(120)
    finally:
        process.kill()
        kill_if_alive(pid or target_pid(out))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("durability")
    killed, sealed = _record(base, kill=True), _record(base, kill=False)
    assert (killed / "flows.spool").exists() and (sealed / "manifest.json").exists()
    return {"killed": killed, "sealed": sealed}


def _offsets(path: Path) -> st.SearchStrategy[int]:
    """Any byte, with every line end and its neighbours (where a torn line starts or ends) weighted in."""
    data = path.read_bytes()
    ends = [index + 1 for index, byte in enumerate(data) if byte == 0x0A]
    edges = sorted({max(0, min(len(data), end + delta)) for end in [0, *ends] for delta in (-1, 0, 1)})
    return st.one_of(st.integers(0, len(data)), st.sampled_from(edges))


def _copy(run: Path, into: Path) -> Path:
    target = into / "run"
    shutil.copytree(run, target, symlinks=True)
    return target


def _cut(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(offset)


def test_events_cut_at_any_byte_of_a_killed_run_recover_and_read_lose_no_whole_line(runs):
    original = (runs["killed"] / "events.jsonl").read_bytes()
    full = _copy_and_recover(runs["killed"], len(original))

    @settings(settings.get_profile(fuzz_profile()), max_examples=min(settings.get_profile(fuzz_profile()).max_examples, 200))
    @given(offset=_offsets(runs["killed"] / "events.jsonl"))
    def check(offset: int) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            run = _copy(runs["killed"], Path(scratch))
            _cut(run / "events.jsonl", offset)
            count, cut_short = recover(run)
            assert count == full["flows"]
            whole = original[:offset][: original[:offset].rfind(b"\n") + 1]
            assert (run / "events.jsonl").read_bytes().startswith(whole)      # nothing whole before the cut is lost
            torn = original[len(whole):offset]
            if torn:
                assert cut_short and "cut short" in cut_short
                assert (run / "events.jsonl.torn").read_bytes() == torn     # kept as it was, aside
            loaded = read_run(run)
            assert len(loaded.events) == whole.count(b"\n") + count
            assert list(loaded.events["seq"]) == list(range(len(loaded.events)))
            assert len(loaded.flows) == count

    check()


def _copy_and_recover(run: Path, offset: int) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as scratch:
        copy = _copy(run, Path(scratch))
        _cut(copy / "events.jsonl", offset)
        count, _ = recover(copy)
        return {"flows": count, "events": len(read_run(copy).events)}


def test_events_cut_without_recover_is_read_with_the_torn_line_reported(runs):
    """An unsealed run read as it is (no spool: nothing to recover) leaves the torn line out and says so."""
    original = (runs["killed"] / "events.jsonl").read_bytes()

    @settings(settings.get_profile(fuzz_profile()), max_examples=min(settings.get_profile(fuzz_profile()).max_examples, 200))
    @given(offset=_offsets(runs["killed"] / "events.jsonl"))
    def check(offset: int) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            run = _copy(runs["killed"], Path(scratch))
            (run / "flows.spool").unlink()
            _cut(run / "events.jsonl", offset)
            loaded = read_run(run)
            whole = original[:offset][: original[:offset].rfind(b"\n") + 1]
            rest = original[len(whole):offset]
            assert len(loaded.events) == whole.count(b"\n") + (1 if rest and _is_whole_event(rest) else 0)
            if rest and not _is_whole_event(rest):
                assert any("cut short" in warning and "events.jsonl:" in warning for warning in loaded.warnings)

    check()


def _is_whole_event(text: bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict) and "seq" in json.loads(text)
    except ValueError:
        return False


def test_spool_cut_at_any_byte_recovers_every_whole_flow_before_the_cut(runs):
    spool = runs["killed"] / "flows.spool"
    size = spool.stat().st_size
    full = _recovered_flow_ids(runs["killed"], size)

    @settings(settings.get_profile(fuzz_profile()), max_examples=min(settings.get_profile(fuzz_profile()).max_examples, 200))
    @given(offset=st.integers(0, size))
    def check(offset: int) -> None:
        ids = _recovered_flow_ids(runs["killed"], offset)
        assert ids == full[: len(ids)]                  # a prefix: every flow before the cut, in order
        if offset == size:
            assert ids == full

    check()
    assert full, "the killed run had flows in its spool"


def _recovered_flow_ids(run: Path, offset: int) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        copy = _copy(run, Path(scratch))
        _cut(copy / "flows.spool", offset)
        count, cut_short = recover(copy)
        loaded = read_run(copy)
        assert len(loaded.flows) == count
        return [flow["flow_id"] for flow in loaded.flows]


@pytest.mark.parametrize("name", ["manifest.json", "run.json", "events.jsonl"])
def test_a_sealed_run_cut_anywhere_is_reported_never_a_crash(runs, name):
    path = runs["sealed"] / name
    size = path.stat().st_size

    @settings(settings.get_profile(fuzz_profile()), max_examples=min(settings.get_profile(fuzz_profile()).max_examples, 150))
    @given(offset=st.integers(0, size - 1))
    def check(offset: int) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            run = _copy(runs["sealed"], Path(scratch))
            _cut(run / name, offset)
            try:
                problems = verify_run(run)
            except RunDirError as error:                 # the manifest itself is unreadable: said, with the file
                assert "manifest.json" in error.message
            else:
                assert any(name in problem or "manifest" in problem for problem in problems)
            try:
                loaded = read_run(run)
            except MonitorError as error:
                assert name in error.message and error.hint
            else:
                assert len(loaded.events) <= len(read_run(runs["sealed"]).events)

    check()
