"""Celery on a real redis-server: two workers, one SIGKILLed mid-job (its job is delivered again, completes on
the other worker, and the results hold exactly one result per job); a worker serving a simulated device; a job
for a device no worker serves, reported within seconds with who is alive and the fix."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import redis

from labkit import REPO, host_argv
from monitor.lab.distributed import DEVICE_QUEUE, job_key, live_workers
from monitor.lab.plan import load_plan
from monitor.lab.query import run_query


def _worker(name: str, broker: str, results: str, log) -> subprocess.Popen:
    env = {**os.environ, "CONSENTMON_LAB_VISIBILITY_TIMEOUT": "4"}
    return subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--broker", broker, "--results", results,
                             "--host-slots", "1", "--no-devices", "--name", name, "--loglevel", "INFO"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_a_worker_killed_mid_job_has_its_job_completed_elsewhere(redis_url, write_plan, tmp_path):
    results = f"file://{tmp_path / 'results'}"
    plan = write_plan([{"name": "slow", "host": host_argv(4.0, "slow")},
                       {"name": "quick", "host": host_argv(0.1)},
                       {"name": "broken", "host": ["/nonexistent/program"]}])
    slow_id = next(job.id for job in load_plan(plan).jobs if job.name == "slow")
    log = open(tmp_path / "workers.log", "wb")
    workers = {name: _worker(name, redis_url, results, log) for name in ("wa", "wb")}
    submitter = subprocess.Popen([sys.executable, "-m", "monitor", "batch", str(plan), "--results", results, "--broker", redis_url,
                                  "--state", str(tmp_path / "batch.sqlite")],
                                 cwd=REPO, env={**os.environ, "COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        broker = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 90
        owner = None
        while time.monotonic() < deadline and owner is None:
            owner = broker.get(job_key(results, "lease", slow_id))
            time.sleep(0.05)
        assert owner is not None, "the slow job never started"
        killed = owner.decode().split(":")[0]
        time.sleep(1.0)    # well inside the job
        os.kill(workers[killed].pid, signal.SIGKILL)
        workers[killed].wait()
        out, err = submitter.communicate(timeout=180)
    finally:
        for process in (submitter, *workers.values()):
            if process.poll() is None:
                process.terminate()
        for process in workers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
    text = " ".join(out.split())
    assert submitter.returncode == 1, text + err + (tmp_path / "workers.log").read_text(errors="replace")[-3000:]
    assert "2 done, 1 failed" in text and "✗ broken on w" in text and "cannot start /nonexistent/program" in text
    # The summary's tries are the job's real count, failed ones too (they were the worker's, not the submitter's).
    assert re.search(r"broken\s*│\s*host\s*│\s*failed\s*│\s*2\s*│", out), out
    with sqlite3.connect(tmp_path / "batch.sqlite") as db:
        tries = dict(db.execute("SELECT name, attempts FROM jobs").fetchall())
    assert tries["broken"] == 2 and tries["quick"] == 1
    root = tmp_path / "results"
    outcomes = {path.stem: json.loads(path.read_text()) for path in (root / "jobs").glob("*.json")}
    broken = outcomes.pop(next(job.id for job in load_plan(plan).jobs if job.name == "broken"))
    assert broken["status"] == "failed" and broken["attempt"] == 2   # tried twice, then reported
    assert len(outcomes) == 2 and {outcome["status"] for outcome in outcomes.values()} == {"done"}
    survivor = "wb" if killed == "wa" else "wa"
    assert outcomes[slow_id]["worker"] == survivor and outcomes[slow_id]["attempt"] == 2
    runs = run_query(results, "SELECT job_id, worker, COUNT(*) AS n FROM runs GROUP BY ALL")
    assert runs.num_rows == 2 and set(runs.column("n").to_pylist()) == {1}
    assert dict(zip(runs.column("job_id").to_pylist(), runs.column("worker").to_pylist()))[slow_id] == survivor
    assert not list(root.glob("pending/*.json"))


def _phones_and_pc(sim, frida_server_file, redis_url: str, results: str, log) -> list[subprocess.Popen]:
    """A worker serving the simulated device, and one with a host slot only."""
    env = {**os.environ, "CONSENTMON_LAB_VISIBILITY_TIMEOUT": "30"}   # the adb server of the simulated device comes with os.environ
    return [subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--broker", redis_url, "--results", results,
                              "--serial", sim.serial, "--frida-server", str(frida_server_file), "--name", "phones"],
                             cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT),
            subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--broker", redis_url, "--results", results,
                              "--host-slots", "1", "--no-devices", "--name", "pc"],
                             cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)]


def _submit(plan, results: str, redis_url: str, tmp_path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "batch", str(plan), "--results", results, "--broker", redis_url,
                           "--state", str(tmp_path / "batch.sqlite"), *options],
                          cwd=REPO, env={**os.environ, "COLUMNS": "250"}, capture_output=True, text=True, timeout=180)


def _stop(workers: list[subprocess.Popen], log) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)
    log.close()


def _host_job_done_one_failed(batch: subprocess.CompletedProcess[str], tmp_path) -> tuple[str, dict[str, dict]]:
    """The batch ended with one job failed and the host job "here" done by the pc worker: its text, the outcomes by name."""
    text = " ".join(batch.stdout.split())
    assert batch.returncode == 1, text + batch.stderr + (tmp_path / "workers.log").read_text(errors="replace")[-3000:]
    assert "1 done, 1 failed" in text
    outcomes = {outcome["name"]: outcome for outcome in
                (json.loads(path.read_text()) for path in (tmp_path / "results" / "jobs").glob("*.json"))}
    assert outcomes["here"]["status"] == "done" and outcomes["here"]["worker"] == "pc"
    return text, outcomes


def test_a_device_worker_takes_device_jobs_and_reports_one_failing_twice(make_sim, frida_server_file, redis_url, write_plan, tmp_path):
    sim = make_sim(13)
    results = f"file://{tmp_path / 'results'}"
    plan = write_plan([{"name": "on-13", "package": "com.example.consentdemo", "device": {"android": "13"}},
                       {"name": "here", "host": host_argv(0.1)}])
    log = open(tmp_path / "workers.log", "wb")
    workers = _phones_and_pc(sim, frida_server_file, redis_url, results, log)
    try:
        batch = _submit(plan, results, redis_url, tmp_path)
    finally:
        _stop(workers, log)
    text, outcomes = _host_job_done_one_failed(batch, tmp_path)
    # Routed to the worker with the device; the simulator has no app process for Frida: tried twice, then reported.
    device_job = outcomes["on-13"]
    assert device_job["status"] == "failed" and device_job["worker"] == "phones" and device_job["slot"] == sim.serial
    assert device_job["attempt"] == 2 and "frida" in device_job["error"].lower()
    assert _summary_row(batch.stdout, "on-13")[2:4] == ["failed", "2"]


def _summary_row(out: str, name: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("│ ") and line.split("│")[1].strip() == name)
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_a_job_for_a_device_no_worker_serves_is_reported_promptly(make_sim, frida_server_file, redis_url, write_plan, tmp_path):
    sim = make_sim(13)
    results = f"file://{tmp_path / 'results'}"
    plan = write_plan([{"name": "here", "host": host_argv(0.1)},
                       {"name": "lost-phone", "package": "com.example.consentdemo", "device": {"serial": "emulator-5998"}}])
    log = open(tmp_path / "workers.log", "wb")
    workers = _phones_and_pc(sim, frida_server_file, redis_url, results, log)
    broker = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 60     # a lab starts its workers, then submits
        while time.monotonic() < deadline and {worker.name for worker in live_workers(broker)} != {"phones", "pc"}:
            time.sleep(0.1)
        began = time.time()
        batch = _submit(plan, results, redis_url, tmp_path, "--unserved-after", "3")
        took = time.time() - began
        # The phone worker was handed the job, could not take it, and acknowledges it once it is reported.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (broker.llen(DEVICE_QUEUE) or broker.hlen("unacked")):
            time.sleep(0.2)
        left = broker.llen(DEVICE_QUEUE) + broker.hlen("unacked")
    finally:
        _stop(workers, log)
    text, outcomes = _host_job_done_one_failed(batch, tmp_path)
    lost = outcomes["lost-phone"]
    assert lost["status"] == "failed" and lost["attempt"] == 0
    assert lost["error"] == ("no live worker can take it: it needs a device with serial emulator-5998; workers alive: "
                             f"pc serves pc/host-1; phones serves {sim.serial} (Android 13, x86_64, root)")
    assert f"consentmon worker --broker {redis_url} --results {results} --serial emulator-5998" in lost["hint"]
    assert "--retry-failed" in lost["hint"]
    # Within the grace (3 s) and a few polls of it, not after hundreds of hand-backs; the batch then ended.
    assert lost["finished"] - began < 3 + 8, lost
    assert took < 60
    row = _summary_row(batch.stdout, "lost-phone")
    assert row[2:4] == ["failed", "0"] and "no live worker can take it" in row[-1]
    assert "✗ lost-phone: no live worker can take it: it needs a device with serial emulator-5998" in text
    assert left == 0


def test_who_is_alive_and_what_an_unserved_job_needs(redis_url, tmp_path):
    """The registry and the report on a real Redis, without Celery: a worker is listed while it announces
    itself, a job none of them can take is reported only once the grace has passed, and the report says
    what the job needs, who is alive and how to fix it."""
    from monitor.lab.distributed import WorkerContext, report_if_unserved
    from monitor.lab.plan import Job
    from monitor.lab.results import ResultsRoot
    from monitor.lab.slots import Slot

    broker = redis.Redis.from_url(redis_url)
    results = ResultsRoot(str(tmp_path / "results")).ensure()
    phone = Slot(name="emulator-5554", kind="device", android="14", abis=("x86_64", "arm64-v8a"))
    withdraw = WorkerContext(name="lab-b", broker=redis_url, slots=[phone]).announce("lab-b:1:1")
    host_job = Job(id="host-1", name="tool", kind="host", spec={"host": ["true"]})
    arm_job = Job(id="arm-1", name="arm", kind="device", spec={"package": "p", "device": {"abi": "arm64-v8a"}})
    try:
        assert [worker.describe() for worker in live_workers(broker)] == ["lab-b serves emulator-5554 (Android 14, x86_64)"]
        workers = live_workers(broker)
        assert not report_if_unserved(broker, redis_url, results, arm_job, workers, after=0)   # lab-b can take it
        assert not report_if_unserved(broker, redis_url, results, host_job, workers, after=1)  # not yet: the grace
        assert results.outcome("host-1") is None
        time.sleep(1.1)
        assert report_if_unserved(broker, redis_url, results, host_job, workers, after=1)
    finally:
        withdraw()
    outcome = results.outcome("host-1")
    assert outcome["status"] == "failed" and outcome["attempt"] == 0
    assert outcome["error"] == ("no live worker can take it: it needs a host slot (--host-slots); "
                                "workers alive: lab-b serves emulator-5554 (Android 14, x86_64)")
    assert outcome["hint"] == (f"start a worker with host slots: consentmon worker --broker {redis_url} --results {results.url} "
                               "--host-slots 1; then run the batch again with --retry-failed")
    # Withdrawn: nobody is alive, and the device job is now unserved too (after its own grace).
    assert live_workers(broker) == []
    assert report_if_unserved(broker, redis_url, results, arm_job, [], after=0)
    assert results.outcome("arm-1")["error"].endswith("it needs a device with abi arm64-v8a; workers alive: none")
