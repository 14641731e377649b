"""SARIF 2.1.0 and JUnit XML from `analyze --format sarif,junit`: validated against the published SARIF schema
and the common JUnit schema (Jenkins' junit-10.xsd, as pytest validates its own), both vendored in
tests/devci/data from PyPI packages, and read back by junitparser; one result / test case per rule × subject."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from junitparser import Failure, JUnitXml, Skipped

from monitor.analysis.findings import read_findings

from .conftest import DATA, consentmon, umeng_before_consent

SCHEMA_FILE = DATA / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
JUNIT_XSD = DATA / "junit-10.xsd"
JUNIT_XSD_SHA256 = "a1a816f58d1bf95ebabf371994df0b9246dee66ea9572fbec4f9296f1b2c0ff6"
assert hashlib.sha256(JUNIT_XSD.read_bytes()).hexdigest() == JUNIT_XSD_SHA256, "the vendored JUnit schema changed"
JUNIT_SCHEMA = xmlschema.XMLSchema(str(JUNIT_XSD))


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256, "the vendored schema changed"
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json") and "2.1.0" in schema["title"]
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def _valid(validator: jsonschema.Draft4Validator, log: dict) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def _junit_structure(path: Path) -> ET.Element:
    """Valid against junit-10.xsd, and what the schema cannot say: counts that add up, a name and a classname
    on every test case, at most one failure/error/skipped each."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.findall("testsuite"):
        assert suite.get("name")
        cases = suite.findall("testcase")
        counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            assert case.get("name") and case.get("classname")
            float(case.get("time", "0"))
            outcome = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            assert len(outcome) <= 1
            for tag in outcome:
                counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[tag]] += 1
        for name, value in counts.items():
            assert int(suite.get(name, "0")) == value, (suite.get("name"), name)
            totals[name] += value
    for name in ("tests", "failures", "errors"):
        assert int(root.get(name, "0")) == totals[name], name
    JUNIT_SCHEMA.validate(str(path))
    return root


def test_demo_run_with_fail_on_exits_1_and_leaves_findings(demo_run):
    result = demo_run.result
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gate failed" in result.stdout and "before-consent" in result.stdout
    assert (demo_run.dir / "findings.json").exists()


def test_sarif_and_junit_of_the_demo_run(demo_run, sarif_validator, tmp_path):
    out = tmp_path / "ci"
    result = consentmon("analyze", str(demo_run.dir), "--format", "sarif,junit", "--output-dir", str(out), "--lang", "en",
                        "--sarif-anchor", "app/src/main/AndroidManifest.xml")
    assert result.returncode == 0, result.stdout + result.stderr
    findings = read_findings(demo_run.dir / "findings.json")
    log = json.loads((out / "consentmon.sarif").read_text(encoding="utf-8"))
    _valid(sarif_validator, log)
    run = log["runs"][0]
    results = run["results"]
    assert len(results) == len(findings.cases) > 0
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    by_case = {item["partialFingerprints"]["consentmonCase/v1"]: item for item in results}
    assert set(by_case) == {case.id for case in findings.cases}
    for case in findings.cases:
        item = by_case[case.id]
        assert item["ruleId"] == case.rule and rule_ids[item["ruleIndex"]] == case.rule
        assert item["level"] == {"high": "error", "medium": "warning"}.get(case.severity, "note")
        assert item["message"]["text"] == case.sentence["en"]
        primary = item["locations"][0]
        assert primary["physicalLocation"]["artifactLocation"] == {"uri": "app/src/main/AndroidManifest.xml", "uriBaseId": "%SRCROOT%"}
        assert primary["logicalLocations"][-1]["kind"] == "module"
    umeng = next(item for item in results if item["ruleId"] == "before-consent" and item["properties"]["subject"] == "sdk:umeng")
    frame = umeng["locations"][0]["logicalLocations"][0]
    assert frame["kind"] == "function" and frame["fullyQualifiedName"].startswith("com.umeng.")
    urls = [location["physicalLocation"]["artifactLocation"]["uri"] for location in umeng["locations"][1:]]
    assert "https://ulogs.umeng.com/unify_logs" in urls and all("?" not in url for url in urls)

    root = _junit_structure(out / "consentmon-junit.xml")
    xml = JUnitXml.fromfile(str(out / "consentmon-junit.xml"))
    names = [(suite.name, case.name) for suite in xml for case in suite]
    assert len(names) == len(set(names))
    failing = [(suite.name, case.name) for suite in xml for case in suite if any(isinstance(r, Failure) for r in case.result)]
    assert len(failing) == len(findings.cases)   # without a gate every case fails
    assert ("consentmon.before-consent", "sdk:umeng (The Umeng+ common SDK)") in failing
    assert int(root.get("failures")) == len(findings.cases)


def test_sarif_without_anchor_points_at_the_flow_and_stays_valid(tmp_path, sarif_validator):
    run = umeng_before_consent(tmp_path / "run")
    result = consentmon("analyze", str(run), "--format", "sarif", "--lang", "zh")
    assert result.returncode == 0, result.stderr
    log = json.loads((run / "consentmon.sarif").read_text(encoding="utf-8"))
    _valid(sarif_validator, log)
    (item,) = log["runs"][0]["results"]
    assert "physicalLocation" not in item["locations"][0]    # no flow in this run, no anchor given
    assert "同意" in item["message"]["text"] and "suppressions" not in item


def test_the_gate_and_baseline_shape_both_formats(tmp_path, sarif_validator):
    run = umeng_before_consent(tmp_path / "run", with_location=True)
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("version: 1\naccepted:\n  - rule: before-consent\n    subject: sdk:umeng\n"
                        "    categories: [device_id, wifi, location]\n    reason: moved behind the dialog in 3.2 (APP-17)\n")
    result = consentmon("analyze", str(run), "--fail-on", "high", "--baseline", str(baseline), "--format", "sarif,junit")
    assert result.returncode == 0, result.stdout + result.stderr
    log = json.loads((run / "consentmon.sarif").read_text(encoding="utf-8"))
    _valid(sarif_validator, log)
    (item,) = log["runs"][0]["results"]
    assert item["baselineState"] == "unchanged"
    assert item["suppressions"] == [{"kind": "external", "status": "accepted", "justification": "moved behind the dialog in 3.2 (APP-17)"}]
    _junit_structure(run / "consentmon-junit.xml")
    xml = JUnitXml.fromfile(str(run / "consentmon-junit.xml"))
    (case,) = [case for suite in xml for case in suite if suite.name == "consentmon.before-consent"]
    assert isinstance(case.result[0], Skipped) and "APP-17" in case.result[0].message

    # The entry no longer lists location: the case widened, and fails again in both formats.
    baseline.write_text(baseline.read_text().replace(", location]", "]"))
    result = consentmon("analyze", str(run), "--fail-on", "high", "--baseline", str(baseline), "--format", "sarif,junit")
    assert result.returncode == 1 and "location" in result.stdout
    (item,) = json.loads((run / "consentmon.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    assert item["baselineState"] == "updated" and "suppressions" not in item and item["properties"]["failing"] is True
    xml = JUnitXml.fromfile(str(run / "consentmon-junit.xml"))
    (case,) = [case for suite in xml for case in suite if suite.name == "consentmon.before-consent"]
    assert isinstance(case.result[0], Failure)
