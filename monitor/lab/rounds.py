"""Rounds: the same plan run again into the same results root after the developers' fixes (复测), and what
changed between two rounds, app by app.

Round 1 is the results root itself (every root made without `--round` is round 1 of itself); round N ≥ 2 is
a results root of its own at `rounds/N/` inside it, with its own runs, dataset, outcomes and state. A round
therefore never writes into another: earlier rounds stay as they were, each round resumes on its own, and
`consentmon query --round N` reads one round.

The comparison pairs the two rounds' done runs by app (the run's package, else the job's name: a fixed APK
gives a new job id, not a new app) and compares each pair with `consentmon diff`'s own logic
(monitor.report.diff.diff_runs: cases by rule × subject). With repeats, the i-th run of an app in one round is
compared with its i-th in the other (the shorter list wraps round), and a case counts as present in a round
when any of its runs there has it: fixed (before only), still present (both), new (after only).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError
from monitor.lab.results import RUNS_DIR, ResultsRoot
from monitor.store import FINDINGS_FILE

ROUNDS_DIR = "rounds"
COMPARISON_FILE = "comparison.json"


def round_url(results_url: str, number: int | None) -> str:
    """The results root of a round: the root itself for round 1 (or none given), else ROOT/rounds/N."""
    if number is None or number == 1:
        return results_url
    if number < 1:
        raise MonitorError(f"round {number}: rounds are numbered from 1", hint="--round 2 is the first re-test")
    return f"{results_url.rstrip('/')}/{ROUNDS_DIR}/{number}"


def round_state(explicit: Path | None, number: int | None) -> Path | None:
    """An explicit --state file is round 1's; round N keeps its state beside it (batch.round-N.sqlite)."""
    if explicit is None or number is None or number == 1:
        return explicit
    return explicit.with_name(f"{explicit.stem}.round-{number}{explicit.suffix}")


def earlier_round(results_url: str, number: int) -> int | None:
    """The latest round before `number` that has results."""
    for earlier in range(number - 1, 0, -1):
        if _done_runs(ResultsRoot(round_url(results_url, earlier))):
            return earlier
    return None


def _done_runs(results: ResultsRoot) -> dict[str, list[tuple[str, str]]]:
    """app → [(job name, job id)] of the round's done jobs, in name order (repeat k pairs with repeat k)."""
    apps: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for job_id, outcome in results.outcomes().items():
        if outcome.get("status") == "done":
            apps[outcome.get("app") or outcome.get("name") or job_id].append((outcome.get("name") or job_id, job_id))
    return {app: sorted(jobs) for app, jobs in apps.items()}


def _findings_file(results: ResultsRoot, job_id: str, scratch: Path) -> Path:
    """The job's findings.json as a local file (copied from a non-local root)."""
    source = results.path(RUNS_DIR, job_id, FINDINGS_FILE)
    if results.local_path is not None:
        return Path(source)
    target = Path(tempfile.mkdtemp(dir=scratch)) / FINDINGS_FILE   # the same job id may be in both rounds
    results.fs.get(source, str(target))
    return target


def _compare_app(before: ResultsRoot, after: ResultsRoot, before_jobs: list[str], after_jobs: list[str],
                 scratch: Path) -> dict[str, Any]:
    from monitor.report.diff import diff_runs   # `consentmon diff`'s own comparison of two runs

    had: dict[str, dict[str, Any]] = {}    # case id → its row, for cases some run of the earlier round has
    has: dict[str, dict[str, Any]] = {}    # … of the later round
    changed: set[str] = set()
    for index in range(max(len(before_jobs), len(after_jobs))):
        diff = diff_runs(_findings_file(before, before_jobs[index % len(before_jobs)], scratch),
                         _findings_file(after, after_jobs[index % len(after_jobs)], scratch))
        for row in diff["fixed"]:
            had.setdefault(row["id"], row)
        for row in diff["new"]:
            has.setdefault(row["id"], row)
        for row in diff["unchanged"]:
            had.setdefault(row["id"], row)
            has.setdefault(row["id"], row)
            if row["changed"]:
                changed.add(row["id"])
    still = [{**has[case_id], "changed": case_id in changed} for case_id in has if case_id in had]
    return {"before_jobs": before_jobs, "after_jobs": after_jobs,
            "fixed": [had[case_id] for case_id in had if case_id not in has],
            "still": still,
            "new": [has[case_id] for case_id in has if case_id not in had]}


def compare_rounds(results_url: str, before: int, after: int) -> dict[str, Any]:
    """Per app: the cases the later round fixed, still has, and has new, against the earlier round.
    An app with done runs in only one of the two is listed with `only_in`, not compared."""
    roots = {number: ResultsRoot(round_url(results_url, number)) for number in (before, after)}
    runs = {number: _done_runs(root) for number, root in roots.items()}
    apps: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="consentmon-rounds-") as scratch:
        for app in sorted(set(runs[before]) | set(runs[after])):
            if app not in runs[before] or app not in runs[after]:
                only = before if app in runs[before] else after
                apps[app] = {"only_in": only, "jobs": [job_id for _, job_id in runs[only][app]]}
                continue
            apps[app] = _compare_app(roots[before], roots[after], [job_id for _, job_id in runs[before][app]],
                                     [job_id for _, job_id in runs[after][app]], Path(scratch))
    return {"results": results_url, "before": before, "after": after, "apps": apps}


def write_comparison(results_url: str, comparison: dict[str, Any]) -> str:
    """Keep the comparison in the later round's root (rounds/N/comparison.json); returns where."""
    root = ResultsRoot(round_url(results_url, comparison["after"]))
    path = root.path(COMPARISON_FILE)
    root.write_json(path, comparison)
    return root.url_of(COMPARISON_FILE)
