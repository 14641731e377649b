"""One clock for every source, and where each process was (foreground or background) at every moment.

Pure DataFrame → DataFrame steps: each copies its input and documents the columns it adds.
All times are host epoch ns (`ts`), as the run directory stores them after clock calibration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FOREVER = np.iinfo(np.int64).max
NO_PROCESS = ""

INTERVAL_COLUMNS = ["process", "start", "end", "cause", "seq"]


def build_timeline(events: pd.DataFrame) -> pd.DataFrame:
    """Every event on one clock, in time order.

    Adds:
      process_key (str)  — `process`, else `pid` as text, else "" (events with no process, e.g. scenario marks)
      is_pi (bool)       — a hook reported a PI read
    Rows are ordered by (ts, seq): seq only breaks ties between events of the same instant.
    """
    ts = events["ts"].to_numpy(dtype=np.int64)
    seq = events["seq"].to_numpy(dtype=np.int64)
    order = np.lexsort((seq, ts))  # stable: equal (ts, seq) keep their order
    # A capture is nearly in time order already; a run in order is not reordered at all (pandas copies on
    # write, so sharing the input's columns cannot change it).
    if bool((order == np.arange(len(order))).all()):
        timeline = events.copy(deep=False).reset_index(drop=True)
    else:
        timeline = events.take(order).reset_index(drop=True)
    process = timeline["process"].to_numpy(dtype=object, copy=True)
    no_process = pd.isna(process)
    if no_process.any():
        pids = timeline["pid"].to_numpy(dtype=object)[no_process]
        process[no_process] = [NO_PROCESS if pid is None or pid != pid else str(int(pid)) for pid in pids]
    timeline["process_key"] = pd.Series(process, index=timeline.index, copy=False).astype(str)
    # Few distinct values in millions of rows: as categories, every `kind == ...` filter is an integer compare.
    for name in ("source", "kind"):
        # What astype("category") gives (categories sorted), from one hash pass instead of its inference.
        codes, categories = pd.factorize(timeline[name].to_numpy(dtype=object), sort=True)
        timeline[name] = pd.Categorical.from_codes(codes, categories=categories)
    timeline["is_pi"] = (timeline["source"] == "hook") & (timeline["kind"] == "pi_read")
    return timeline


def background_intervals(timeline: pd.DataFrame, *, grace_ns: int, home_steps: list[str]) -> pd.DataFrame:
    """Per process, the spans during which it was in the background.

    A process goes to the background at an Activity.onPause (lifecycle category "background") that no
    onResume of the same process follows within `grace_ns` — a pause quickly followed by a resume is the
    app moving between its own screens. A scenario mark whose step is one of `home_steps` sends every
    process that has shown an activity to the background at the mark. The span ends at the next resume.

    Returns columns: process, start (ns), end (ns, FOREVER while still in background), cause
    ("pause" | "home"), seq (of the event that started it).
    """
    lifecycle = timeline[(timeline["kind"] == "lifecycle") & timeline["category"].isin(["foreground", "background"])]
    rows: list[tuple[str, int, int, str, int]] = []
    homes = timeline[(timeline["source"] == "scenario") & (timeline["kind"] == "mark")
                     & timeline["api"].isin(home_steps)][["ts", "seq"]].to_numpy()
    groups = list(lifecycle.groupby("process_key", sort=True))
    if not groups and len(homes):
        # No activity was ever seen (hooks missed them): the home press alone decides, for the whole app.
        groups = [(NO_PROCESS, lifecycle)]
    for process, group in groups:
        times = group["ts"].to_numpy(dtype=np.int64)
        seqs = group["seq"].to_numpy(dtype=np.int64)
        is_resume = (group["category"] == "foreground").to_numpy()
        resumes = times[is_resume]
        starts: list[tuple[int, str, int]] = []
        for ts, seq in zip(times[~is_resume], seqs[~is_resume]):
            nxt = np.searchsorted(resumes, ts, side="left")
            if nxt < len(resumes) and resumes[nxt] - ts <= grace_ns:
                continue
            starts.append((int(ts), "pause", int(seq)))
        starts.extend((int(ts), "home", int(seq)) for ts, seq in homes)
        starts.sort()
        open_until = -1
        for ts, cause, seq in starts:
            if ts < open_until:
                continue  # already in the background (a home press after the pause it caused)
            nxt = np.searchsorted(resumes, ts, side="right")
            end = int(resumes[nxt]) if nxt < len(resumes) else FOREVER
            if end <= ts:
                continue
            rows.append((str(process), ts, end, cause, seq))
            open_until = end
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS).astype({"start": "int64", "end": "int64", "seq": "int64"})


def app_background_intervals(intervals: pd.DataFrame) -> pd.DataFrame:
    """The spans during which every process that has shown an activity was in the background at once: the
    state of processes that never show one (a `:push` service process follows the app as a whole)."""
    processes = intervals["process"].unique()
    if len(processes) == 0:
        return pd.DataFrame(columns=INTERVAL_COLUMNS).astype({"start": "int64", "end": "int64", "seq": "int64"})
    edges: list[tuple[int, int]] = []
    for start, end in intervals[["start", "end"]].itertuples(index=False):
        edges.append((int(start), 1))
        edges.append((int(end), -1))
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    rows: list[tuple[str, int, int, str, int]] = []
    depth, opened = 0, 0
    for ts, step in edges:
        depth += step
        if step == 1 and depth == len(processes):
            opened = ts
        elif step == -1 and depth == len(processes) - 1 and ts > opened:
            rows.append((NO_PROCESS, opened, ts, "app", -1))
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS).astype({"start": "int64", "end": "int64", "seq": "int64"})


def _inside(ts: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each time falls in one of the sorted, disjoint [start, end) spans."""
    if len(starts) == 0:
        return np.zeros(len(ts), dtype=bool)
    index = np.searchsorted(starts, ts, side="right") - 1
    valid = index >= 0
    result = np.zeros(len(ts), dtype=bool)
    result[valid] = ts[valid] < ends[index[valid]]
    return result


def mark_background(timeline: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """Adds:
      background (bool) — the event's process was in the background at `ts` (a process with no lifecycle
                          events of its own follows the app as a whole: background when all processes that
                          showed an activity were).
    """
    marked = timeline.copy(deep=False)  # new columns only: the input's columns are shared, never written
    background = np.zeros(len(marked), dtype=bool)
    ts = marked["ts"].to_numpy(dtype=np.int64)
    keys = marked["process_key"].to_numpy()
    own_processes = set(intervals["process"].unique()) | set(
        marked.loc[marked["kind"] == "lifecycle", "process_key"].unique())
    for process, spans in intervals.groupby("process", sort=True):
        rows = keys == process
        spans = spans.sort_values("start")
        background[rows] = _inside(ts[rows], spans["start"].to_numpy(), spans["end"].to_numpy())
    app_spans = app_background_intervals(intervals).sort_values("start")
    others = ~np.isin(keys, list(own_processes))
    background[others] = _inside(ts[others], app_spans["start"].to_numpy(), app_spans["end"].to_numpy())
    marked["background"] = background
    return marked
