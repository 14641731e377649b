"""An analysed run's findings with their cases, for the gate, the baseline and the pytest plugin."""

from __future__ import annotations

from pathlib import Path

from monitor.analysis import analyze_run, write_findings
from monitor.analysis.cases import build_cases
from monitor.analysis.findings import Findings, read_findings
from monitor.data import load_sdks
from monitor.store import FINDINGS_FILE


def run_findings(run_dir: Path, *, analyze_if_missing: bool = True) -> Findings:
    """RUN_DIR/findings.json (analysed now and written when there is none), with its cases filled in when an
    older analysis wrote none."""
    path = Path(run_dir) / FINDINGS_FILE
    if analyze_if_missing and not path.exists():
        findings = analyze_run(Path(run_dir))
        write_findings(findings, path)
        return findings
    findings = read_findings(path)
    if findings.findings and not findings.cases:
        app = findings.run.get("app") if isinstance(findings.run.get("app"), dict) else {}
        findings = findings.model_copy(update={"cases": build_cases(findings.findings, sdks=load_sdks(),
                                                                     app_package=app.get("package"))})
    return findings
