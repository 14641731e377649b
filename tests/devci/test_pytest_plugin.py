"""The pytest plugin, as a developer's project uses it: pytester runs a small test project against the demo
app (real Frida, real mitmproxy). One test passes (the user agreed: nothing after a refusal), one fails (the
demo's SDKs collect before consent), and the failing test's run is kept with its report, its path printed."""

from __future__ import annotations

import json
import re
from importlib.metadata import entry_points

import jsonschema
import pytest

from .test_sarif_junit import SCHEMA_FILE

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.e2e, pytest.mark.frida, pytest.mark.proxy]

PROJECT = '''
from pathlib import Path


def test_agreed_demo_has_nothing_after_refusal(consent_monitor):
    run = consent_monitor.demo(consent="agree")
    assert not run.findings(rule="after-refusal")
    assert run.cases and run.dir.is_dir()
    assert {"category", "api", "owner", "sdk_id", "consent_state"} <= set(run.reads.columns)
    assert (run.reads.owner == "sdk").any()
    assert "https://ulogs.umeng.com/unify_logs" in set(run.flows.url)


def test_driven_demo_collects_nothing_before_consent(consent_monitor):
    with consent_monitor.demo(consent=None) as run:
        run.mark("privacy dialog shown")
        run.steps({"consent": "agree"})
        run.mark("agreed", screen="main")
    assert not run.findings(rule="before-consent", sdk="umeng")


def test_scenario_driven_demo_shows_the_sdk_ignoring_a_refusal(consent_monitor):
    # A scenario file of the project (the built-in `refuse` waits 30 s after the tap).
    run = consent_monitor.demo(scenario=str(Path(__file__).with_name("quick-refuse.yaml")))
    late = run.findings(rule="after-refusal", sdk="umeng")
    assert late and {finding.consent_state for finding in late} == {"refused"}
'''


QUICK_REFUSE = """name: quick-refuse
consent_timeout: 60
steps:
  - launch
  - consent: refuse
  - wait: 2
"""


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def _plugin_args() -> list[str]:
    # Installed, the entry point loads it; from a bare checkout, name it.
    installed = any(entry.value == "monitor.pytest_plugin" for entry in entry_points(group="pytest11"))
    return [] if installed else ["-p", "monitor.pytest_plugin"]


def test_entry_point_is_declared() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"consentmon": "monitor.pytest_plugin"}


def test_a_passing_and_a_failing_project_test_with_artifacts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app_consent=PROJECT)
    (pytester.path / "quick-refuse.yaml").write_text(QUICK_REFUSE, encoding="utf-8")
    sarif = pytester.path / "out" / "consentmon.sarif"
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "--consentmon-sarif", str(sarif),
                                           "--consentmon-sarif-anchor", "app/src/main/AndroidManifest.xml", timeout=600)
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    # The assertion reads as the developer wrote it, with the findings one line each.
    assert re.search(r"assert not \[\d+ findings: before-consent umeng-analytics device_id TelephonyManager.getDeviceId "
                     r"\(no_notice\)", output), output
    # The failing test's run is kept, analysed, with its report, and the path is in the failure report.
    assert "- consentmon -" in output and "run directory kept:" in output
    kept_root = pytester.path / ".consentmon-artifacts"
    (test_dir,) = [path for path in kept_root.iterdir()]
    assert "test_driven_demo_collects_nothing_before_consent" in test_dir.name
    (run_dir,) = list(test_dir.iterdir())
    assert str(run_dir) in output
    for name in ("events.jsonl", "manifest.json", "findings.json", "report.html"):
        assert (run_dir / name).is_file(), name
    findings = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    assert any(case["rule"] == "before-consent" for case in findings["cases"])
    assert findings["consent"]["final_state"] == "accepted"
    marks = [json.loads(line) for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
             if '"mark"' in line]
    names = [event["payload"].get("mark") for event in marks if event.get("api") == "mark"]
    assert names == ["privacy dialog shown", "agreed"]
    assert any(event.get("category") == "consent" and event["payload"].get("ok") for event in marks)
    # The passing test's run is not kept.
    assert not any("nothing_after_refusal" in path.name for path in kept_root.iterdir())
    # One SARIF file for the session: a run per recorded run, each its own code-scanning category, schema-valid.
    assert f"consentmon: SARIF of 3 run(s) written to {sarif}" in output
    log = json.loads(sarif.read_text(encoding="utf-8"))
    validator = sarif_validator()
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(log)]
    assert not errors, errors[:5]
    categories = [run["automationDetails"]["id"] for run in log["runs"]]
    assert len(set(categories)) == 3 and all(category.startswith("consentmon/com.example.demo/") for category in categories)
    assert all(run["results"] for run in log["runs"])
