"""The command line: clear messages for bad input (never a traceback), machine-readable outputs."""

from __future__ import annotations

import json
import subprocess
import sys

from monitor.store.writer import RunWriter


def consentmon(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_catalogue_json_lists_every_hooked_api_with_its_category():
    result = consentmon("catalogue", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) >= 25
    for row in rows:
        assert row["api"].count(".") >= 2 and row["category"]
    pi = {row["category"] for row in rows if row["kind"] == "pi_read"}
    assert len(pi) >= 8
    assert any(row["api"] == "android.view.View.performClick" for row in rows)


def test_analyze_on_a_folder_that_is_not_a_run_explains_and_fails(tmp_path):
    result = consentmon("analyze", str(tmp_path))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "run.json" in output and "Traceback" not in output


def test_analyze_on_a_corrupt_events_file_names_the_line(tmp_path):
    run = tmp_path / "run"
    writer = RunWriter(run, run_info={})
    writer.append({"source": "hook", "kind": "pi_read", "ts": 5, "category": "device_id", "api": "a.B.c", "value": "x"})
    writer.close()
    with open(run / "events.jsonl", "a") as handle:
        handle.write("{broken\n")
    result = consentmon("analyze", str(run))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "events.jsonl:2" in output and "Traceback" not in output


def test_verify_tells_a_tampered_run_apart(tmp_path):
    run = tmp_path / "run"
    writer = RunWriter(run, run_info={})
    writer.append({"source": "hook", "kind": "pi_read", "ts": 5, "category": "device_id", "api": "a.B.c", "value": "x"})
    writer.close()
    assert consentmon("verify", str(run)).returncode == 0
    events = run / "events.jsonl"
    events.write_text(events.read_text().replace('"x"', '"y"'))
    result = consentmon("verify", str(run))
    assert result.returncode == 3 and "events.jsonl" in result.stdout


def test_run_without_a_command_is_a_usage_error_not_a_crash(tmp_path):
    result = consentmon("run", "--host", "--out", str(tmp_path / "r"))
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr


def test_run_of_a_missing_program_names_it(tmp_path):
    result = consentmon("run", "--host", "--out", str(tmp_path / "r"), "--", "no-such-program-xyz")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "no-such-program-xyz" in output and "Traceback" not in output
