"""`consentmon report --format sarif,junit` writes the developer-CI formats beside the others, from the same
analysed run; they are never redacted copies (they go to CI, not to a regulator)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from monitor.report.build import write_reports
from monitor.report.output import ReportError
from monitor.store.manifest import verify_run


def test_sarif_and_junit_beside_the_report(analysed_run, tmp_path):
    written, _ = write_reports(analysed_run, formats=["sarif", "junit"], lang="zh", out=tmp_path)
    assert [path.name for path in written] == ["report.sarif", "report.junit.xml"]
    sarif = json.loads((tmp_path / "report.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    suites = ET.parse(tmp_path / "report.junit.xml").getroot()
    assert suites.iter("testcase") and any(case.find("failure") is not None for case in suites.iter("testcase"))


def test_ci_formats_are_not_offered_redacted(analysed_run, tmp_path):
    with pytest.raises(ReportError, match="SARIF and JUnit"):
        write_reports(analysed_run, formats=["html", "sarif"], redact=True, out=tmp_path)


def test_ci_formats_written_into_the_run_are_not_evidence(tmp_path, analysed_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(analysed_run, run)
    before = verify_run(run)
    write_reports(run, formats=["sarif", "junit"])
    for name in ("consentmon.sarif", "consentmon-junit.xml"):
        (run / name).write_text("written by analyze --format")
    assert verify_run(run) == before
