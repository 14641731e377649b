"""`consentmon diff RUN_A RUN_B`: which cases a new version (or a fix) removed, added or left.

Cases are compared by id — a short hash of rule and subject (monitor.analysis.cases.case_id) — so "the Umeng
SDK collects PI before consent" is the same case in both runs whatever its counts, times or values. A case
present in both is unchanged; its PI types and destinations are shown for both, and `changed` says whether
they differ, so a partial fix is seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor.analysis.cases import build_cases
from monitor.analysis.findings import Findings, read_findings
from monitor.data import load_sdks
from monitor.store import FINDINGS_FILE


def _findings(path: Path) -> Findings:
    path = Path(path)
    findings = read_findings(path / FINDINGS_FILE if path.is_dir() else path)
    if findings.findings and not findings.cases:
        app = findings.run.get("app") if isinstance(findings.run.get("app"), dict) else {}
        findings = findings.model_copy(update={"cases": build_cases(findings.findings, sdks=load_sdks(),
                                                                     app_package=app.get("package"))})
    return findings


def _row(case: Any) -> dict[str, Any]:
    return {"id": case.id, "rule": case.rule, "severity": case.severity, "subject": dict(case.subject.name),
            "subject_id": case.subject.id, "sentence": dict(case.sentence), "pi": [pi.category for pi in case.pi],
            "destinations": list(case.destinations), "count": case.count}


def diff_runs(run_a: Path, run_b: Path) -> dict[str, Any]:
    before = {case.id: case for case in _findings(run_a).cases}
    after = {case.id: case for case in _findings(run_b).cases}
    unchanged = []
    for case_id in sorted(set(before) & set(after)):
        row = _row(after[case_id])
        row["before"] = {"pi": [pi.category for pi in before[case_id].pi], "destinations": list(before[case_id].destinations),
                         "count": before[case_id].count}
        # Still a case, but not the same one: PI types or destinations added or removed (a partial fix).
        row["changed"] = (sorted(row["pi"]) != sorted(row["before"]["pi"])
                          or sorted(row["destinations"]) != sorted(row["before"]["destinations"]))
        unchanged.append(row)
    return {"a": str(run_a), "b": str(run_b),
            "new": [_row(after[case_id]) for case_id in after if case_id not in before],
            "fixed": [_row(before[case_id]) for case_id in before if case_id not in after],
            "unchanged": unchanged}
