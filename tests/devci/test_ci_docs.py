"""The CI workflow and the tutorial say only what exists: the workflow is valid against the GitHub workflow
schema (vendored by check-jsonschema), uses the emulator runner and the SARIF upload, and every consentmon
command and plugin option it or the tutorial names is real; the example test module calls only the
fixture's API. The workflow itself cannot run here (no emulator, no KVM, no network)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import yaml

from monitor.pytest_plugin import ConsentMonitor, MonitoredRun

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "docs" / "ci" / "consentmon.yml"
EXAMPLE = ROOT / "docs" / "ci" / "test_privacy.py"
TUTORIAL = ROOT / "docs" / "developer-tutorial.md"


def test_workflow_is_valid_against_the_github_workflow_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_boots_an_emulator_runs_the_plugin_and_uploads_sarif() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["privacy"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(use.startswith("reactivecircus/android-emulator-runner@") for use in uses)
    upload = next(step for step in steps if step.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert workflow["permissions"]["security-events"] == "write"
    emulator = next(step for step in steps if step.get("uses", "").startswith("reactivecircus/"))
    script = emulator["with"]["script"]
    assert "python -m pytest" in script and f"--consentmon-sarif {upload['with']['sarif_file']}" in script


def _plugin_options() -> set[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    return set(re.findall(r"--consentmon-[\w-]+", result.stdout))


def test_every_plugin_option_and_command_named_in_the_docs_exists() -> None:
    options = _plugin_options()
    assert "--consentmon-serial" in options and "--consentmon-app" in options
    texts = WORKFLOW.read_text(encoding="utf-8") + TUTORIAL.read_text(encoding="utf-8")
    named = set(re.findall(r"--consentmon-[\w-]+", texts))
    assert named and named <= options, named - options
    # Commands at the start of a shell line or in inline code: `consentmon diff …`.
    commands = set(re.findall(r"(?m)^\s*consentmon ((?:device )?[a-z]+)", texts))
    commands |= set(re.findall(r"`consentmon ((?:device )?[a-z]+)", texts))
    assert {"run", "analyze", "baseline", "doctor", "diff"} <= commands, commands
    for command in sorted(commands):
        result = subprocess.run([sys.executable, "-m", "monitor", *command.split(), "--help"], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, f"consentmon {command}: {result.stderr}"


def test_example_test_module_uses_only_the_fixture_api() -> None:
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    fixture_calls = {node.func.attr for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                     and isinstance(node.func.value, ast.Name) and node.func.value.id == "consent_monitor"}
    run_uses = {node.attr for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "run"}
    assert fixture_calls and all(hasattr(ConsentMonitor, name) for name in fixture_calls), fixture_calls
    assert run_uses and all(hasattr(MonitoredRun, name) for name in run_uses), run_uses
    tests = [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    assert len(tests) >= 2
