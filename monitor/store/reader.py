"""Reads a run directory for analysis. Never talks to a device; refuses a broken run with a message
that names the file and line and says what to do."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.errors import RunDirError
from monitor.events import EVENT_FIELDS, Event
from monitor.store import EVENTS_FILE, FLOWS_FILE, MANIFEST_FILE, RUN_FILE


@dataclass
class Run:
    root: Path
    info: dict[str, Any]
    events: pd.DataFrame
    flows: list[dict[str, Any]] = field(default_factory=list)
    sealed: bool = True


def _first_bad_line(path: Path) -> str:
    """Find the first line of a JSONL file that is not a valid Event, for the error message."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                return f"{path}:{number}: empty line"
            try:
                Event.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValueError) as exc:
                first = str(exc).splitlines()[0]
                return f"{path}:{number}: {first}"
    return f"{path}: unreadable"


def read_events(path: Path) -> pd.DataFrame:
    """events.jsonl → DataFrame with exactly the Event columns, sorted by seq."""
    if not path.exists():
        raise RunDirError(f"{path} is missing", hint="point at a run directory written by `consentmon run`")
    if path.stat().st_size == 0:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in EVENT_FIELDS})
    try:
        frame = pd.read_json(path, lines=True, dtype=False, convert_dates=False)
    except ValueError as exc:
        raise RunDirError(f"cannot read events: {_first_bad_line(path)}",
                          hint="the file was edited or truncated; re-capture, or restore it from the sealed copy") from exc
    missing = [name for name in ("source", "kind", "ts", "seq") if name not in frame.columns]
    unknown = [name for name in frame.columns if name not in EVENT_FIELDS]
    if missing or unknown:
        raise RunDirError(f"{path}: columns do not match the event schema (missing {missing}, unknown {unknown}): {_first_bad_line(path)}")
    for name in EVENT_FIELDS:
        if name not in frame.columns:
            frame[name] = None
    frame = frame[list(EVENT_FIELDS)]
    frame = frame.astype(object).where(frame.notna(), None)
    for name in ("ts", "seq"):
        frame[name] = frame[name].astype("int64")
    return frame.sort_values("seq", kind="stable").reset_index(drop=True)


def read_flows(path: Path) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    if not path.exists():
        return flows
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                flows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise RunDirError(f"{path}:{number}: not JSON ({exc.msg})", hint="the file was truncated or edited; re-capture") from exc
    return flows


def read_run(root: Path | str) -> Run:
    root = Path(root)
    if not root.is_dir():
        raise RunDirError(f"{root} is not a directory", hint="pass the directory `consentmon run --out` wrote")
    run_path = root / RUN_FILE
    if not run_path.exists():
        raise RunDirError(f"{run_path} is missing: {root} is not a consentmon run directory",
                          hint="pass the directory `consentmon run --out` wrote")
    try:
        info = json.loads(run_path.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{run_path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    events = read_events(root / EVENTS_FILE)
    flows = read_flows(root / FLOWS_FILE)
    return Run(root=root, info=info, events=events, flows=flows, sealed=(root / MANIFEST_FILE).exists())
