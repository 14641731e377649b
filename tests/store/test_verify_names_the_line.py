"""`verify` names exactly which events line changed: the chain after each line is kept (events.chain) when the
run is sealed, so the first line whose chain departs is the one that was changed, inserted or removed."""

from __future__ import annotations

import pytest

from monitor.store.manifest import verify_run
from monitor.testing.factories import at, pi_read, write_run


@pytest.fixture()
def run(tmp_path):
    return write_run(tmp_path / "run", [pi_read(ts=at(i), value=f"86753090000000{i}") for i in range(10)])


def _lines(run):
    return (run / "events.jsonl").read_bytes().splitlines(keepends=True)


def _write(run, lines):
    (run / "events.jsonl").write_bytes(b"".join(lines))


def _chain_problem(run):
    problems = verify_run(run)
    assert "events.jsonl: content differs from the manifest (SHA-256 mismatch)" in problems
    return next(p for p in problems if "hash chain broken" in p)


def test_an_intact_run_verifies(run):
    assert verify_run(run) == []
    assert (run / "events.chain").stat().st_size == 10 * 16


def test_a_changed_value_is_named_by_its_line(run):
    lines = _lines(run)
    lines[3] = lines[3].replace(b"867530900000003", b"867530900000999")
    _write(run, lines)
    assert "line 4 is the first that differs" in _chain_problem(run)


def test_two_lines_swapped_name_the_first(run):
    lines = _lines(run)
    lines[1], lines[2] = lines[2], lines[1]
    _write(run, lines)
    assert "line 2 is the first that differs" in _chain_problem(run)


def test_lines_removed_at_the_end_are_counted(run):
    _write(run, _lines(run)[:8])
    assert "lines from 9 on (2 of 10) were removed after capture" in _chain_problem(run)


def test_a_line_added_at_the_end_is_named(run):
    lines = _lines(run)
    _write(run, [*lines, lines[-1]])
    assert "lines from 11 on were added after capture" in _chain_problem(run)


def test_the_chain_marks_themselves_are_sealed(run):
    marks = bytearray((run / "events.chain").read_bytes())
    marks[0:1] = b"f" if marks[0:1] != b"f" else b"0"
    (run / "events.chain").write_bytes(bytes(marks))
    assert "events.chain: content differs from the manifest (SHA-256 mismatch)" in verify_run(run)


def test_reports_written_into_the_run_are_not_evidence_changes(run):
    for name in ("report.json", "report.redacted.html", "findings.redacted.xlsx", "report.en.pdf", "findings.json"):
        (run / name).write_text("derived")
    assert verify_run(run) == []
    (run / "screens").mkdir(exist_ok=True)
    (run / "screens" / "report.png").write_text("planted")     # below the top: evidence, so it is noticed
    assert verify_run(run) == ["screens/report.png: not in the manifest (added after capture)"]
