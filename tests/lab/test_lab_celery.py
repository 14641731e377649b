"""Celery on a real redis-server: two workers, one SIGKILLed mid-job (its job is delivered again, completes on
the other worker, and the results hold exactly one result per job); a worker serving a simulated device."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import redis

from labkit import REPO, host_argv
from monitor.lab.distributed import KEY_PREFIX
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
            owner = broker.get(f"{KEY_PREFIX}lease:{slow_id}")
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


def test_a_device_worker_takes_device_jobs_and_reports_one_failing_twice(make_sim, frida_server_file, redis_url, write_plan, tmp_path):
    sim = make_sim(13)
    results = f"file://{tmp_path / 'results'}"
    plan = write_plan([{"name": "on-13", "package": "com.example.consentdemo", "device": {"android": "13"}},
                       {"name": "here", "host": host_argv(0.1)}])
    log = open(tmp_path / "workers.log", "wb")
    env = {**os.environ, "CONSENTMON_LAB_VISIBILITY_TIMEOUT": "30"}   # the adb server of the simulated device comes with os.environ
    workers = [subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--broker", redis_url, "--results", results,
                                 "--serial", sim.serial, "--frida-server", str(frida_server_file), "--name", "phones"],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT),
               subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--broker", redis_url, "--results", results,
                                 "--host-slots", "1", "--no-devices", "--name", "pc"],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)]
    try:
        batch = subprocess.run([sys.executable, "-m", "monitor", "batch", str(plan), "--results", results, "--broker", redis_url,
                                "--state", str(tmp_path / "batch.sqlite")],
                               cwd=REPO, env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=180)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        log.close()
    text = " ".join(batch.stdout.split())
    assert batch.returncode == 1, text + batch.stderr + (tmp_path / "workers.log").read_text(errors="replace")[-3000:]
    assert "1 done, 1 failed" in text
    outcomes = {outcome["name"]: outcome for outcome in
                (json.loads(path.read_text()) for path in (tmp_path / "results" / "jobs").glob("*.json"))}
    assert outcomes["here"]["status"] == "done" and outcomes["here"]["worker"] == "pc"
    # Routed to the worker with the device; the simulator has no app process for Frida: tried twice, then reported.
    device_job = outcomes["on-13"]
    assert device_job["status"] == "failed" and device_job["worker"] == "phones" and device_job["slot"] == sim.serial
    assert device_job["attempt"] == 2 and "frida" in device_job["error"].lower()
