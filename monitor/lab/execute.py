"""One job on one slot: record the run (runner), analyse it, export its rows, commit it to the results root.

The same function runs under the local scheduler and in a Celery worker. It either returns the job's
outcome (status "done") or raises `JobFailed`, saying whether the device itself was lost — the caller
decides what a failure means (retire the device, retry elsewhere, give up after two tries).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError
from monitor.lab.plan import Job
from monitor.lab.results import ResultsError, ResultsRoot
from monitor.lab.slots import Slot, device_alive

# A host job without a duration is stopped after this long: a lab never waits forever on one program.
HOST_DURATION = 120.0


@dataclass
class LabSettings:
    frida_server: Path | None = None   # frida-server binary for device jobs (else the one on the device)
    workdir: Path | None = None        # where runs are recorded before they are committed (default: temp)
    host_offline: bool = True          # host jobs: answer requests locally (nothing leaves this machine)


class JobFailed(MonitorError):
    """The job did not produce a result. `device_lost`: the device it ran on is gone (retire it);
    `final`: no other attempt can succeed (the results root is full), so do not retry."""

    def __init__(self, message: str, *, device_lost: bool = False, final: bool = False, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.device_lost = device_lost
        self.final = final


def _record(job: Job, slot: Slot, out: Path, settings: LabSettings) -> None:
    spec = job.spec
    if job.kind == "host":
        from monitor.runner.host import HostRunConfig, run_host

        driver = None
        if spec.get("scenario"):
            from monitor.runner.hostscenario import scenario_driver
            driver = scenario_driver(spec["scenario"])
        run_host(HostRunConfig(argv=list(spec["host"]), out=out, duration=spec.get("duration") or HOST_DURATION,
                               app_package=spec.get("app_package"), block_upstream=settings.host_offline, driver=driver))
        return
    from monitor.runner.device import DeviceRunConfig, run_device

    apk = Path(spec["apk"]) if spec.get("apk") else None
    package = spec.get("package")
    if package is None and apk is not None:
        from monitor.device.apk import read_apk_info
        package = read_apk_info(apk).package
    if not package:
        raise JobFailed(f"{apk}: the APK names no package")
    run_device(DeviceRunConfig(package=package, out=out, scenario=spec.get("scenario") or "first-launch-idle",
                               serial=slot.name, apk=apk, duration=spec.get("duration"), frida_server=settings.frida_server))


def execute_job(job: Job, slot: Slot, results: ResultsRoot, settings: LabSettings, *, worker: str | None = None,
                attempt: int = 1, spawned: float | None = None) -> dict[str, Any]:
    """`spawned`: when the job's process was started (run_in_child), so its outcome tells the job's whole life."""
    from monitor.analysis import analyze_run, write_findings
    from monitor.lab.export import partition_values, run_tables
    from monitor.store import FINDINGS_FILE

    if job.problem:
        raise JobFailed(job.problem, final=True)
    try:
        results.check_space()
    except ResultsError as exc:
        raise JobFailed(exc.message, final=True, hint=exc.hint) from exc
    started = time.time()
    if settings.workdir is not None:
        settings.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"consentmon-{job.id}-", dir=settings.workdir))
    out = workdir / "run"
    try:
        try:
            _record(job, slot, out, settings)
            findings = analyze_run(out)
            write_findings(findings, out / FINDINGS_FILE)
        except Exception as exc:  # noqa: BLE001 - MonitorError, or a library's own (frida, mitmproxy): the job failed
            lost = slot.kind == "device" and not device_alive(slot.name)
            where = f"device {slot.name} is gone: " if lost else ""
            message = exc.message if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"
            raise JobFailed(f"{where}{message}", device_lost=lost, hint=getattr(exc, "hint", None)) from exc
        recorded = time.time()
        app, date = partition_values(findings.run, job.name)
        run_url = results.url_of("runs", job.id)
        tables = run_tables(out, findings, job=job.as_dict(), run_url=run_url, worker=worker)
        outcome = {"job_id": job.id, "name": job.name, "kind": job.kind, "status": "done", "slot": slot.name,
                   "worker": worker, "attempt": attempt, "app": app, "date": date, "spawned": spawned or started, "started": started,
                   "recorded": recorded, "events": int(tables["runs"]["events"][0].as_py() or 0),
                   "findings": len(findings.findings), "cases": len(findings.cases), "run_url": run_url}
        try:
            results.commit(job.id, out, tables, app=app, date=date, outcome={**outcome, "finished": time.time()})
        except ResultsError as exc:
            raise JobFailed(exc.message, hint=exc.hint) from exc
        outcome["finished"] = time.time()
        return outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---- one job in its own process ------------------------------------------------------------------------
#
# mitmproxy keeps process-wide state (its context, one event loop per master), so two captures cannot run
# side by side in one process: each job runs in a child process of its worker. The child also dies with its
# worker (it watches its parent), so a killed batch leaves no job running behind it.


def run_in_child(job: Job, slot: Slot, results_url: str, settings: LabSettings, *, worker: str | None = None,
                 attempt: int = 1, min_free_mb: float | None = None) -> dict[str, Any]:
    """execute_job in a child process; returns its outcome or raises JobFailed as the child said."""
    import json
    import subprocess
    import sys

    request = {"job": job.as_dict(), "slot": slot.as_dict(), "results": results_url,
               "settings": {"frida_server": str(settings.frida_server) if settings.frida_server else None,
                            "workdir": str(settings.workdir) if settings.workdir else None,
                            "host_offline": settings.host_offline},
               "worker": worker, "attempt": attempt, "min_free_mb": min_free_mb}
    began = time.time()
    request["spawned"] = began
    log_dir = Path(tempfile.gettempdir()) if settings.workdir is None else settings.workdir
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=log_dir) as log:
        child = subprocess.run([sys.executable, "-m", "monitor.lab.execute"], input=json.dumps(request).encode(),
                               stdout=subprocess.PIPE, stderr=log, check=False)
        answer_line = child.stdout.decode(errors="replace").strip().splitlines()
        try:
            answer = json.loads(answer_line[-1]) if answer_line else {}
        except ValueError:
            answer = {}
        if "outcome" in answer:
            # The job's whole life in its process (start-up included), for the scheduler's own overhead.
            return {**answer["outcome"], "process_seconds": time.time() - began}
        if "failed" in answer:
            failed = answer["failed"]
            raise JobFailed(failed["message"], device_lost=failed.get("device_lost", False), final=failed.get("final", False),
                            hint=failed.get("hint"))
        log.seek(0)
        tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
    lost = slot.kind == "device" and not device_alive(slot.name)
    raise JobFailed(f"the job's process ended with exit code {child.returncode}" + (f": {' | '.join(tail)}" if tail else ""),
                    device_lost=lost)


def _watch_parent() -> None:
    import os
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(70)   # the worker is gone: its job ends with it, and is run again on resume

    threading.Thread(target=watch, daemon=True, name="consentmon-parent-watch").start()


def _child_main() -> None:
    import json
    import os
    import sys

    _watch_parent()
    request = json.loads(sys.stdin.read())
    slot = Slot.from_dict(request["slot"])
    raw = request["settings"]
    settings = LabSettings(frida_server=Path(raw["frida_server"]) if raw.get("frida_server") else None,
                           workdir=Path(raw["workdir"]) if raw.get("workdir") else None, host_offline=raw.get("host_offline", True))
    results = ResultsRoot(request["results"], **({"min_free_mb": request["min_free_mb"]} if request.get("min_free_mb") is not None else {}))
    real_stdout = sys.stdout
    sys.stdout = sys.stderr   # anything a library prints goes to the log, not into the answer
    try:
        outcome = execute_job(Job.from_dict(request["job"]), slot, results, settings, worker=request.get("worker"),
                              attempt=request.get("attempt", 1), spawned=request.get("spawned"))
        answer: dict[str, Any] = {"outcome": outcome}
    except JobFailed as failure:
        answer = {"failed": {"message": failure.message, "hint": failure.hint, "device_lost": failure.device_lost,
                             "final": failure.final}}
    except Exception as exc:  # noqa: BLE001 - anything else is this job's failure, said in one line
        answer = {"failed": {"message": f"{type(exc).__name__}: {exc}", "hint": None}}
    real_stdout.write(json.dumps(answer) + "\n")
    real_stdout.flush()
    # Everything is committed or reported and every file closed: skip the interpreter's teardown (Frida's and
    # mitmproxy's threads and loops take a few hundred ms to wind down), which is pure latency between jobs.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _child_main()
