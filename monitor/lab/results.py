"""The results root: a local path or any fsspec URL (a shared file system, memory://, s3://…).

Layout:
  runs/<job id>/                 the sealed run directory, with findings.json
  dataset/<table>/app=…/date=…/<job id>.parquet   the run's rows (monitor.lab.export)
  jobs/<job id>.json             the job's outcome: written last, so its presence means "done"
  pending/<job id>.json          while a commit is under way: the dataset files it is writing

A job is committed in that order. A worker killed half-way leaves pending/<id>.json, and the next commit of
the same job first deletes the files it names: the dataset never holds a job twice, nor half of one next
to a whole one. A job whose jobs/<id>.json says done is never run again (`is_done`).
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from monitor.errors import MonitorError

RUNS_DIR = "runs"
DATASET_DIR = "dataset"
JOBS_DIR = "jobs"
PENDING_DIR = "pending"
# A job is not started when the root has less free space than this (local roots only: others do not say).
DEFAULT_MIN_FREE_MB = 200


class ResultsError(MonitorError):
    """The results root cannot be written: missing, unreachable, or out of space."""


class ResultsRoot:
    def __init__(self, url: str | os.PathLike[str], *, min_free_mb: float = DEFAULT_MIN_FREE_MB) -> None:
        self.url = str(url)
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ValueError, ImportError) as exc:
            raise ResultsError(f"results root {self.url}: {exc}", hint="give a directory or an fsspec URL such as file:///srv/lab or s3://bucket/lab") from exc
        self.root = self.root.rstrip("/") or "/"
        self.min_free_mb = min_free_mb

    @property
    def is_local(self) -> bool:
        return "file" in _protocols(self.fs)

    @property
    def local_path(self) -> Path | None:
        return Path(self.root) if self.is_local else None

    def require_shared(self) -> "ResultsRoot":
        """Jobs run in their own processes (and workers on other machines): a root that lives inside one
        process (memory://) would silently lose every result."""
        if "memory" in _protocols(self.fs):
            raise ResultsError(f"results root {self.url} lives in one process only, and each job runs in its own",
                               hint="give a directory, file://…, or a shared store (s3://…)")
        return self

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def url_of(self, *parts: str) -> str:
        path = self.path(*parts)
        protocol = _protocols(self.fs)[0]
        return path if protocol == "file" and "://" not in self.url else f"{protocol}://{path.lstrip('/') if protocol == 'memory' else path}"

    def ensure(self) -> "ResultsRoot":
        try:
            self.fs.makedirs(self.path(JOBS_DIR), exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"results root {self.url} cannot be created: {exc}") from exc
        return self

    # ---- space ------------------------------------------------------------------------------------

    def check_space(self) -> None:
        """Refuse to start a job into a local root that is (nearly) full; other roots are checked by writing."""
        local = self.local_path
        if local is None:
            return
        free_mb = shutil.disk_usage(_existing(local)).free / 2**20
        if free_mb < self.min_free_mb:
            raise ResultsError(f"results root {self.url} has no space: {free_mb:.0f} MB free, a job needs {self.min_free_mb:.0f} MB",
                               hint="free space there, or give another --results root")

    # ---- outcomes -------------------------------------------------------------------------------

    def outcome(self, job_id: str) -> dict[str, Any] | None:
        try:
            with self.fs.open(self.path(JOBS_DIR, f"{job_id}.json"), "rb") as handle:
                return json.loads(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None

    def is_done(self, job_id: str) -> bool:
        outcome = self.outcome(job_id)
        return outcome is not None and outcome.get("status") == "done"

    def outcome_if_done(self, job_id: str) -> dict[str, Any] | None:
        outcome = self.outcome(job_id)
        return outcome if outcome is not None and outcome.get("status") == "done" else None

    def clear_failed(self, job_id: str) -> bool:
        """Forget a failed outcome, so the job's next result is followed afresh. True when there was one."""
        outcome = self.outcome(job_id)
        if outcome is not None and outcome.get("status") != "done":
            self.fs.rm(self.path(JOBS_DIR, f"{job_id}.json"))
            return True
        return False

    def outcomes(self) -> dict[str, dict[str, Any]]:
        """Every outcome in the root, by job id."""
        found: dict[str, dict[str, Any]] = {}
        try:
            names = self.fs.ls(self.path(JOBS_DIR), detail=False)
        except FileNotFoundError:
            return found
        for name in names:
            if name.endswith(".json"):
                job_id = name.rsplit("/", 1)[-1][:-5]
                outcome = self.outcome(job_id)
                if outcome is not None:
                    found[job_id] = outcome
        return found

    def write_outcome(self, job_id: str, outcome: dict[str, Any]) -> None:
        self.write_json(self.path(JOBS_DIR, f"{job_id}.json"), outcome)

    def write_json(self, path: str, data: Any) -> None:
        self._write_atomic(path, json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False).encode())

    # ---- commit ---------------------------------------------------------------------------------

    def dataset_path(self, table: str, app: str, date: str, job_id: str) -> str:
        return self.path(DATASET_DIR, table, f"app={app}", f"date={date}", f"{job_id}.parquet")

    def commit(self, job_id: str, run_dir: Path, tables: dict[str, pa.Table], *, app: str, date: str,
               outcome: dict[str, Any]) -> str:
        """Store one finished job: run directory, dataset rows, then its outcome (the done marker).
        Returns the run directory's URL in the root."""
        try:
            self._undo_partial(job_id)
            targets = {table: self.dataset_path(table, app, date, job_id) for table in tables}
            self._write_atomic(self.path(PENDING_DIR, f"{job_id}.json"), json.dumps(sorted(targets.values())).encode())
            run_target = self.path(RUNS_DIR, job_id)
            if self.fs.exists(run_target):
                self.fs.rm(run_target, recursive=True)
            self.fs.makedirs(run_target, exist_ok=True)
            self.fs.put(str(run_dir).rstrip("/") + "/", run_target + "/", recursive=True)
            for table, target in targets.items():
                buffer = io.BytesIO()
                pq.write_table(tables[table], buffer, compression="zstd")
                self._write_atomic(target, buffer.getvalue())
            self.write_outcome(job_id, {**outcome, "dataset": sorted(targets.values())})
            self.fs.rm(self.path(PENDING_DIR, f"{job_id}.json"))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise ResultsError(f"results root {self.url} ran out of space while storing job {job_id}",
                                   hint="free space there, then run the batch again: the job is retried") from exc
            raise ResultsError(f"results root {self.url}: cannot store job {job_id}: {exc}") from exc
        return self.url_of(RUNS_DIR, job_id)

    def _undo_partial(self, job_id: str) -> None:
        marker = self.path(PENDING_DIR, f"{job_id}.json")
        try:
            with self.fs.open(marker, "rb") as handle:
                paths = json.loads(handle.read())
        except FileNotFoundError:
            return
        for path in paths:
            if self.fs.exists(path):
                self.fs.rm(path)
        self.fs.rm(marker)

    def _write_atomic(self, path: str, data: bytes) -> None:
        """Write then rename, so a reader never sees half a file (on stores without rename, mv copies)."""
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        temporary = f"{parent}/.{uuid.uuid4().hex}.tmp"
        with self.fs.open(temporary, "wb") as handle:
            handle.write(data)
        self.fs.mv(temporary, path)


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
