"""--fail-on parsing and selection, and the pytest plugin's result API over a recorded run (no Frida: a run
written with monitor.testing's factories, opened with consent_monitor.open)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from monitor.devci import FailOn, parse_fail_on
from monitor.devci.exitcodes import ExitCode, GateUsageError
from monitor.pytest_plugin import ConsentMonitor, ConsentmonRunError

RULES = ["before-consent", "after-refusal", "background"]


@pytest.mark.parametrize(("words", "expected"), [
    ("before-consent", FailOn(rules=frozenset({"before-consent"}))),
    (["before-consent, after-refusal", "background"], FailOn(rules=frozenset(RULES))),
    ("high", FailOn(severity="high")),
    ("high,low", FailOn(severity="low")),                 # the lowest severity named wins
    ("any", FailOn(every=True)),
    ("medium,after-refusal", FailOn(rules=frozenset({"after-refusal"}), severity="medium")),
])
def test_fail_on_words(words: str | list[str], expected: FailOn) -> None:
    assert parse_fail_on(words, RULES) == expected


@pytest.mark.parametrize("words", ["before-consnet", "", " , ", "critical"])
def test_unknown_fail_on_words_are_a_usage_error_listing_the_known_ones(words: str) -> None:
    with pytest.raises(GateUsageError) as caught:
        parse_fail_on(words, RULES)
    assert caught.value.exit_code == ExitCode.USAGE and "before-consent" in (caught.value.hint or "")


@pytest.fixture
def opened(umeng_run: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    monitor = ConsentMonitor(tmp_path / "runs", nodeid="t::x", serial=None, app=None, apk=None)
    return monitor.open(umeng_run)


def test_findings_filter_by_rule_sdk_family_and_category(opened) -> None:  # type: ignore[no-untyped-def]
    before = opened.findings(rule="before-consent")
    assert len(before) == 2
    assert opened.findings(rule="before-consent", sdk="umeng") == before            # the family covers its modules
    assert opened.findings(sdk="umeng-analytics") == before
    assert not opened.findings(rule="before-consent", sdk="app")                   # the app's read came after 同意
    assert [f.category for f in opened.findings(category="wifi")] == ["wifi"]
    assert not opened.findings(rule="after-refusal")
    assert repr(opened.findings(rule="after-refusal")) == "[]"
    assert repr(before).startswith("[2 findings: before-consent umeng-analytics device_id TelephonyManager.getDeviceId (no_notice)")
    assert "Umeng" in repr(opened.cases)


def test_reads_and_flows_are_dataframes_on_the_analysis_clock(opened) -> None:  # type: ignore[no-untyped-def]
    reads, flows = opened.reads, opened.flows
    assert isinstance(reads, pd.DataFrame) and isinstance(flows, pd.DataFrame)
    assert list(reads.category) == ["device_id", "wifi", "device_id"]
    assert list(reads.sdk_id) == ["umeng-analytics", "umeng-analytics", None]
    assert list(reads.consent_state) == ["no_notice", "no_notice", "accepted"]
    assert str(reads.time.dt.tz) == "UTC"
    assert flows.empty and {"url", "consent_state", "pi"} <= set(flows.columns)


def test_gate_in_a_test_and_no_live_actions_on_an_ended_run(opened, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert [v.case.rule for v in opened.gate("high").failing] == ["before-consent"]
    assert not opened.gate("after-refusal").failing
    baseline = tmp_path / "b.yaml"
    baseline.write_text("version: 1\naccepted:\n  - rule: before-consent\n    subject: sdk:umeng\n"
                        "    categories: [device_id, wifi]\n    reason: APP-17\n")
    assert not opened.gate("any", baseline=baseline).failing
    with pytest.raises(ConsentmonRunError, match="has not started|has ended"):
        opened.mark("too late")


def test_device_runs_need_the_app(tmp_path: Path) -> None:
    monitor = ConsentMonitor(tmp_path, nodeid="t::x", serial=None, app=None, apk=None)
    with pytest.raises(pytest.UsageError, match="--consentmon-app"):
        monitor.device(scenario="first-launch-idle")
