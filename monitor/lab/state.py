"""The batch's durable state: one SQLite file (in the results root when that is a local directory).

Every change of a job (claimed, done, failed, back to pending) is one short transaction, so a batch killed at
any moment is resumed from exactly where it was: jobs that were running go back to pending (their attempt
not counted: the batch died, not the job), and a job whose result reached the results root before the kill
is taken as done from there, never run again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError
from monitor.lab.plan import Job

# A job that fails this many times is reported, not tried again.
MAX_ATTEMPTS = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL,
  problem TEXT, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  slot TEXT, slots_tried TEXT NOT NULL DEFAULT '[]', error TEXT, hint TEXT,
  started REAL, finished REAL, seconds REAL, cases INTEGER, run_url TEXT, submitted REAL
);
CREATE TABLE IF NOT EXISTS slots (name TEXT PRIMARY KEY, kind TEXT NOT NULL, retired INTEGER NOT NULL DEFAULT 0, reason TEXT);
"""

STATUSES = ("pending", "running", "done", "failed")


class BatchBusy(MonitorError):
    """Another batch is working on the same state right now."""


class BatchState:
    def __init__(self, path: Path, *, exclusive: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = None
        if exclusive:
            self._lock()
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    def _lock(self) -> None:
        """One batch per state at a time: a second one would take the first one's running jobs for
        interrupted ones. The lock is the kernel's (flock), so a killed batch never leaves it behind."""
        import fcntl
        import os

        handle = open(self.path.with_name(self.path.name + ".lock"), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise BatchBusy(f"another batch (pid {holder}) is running on {self.path}",
                            hint="wait for it to end, or stop it; then run this one again and it resumes") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _tx(self, immediate: bool = False) -> "_Transaction":
        return _Transaction(self._db(), immediate)

    # ---- plan -----------------------------------------------------------------------------------

    def add_jobs(self, jobs: Iterable[Job]) -> int:
        """Insert the plan's jobs; those already known (same id) keep their state. Returns how many are new."""
        added = 0
        with self._tx() as db:
            start = db.execute("SELECT COALESCE(MAX(position), 0) FROM jobs").fetchone()[0]
            for offset, job in enumerate(jobs, 1):
                cursor = db.execute(
                    "INSERT OR IGNORE INTO jobs (id, position, name, kind, spec, problem, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (job.id, start + offset, job.name, job.kind, json.dumps(job.spec), job.problem,
                     "failed" if job.problem else "pending", job.problem))
                added += cursor.rowcount
        return added

    def resume(self, is_done: Callable[[str], dict[str, Any] | None], *, retry_failed: bool = False) -> dict[str, int]:
        """After a kill: running jobs go back to pending (their attempt uncounted) unless the results root
        already has them. `retry_failed`: failed jobs (not invalid ones) get two fresh attempts."""
        counts = {"requeued": 0, "found_done": 0, "retried": 0}
        with self._tx() as db:
            rows = db.execute("SELECT id, status FROM jobs WHERE status IN ('running', 'pending')").fetchall()
        for row in rows:
            outcome = is_done(row["id"])
            if outcome is not None:
                self.mark_done(row["id"], outcome)
                counts["found_done"] += 1
            elif row["status"] == "running":
                with self._tx() as db:
                    db.execute("UPDATE jobs SET status='pending', attempts=MAX(attempts-1, 0), slot=NULL WHERE id=? AND status='running'",
                               (row["id"],))
                counts["requeued"] += 1
        if retry_failed:
            with self._tx() as db:
                counts["retried"] = db.execute("UPDATE jobs SET status='pending', attempts=0, error=NULL, hint=NULL "
                                               "WHERE status='failed' AND problem IS NULL").rowcount
        return counts

    # ---- slots ----------------------------------------------------------------------------------

    def add_slot(self, name: str, kind: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO slots (name, kind) VALUES (?, ?)", (name, kind))

    def retire(self, name: str, reason: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE slots SET retired=1, reason=? WHERE name=?", (reason, name))

    def is_retired(self, name: str) -> bool:
        row = self._db().execute("SELECT retired FROM slots WHERE name=?", (name,)).fetchone()
        return bool(row and row["retired"])

    # ---- jobs -----------------------------------------------------------------------------------

    def claim(self, slot: str, fits: Callable[[Job], bool],
              elsewhere: Callable[[Job, set[str]], bool] = lambda job, tried: False) -> tuple[Job, int] | None:
        """The next pending job this slot can take, marked running on it (attempt counted). A job that
        failed on this slot is left for another slot when `elsewhere(job, slots tried)` says one could take it."""
        with self._tx(immediate=True) as db:
            rows = db.execute("SELECT * FROM jobs WHERE status='pending' ORDER BY position").fetchall()
            for row in rows:
                job = _job(row)
                if not fits(job):
                    continue
                tried = set(json.loads(row["slots_tried"]))
                if slot in tried and elsewhere(job, tried):
                    continue
                attempt = row["attempts"] + 1
                db.execute("UPDATE jobs SET status='running', attempts=?, slot=?, started=?, error=NULL WHERE id=?",
                           (attempt, slot, time.time(), row["id"]))
                return job, attempt
        return None

    def mark_done(self, job_id: str, outcome: dict[str, Any]) -> None:
        finished = outcome.get("finished") or time.time()
        started = outcome.get("started")
        with self._tx() as db:
            db.execute("UPDATE jobs SET status='done', slot=COALESCE(?, slot), attempts=MAX(attempts, COALESCE(?, 0)), finished=?, "
                       "seconds=?, cases=?, run_url=?, error=NULL, hint=NULL WHERE id=?",
                       (outcome.get("slot"), outcome.get("attempt"), finished, (finished - started) if started else None,
                        outcome.get("cases"), outcome.get("run_url"), job_id))

    def mark_failed(self, job_id: str, slot: str | None, error: str, hint: str | None, *, final: bool,
                    attempts: int | None = None) -> str:
        """Record a failed attempt. Returns the job's new status: pending (tried again) or failed.
        `attempts`: the tries as counted elsewhere (a Celery job's outcome); the local batch counts its own
        at claim."""
        with self._tx() as db:
            row = db.execute("SELECT attempts, slots_tried FROM jobs WHERE id=?", (job_id,)).fetchone()
            tried = sorted(set(json.loads(row["slots_tried"])) | ({slot} if slot else set()))
            attempts = max(row["attempts"], attempts or 0)
            status = "failed" if final or attempts >= MAX_ATTEMPTS else "pending"
            db.execute("UPDATE jobs SET status=?, attempts=?, error=?, hint=?, slots_tried=?, slot=?, finished=? WHERE id=?",
                       (status, attempts, error, hint, json.dumps(tried), slot, time.time(), job_id))
        return status

    def mark_unroutable(self, reason: Callable[[Job], str]) -> list[str]:
        """Pending jobs no live slot can take: failed, each with why."""
        failed = []
        with self._tx() as db:
            for row in db.execute("SELECT * FROM jobs WHERE status='pending'").fetchall():
                db.execute("UPDATE jobs SET status='failed', error=? WHERE id=?", (reason(_job(row)), row["id"]))
                failed.append(row["id"])
        return failed

    def set_submitted(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET status='running', submitted=? WHERE id=?", (time.time(), job_id))

    def rows(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self._db().execute("SELECT * FROM jobs ORDER BY position").fetchall()]

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for row in self._db().execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"):
            counts[row["status"]] = row["n"]
        return counts

    def pending_jobs(self) -> list[Job]:
        return [_job(row) for row in self._db().execute("SELECT * FROM jobs WHERE status='pending' ORDER BY position")]

    def jobs(self, statuses: tuple[str, ...] = STATUSES) -> list[Job]:
        marks = ",".join("?" * len(statuses))
        return [_job(row) for row in self._db().execute(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY position", statuses)]


def _job(row: sqlite3.Row) -> Job:
    return Job(id=row["id"], name=row["name"], kind=row["kind"], spec=json.loads(row["spec"]), problem=row["problem"])


class _Transaction:
    def __init__(self, db: sqlite3.Connection, immediate: bool = False) -> None:
        self.db = db
        self.immediate = immediate

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE" if self.immediate else "BEGIN")
        return self.db

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
