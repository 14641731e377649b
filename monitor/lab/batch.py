"""`consentmon batch`: a plan into a results root, on this machine's devices and host slots, or through a
Celery broker to `consentmon worker`s anywhere. Either way the state is kept in SQLite and the batch can be
killed and started again with the same arguments: it goes on where it was. `round` runs the plan again
into the same root as a round of its own (monitor.lab.rounds), with its own state.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.lab.execute import LabSettings
from monitor.lab.local import Listener, LocalBatch
from monitor.lab.plan import Plan, load_plan
from monitor.lab.results import ResultsRoot
from monitor.lab.rounds import round_state, round_url
from monitor.lab.slots import Slot, device_slots, host_slots
from monitor.lab.state import BatchState

STATE_FILE = "batch.sqlite"


@dataclass
class BatchResult:
    counts: dict[str, int]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    broker_unreachable: bool = False
    results_url: str = ""   # the round's root


def state_path(results: ResultsRoot, explicit: Path | None = None) -> Path:
    """The SQLite file: given, else in a local results root, else per root under ~/.consentmon/lab."""
    if explicit is not None:
        return explicit
    if results.local_path is not None:
        return results.local_path / STATE_FILE
    digest = hashlib.sha1(results.url.encode()).hexdigest()[:16]
    return Path.home() / ".consentmon" / "lab" / f"{digest}.sqlite"


def open_batch(plan: Plan, results: ResultsRoot, *, state_file: Path | None = None,
               retry_failed: bool = False, round_number: int | None = None) -> tuple[BatchState, dict[str, int]]:
    results.require_shared().ensure()
    state = BatchState(state_path(results, round_state(state_file, round_number)), exclusive=True)
    state.add_jobs(plan.jobs)
    resumed = state.resume(results.outcome_if_done, retry_failed=retry_failed)
    return state, resumed


def _say_invalid(state: BatchState, listener: Listener | None) -> None:
    """One line for each job that cannot run at all (missing APK, unknown scenario): it is never tried."""
    for row in state.rows():
        if row["problem"] and listener is not None:
            listener("failed", {"job": row["id"], "name": row["name"], "slot": None, "attempt": 0, "error": row["problem"]})


def run_local(plan_path: Path, results_url: str, *, serials: list[str] | None = None, use_devices: bool = True,
              host_slot_count: int = 1, settings: LabSettings | None = None, state_file: Path | None = None,
              retry_failed: bool = False, listener: Listener | None = None,
              min_free_mb: float | None = None, slots: list[Slot] | None = None, round_number: int | None = None) -> BatchResult:
    plan = load_plan(plan_path)
    results = ResultsRoot(round_url(results_url, round_number), **({"min_free_mb": min_free_mb} if min_free_mb is not None else {}))
    state, resumed = open_batch(plan, results, state_file=state_file, retry_failed=retry_failed, round_number=round_number)
    notes = [f"resumed: {resumed['requeued']} interrupted job(s) back in the queue, {resumed['found_done']} already in the results"
             ] if resumed["requeued"] or resumed["found_done"] else []
    if slots is None:
        slots = []
        needs_devices = any(job.kind == "device" for job in state.pending_jobs())
        if use_devices and (needs_devices or serials):
            found, problems = device_slots(serials)
            slots += found
            notes += problems
        slots += host_slots(host_slot_count)
    _say_invalid(state, listener)
    batch = LocalBatch(state, results, slots, settings or LabSettings(), listener)
    counts = batch.run()
    return BatchResult(counts=counts, rows=state.rows(), notes=notes, results_url=results.url)


def run_distributed(plan_path: Path, results_url: str, broker: str, *, state_file: Path | None = None,
                    retry_failed: bool = False, listener: Listener | None = None, poll: float = 0.5,
                    timeout: float | None = None, round_number: int | None = None,
                    unserved_after: float | None = None) -> BatchResult:
    """Submit the plan's pending jobs to the broker (task id = job id) and follow their outcomes in the
    results root until every job is done or failed. A job that no live worker can take for `unserved_after`
    seconds is reported as such (monitor.lab.distributed.report_if_unserved), so the batch never waits on it."""
    from monitor.lab.distributed import BrokerUnreachable, UnservedWatch, submit
    from monitor.lab.distributed import unserved_after as default_unserved_after

    listener = listener or (lambda kind, data: None)
    plan = load_plan(plan_path)
    results = ResultsRoot(round_url(results_url, round_number))
    state, resumed = open_batch(plan, results, state_file=state_file, retry_failed=retry_failed, round_number=round_number)
    notes = []
    if resumed["found_done"]:
        notes.append(f"resumed: {resumed['found_done']} job(s) already in the results")
    _say_invalid(state, listener)
    # Running jobs of an earlier, killed submitter are submitted again: the task id is the job id and workers
    # skip a job whose result is already in the root, so a job is never done twice into the results.
    to_send = state.jobs(("pending", "running"))
    try:
        submit(broker, results.url, to_send)
    except BrokerUnreachable as exc:
        for job in to_send:
            listener("failed", {"job": job.id, "name": job.name, "slot": None, "attempt": 0,
                                "error": f"not submitted: {exc.message}"})
        return BatchResult(counts=state.counts(), rows=state.rows(), notes=[*notes, exc.message], broker_unreachable=True,
                           results_url=results.url)
    for job in to_send:
        state.set_submitted(job.id)
        listener("submitted", {"job": job.id, "name": job.name})
    deadline = None if timeout is None else time.monotonic() + timeout
    waiting = {job.id: job for job in to_send}
    unserved = UnservedWatch(broker, results, default_unserved_after() if unserved_after is None else unserved_after)
    next_check = 0.0
    while waiting and (deadline is None or time.monotonic() < deadline):
        if time.monotonic() >= next_check:   # jobs no live worker can take get their outcome written
            unserved.check(list(waiting.values()))
            next_check = time.monotonic() + 1.0
        for job_id in list(waiting):
            outcome = results.outcome(job_id)
            if outcome is None:
                continue
            job = waiting.pop(job_id)
            if outcome.get("status") == "done":
                state.mark_done(job_id, outcome)
                listener("done", {"job": job_id, "name": job.name, "slot": outcome.get("slot"), "attempt": outcome.get("attempt"),
                                  "seconds": (outcome.get("finished") or 0) - (outcome.get("started") or 0),
                                  "cases": outcome.get("cases"), "worker": outcome.get("worker")})
            else:
                state.mark_failed(job_id, outcome.get("slot"), outcome.get("error") or "failed", outcome.get("hint"), final=True,
                                  attempts=outcome.get("attempt"))
                listener("failed", {"job": job_id, "name": job.name, "slot": outcome.get("slot"),
                                    "attempt": outcome.get("attempt"), "error": outcome.get("error")})
        if waiting:
            time.sleep(poll)
    if waiting:
        notes.append(f"{len(waiting)} job(s) still queued or running when the batch stopped following; run it again to follow them")
    return BatchResult(counts=state.counts(), rows=state.rows(), notes=notes, results_url=results.url)
