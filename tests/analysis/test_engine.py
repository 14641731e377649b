"""The rule engine and its data: one registry, rules as schema-checked YAML, clear errors on bad files."""

from __future__ import annotations

import pytest

from monitor.analysis.engine import REGISTRY, RuleEngineError, RuleRegistry
from monitor.data import RULES_FILE, load_attribution, load_rules
from monitor.data.yamlfile import load_model
from monitor.data.rule_models import RuleSet
from monitor.errors import DataFileError
from monitor.testing.factories import at, judge, pi_read

REQUIRED = {"before-consent", "after-refusal", "beyond-scope", "over-frequency", "background", "third-party-transfer",
            "permission-rerequest", "associated-start"}


def test_bundled_rules_are_valid_and_complete():
    rules = load_rules()
    assert REQUIRED <= {rule.id for rule in rules.rules}
    REGISTRY.validate(rules, RULES_FILE)
    for rule in rules.rules:
        assert rule.cites and all(cite.source for cite in rule.cites)


def test_unverified_citations_never_read_as_quotations():
    for rule in load_rules().rules:
        for cite in rule.cites:
            if not cite.verified:
                assert cite.wording.startswith("per common testing practice")
                assert "「" not in cite.wording
            elif cite.quote:
                assert cite.wording == f"「{cite.text}」"


def test_attribution_table_is_valid():
    table = load_attribution()
    assert "android." in table.framework_prefixes and "java." in table.framework_prefixes


def test_registry_refuses_a_second_check_of_the_same_name():
    registry = RuleRegistry()
    registry.check("twice")(lambda context, thresholds: [])
    with pytest.raises(RuleEngineError) as info:
        registry.check("twice")(lambda context, thresholds: [])
    assert "twice" in str(info.value) and info.value.hint


def _edited_rules(tmp_path, old, new):
    text = RULES_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_duplicate_rule_ids_are_refused(tmp_path):
    path = _edited_rules(tmp_path, "  - id: after-refusal\n", "  - id: before-consent\n")
    with pytest.raises(DataFileError) as info:
        load_model(path, RuleSet)
    assert "duplicate rule ids" in str(info.value)


def test_a_rule_naming_an_unknown_check_is_refused_with_its_line(tmp_path):
    path = _edited_rules(tmp_path, "  - id: background\n", "  - id: background\n    check: backgroud\n")
    with pytest.raises(DataFileError) as info:
        judge(tmp_path / "run", [pi_read(ts=at(1))], rules=path)
    message = str(info.value)
    assert f"{path}:" in message and "backgroud" in message and "known:" in message


def test_a_misspelt_threshold_is_refused(tmp_path):
    path = _edited_rules(tmp_path, "      window_s: 30\n", "      windows_s: 30\n")
    with pytest.raises(DataFileError) as info:
        judge(tmp_path / "run", [pi_read(ts=at(1))], rules=path)
    assert "windows_s" in str(info.value)


def test_a_bad_severity_names_file_and_line(tmp_path):
    path = _edited_rules(tmp_path, "    severity: high\n", "    severity: critical\n")
    with pytest.raises(DataFileError) as info:
        load_model(path, RuleSet)
    assert f"{path}:" in str(info.value) and "severity" in str(info.value)


def test_a_disabled_rule_does_not_run_and_says_so(tmp_path):
    path = _edited_rules(tmp_path, "  - id: before-consent\n", "  - id: before-consent\n    enabled: false\n")
    findings = judge(tmp_path / "run", [pi_read(ts=at(1))], rules=path)
    assert not [f for f in findings.findings if f.rule == "before-consent"]
    assert findings.summary["skipped"]["before-consent"] == "disabled in the rules file"


def test_a_user_rule_can_reuse_a_check_with_its_own_thresholds(tmp_path):
    extra = """
  - id: location-every-minute
    check: over_frequency
    title: {zh: 位置频繁读取, en: Location read every minute}
    severity: low
    description: stricter in-house threshold for location
    thresholds: {window_s: 120, max_reads: 1}
    source: in-house testing policy 2026
    cites:
      - regulation: 工信部信管函〔2020〕164号
        article: 一.2
        text: frequency beyond need
        verified: false
        source: in-house
"""
    path = tmp_path / "rules.yaml"
    path.write_text(RULES_FILE.read_text(encoding="utf-8") + extra, encoding="utf-8")
    events = [pi_read(ts=at(1)), pi_read(ts=at(61))]
    found = [f for f in judge(tmp_path / "run", events, rules=path).findings if f.rule == "location-every-minute"]
    assert len(found) == 1 and found[0].severity == "low"
