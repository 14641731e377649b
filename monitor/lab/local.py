"""`consentmon batch` without a broker: one worker thread per connected device plus the host slots, all on
this machine, sharing the batch's SQLite state.

Each worker claims the next pending job its slot can take (an atomic transaction), runs it, and records the
outcome. A failure on a device that is then gone retires the device (its worker stops) and the job goes to
another slot; any job is tried at most twice (MAX_ATTEMPTS), then reported. Jobs no live slot can take are
reported at the end, each with what it needed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from monitor.lab.execute import JobFailed, LabSettings, run_in_child
from monitor.lab.plan import Job
from monitor.lab.results import ResultsRoot
from monitor.lab.slots import Slot, can_take
from monitor.lab.state import BatchState

# Told of each step, (kind, data): started, done, retry, failed, retired, unroutable (and submitted, with a broker).
Listener = Callable[[str, dict[str, Any]], None]
IDLE_POLL = 0.1


def needs_text(job: Job) -> str:
    if job.kind == "host":
        return "a host slot (--host-slots)"
    needs = job.needs.model_dump(exclude_none=True)
    return "a device" + (f" with {', '.join(f'{key} {value}' for key, value in needs.items())}" if needs else "")


class LocalBatch:
    def __init__(self, state: BatchState, results: ResultsRoot, slots: list[Slot], settings: LabSettings,
                 listener: Listener | None = None, worker: str | None = None) -> None:
        self.state = state
        self.results = results
        self.slots = slots
        self.settings = settings
        self.listener = listener or (lambda kind, data: None)
        self.worker = worker
        self.live: dict[str, Slot] = {}
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def _live_slots(self) -> list[Slot]:
        with self._lock:
            return list(self.live.values())

    def _elsewhere(self, job: Job, tried: set[str]) -> bool:
        return any(can_take(other, job) for other in self._live_slots() if other.name not in tried)

    def _work(self, slot: Slot) -> None:
        while not self.stop.is_set():
            claimed = self.state.claim(slot.name, lambda job: can_take(slot, job), self._elsewhere)
            if claimed is None:
                if not self._more_for(slot):
                    return
                time.sleep(IDLE_POLL)
                continue
            job, attempt = claimed
            self.listener("started", {"job": job.id, "name": job.name, "slot": slot.name, "attempt": attempt})
            try:
                outcome = run_in_child(job, slot, self.results.url, self.settings, worker=self.worker, attempt=attempt,
                                       min_free_mb=self.results.min_free_mb)
            except JobFailed as failure:
                status = self.state.mark_failed(job.id, slot.name, failure.message, failure.hint, final=failure.final)
                self.listener("retry" if status == "pending" else "failed",
                              {"job": job.id, "name": job.name, "slot": slot.name, "attempt": attempt, "error": failure.message})
                if failure.device_lost:
                    self._retire(slot, failure.message)
                    return
                continue
            except Exception as exc:  # noqa: BLE001 - a bug in one job must not stop the batch; it is reported
                status = self.state.mark_failed(job.id, slot.name, f"internal error: {type(exc).__name__}: {exc}", None, final=False)
                self.listener("retry" if status == "pending" else "failed",
                              {"job": job.id, "name": job.name, "slot": slot.name, "attempt": attempt,
                               "error": f"internal error: {type(exc).__name__}: {exc}"})
                continue
            self.state.mark_done(job.id, outcome)
            self.listener("done", {"job": job.id, "name": job.name, "slot": slot.name, "attempt": attempt,
                                   "seconds": outcome["finished"] - outcome["started"], "cases": outcome["cases"],
                                   "process_seconds": outcome.get("process_seconds")})

    def _more_for(self, slot: Slot) -> bool:
        """Is there still work this slot might get: a pending job it can take, or a running one that may fail back?"""
        counts = self.state.counts()
        if counts["running"]:
            return True
        return any(can_take(slot, job) for job in self.state.pending_jobs())

    def _retire(self, slot: Slot, reason: str) -> None:
        with self._lock:
            self.live.pop(slot.name, None)
        self.state.retire(slot.name, reason)
        self.listener("retired", {"slot": slot.name, "reason": reason})

    def run(self) -> dict[str, int]:
        with self._lock:
            self.live = {slot.name: slot for slot in self.slots}
        for slot in self.slots:
            self.state.add_slot(slot.name, slot.kind)
        threads = [threading.Thread(target=self._work, args=(slot,), name=f"consentmon-lab-{slot.name}", daemon=True)
                   for slot in self.slots]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
        if not self.stop.is_set():
            for job_id in self.state.mark_unroutable(lambda job: f"no connected slot can take it: it needs {needs_text(job)}"):
                self.listener("unroutable", {"job": job_id})
        return self.state.counts()
