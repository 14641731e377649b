"""The batch process SIGKILLed mid-way, then started again: no job lost, none run twice into the results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from labkit import REPO, consentmon, host_argv
from monitor.lab.query import run_query


def test_kill_the_batch_and_resume(write_plan, tmp_path):
    results = tmp_path / "results"
    plan = write_plan([{"name": "app", "host": host_argv(0.5), "repeat": 5}])
    batch = subprocess.Popen([sys.executable, "-m", "monitor", "batch", str(plan), "--results", str(results), "--host-slots", "2"],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    outcomes = results / "jobs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(outcomes.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.kill(batch.pid, signal.SIGKILL)
    batch.wait()
    before = {path.name: path.read_bytes() for path in outcomes.glob("*.json")}
    assert 2 <= len(before) < 5, "the batch was to be killed mid-way"
    time.sleep(1.0)   # the killed batch's job processes notice their parent is gone and end

    result = consentmon("batch", str(plan), "--results", str(results), "--host-slots", "2")
    out = " ".join(result.stdout.split())
    assert result.returncode == 0, out + result.stderr
    assert "5 done, 0 failed" in out

    after = {path.name: path.read_bytes() for path in outcomes.glob("*.json")}
    assert len(after) == 5
    for name, content in before.items():   # what was done before the kill was not run again
        assert after[name] == content
    runs = run_query(str(results), "SELECT job_id, COUNT(*) AS n FROM runs GROUP BY job_id")
    assert runs.num_rows == 5 and set(runs.column("n").to_pylist()) == {1}
    assert sorted(path.name for path in (results / "runs").iterdir()) == sorted(name[:-5] for name in after)
    assert not list(results.glob("pending/*.json"))
    for content in after.values():
        assert json.loads(content)["status"] == "done"

    # Run once more: everything is done, nothing runs.
    again = consentmon("batch", str(plan), "--results", str(results), "--host-slots", "2")
    assert again.returncode == 0 and {path.name: path.read_bytes() for path in outcomes.glob("*.json")} == after


def test_one_batch_at_a_time_on_a_state(tmp_path):
    from monitor.lab.state import BatchBusy, BatchState

    first = BatchState(tmp_path / "batch.sqlite", exclusive=True)
    with pytest.raises(BatchBusy, match=f"another batch \\(pid {os.getpid()}\\) is running"):
        BatchState(tmp_path / "batch.sqlite", exclusive=True)
    first._lock_file.close()    # what the kernel does when the batch process ends, however it ends
    BatchState(tmp_path / "batch.sqlite", exclusive=True)
