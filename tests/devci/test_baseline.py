"""The baseline: `consentmon baseline RUN_DIR` writes the run's cases; `--baseline` then fails only new ones,
widened ones and expired ones; a malformed file is one clear error naming file:line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from monitor.analysis.cases import case_id
from monitor.devci import case_key, evaluate, load_baseline, parse_fail_on
from monitor.devci.runs import run_findings
from monitor.errors import DataFileError

from .conftest import consentmon, umeng_before_consent

RULES = ["before-consent", "after-refusal", "background"]


def test_written_baseline_accepts_the_run_it_came_from(umeng_run: Path, tmp_path: Path) -> None:
    written = consentmon("baseline", str(umeng_run), "--reason", "SDK init moves behind the dialog (APP-17)",
                         "--expires", "2099-12-31", "--lang", "en")
    assert written.returncode == 0, written.stderr
    text = written.stdout
    assert text.startswith("# consentmon baseline") and "Umeng" in text and 'subject: "sdk:umeng"' in text
    path = tmp_path / "consentmon-baseline.yaml"
    path.write_text(text, encoding="utf-8")
    baseline = load_baseline(path)
    (entry,) = baseline.accepted
    assert entry.key == ("before-consent", "sdk:umeng") and entry.categories == ["device_id", "wifi"]
    assert entry.expires == date(2099, 12, 31) and entry.case == case_id(*entry.key)
    result = consentmon("analyze", str(umeng_run), "--fail-on", "any", "--baseline", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 accepted by the baseline" in result.stdout


def test_case_key_is_the_pair_the_case_id_hashes(umeng_run: Path) -> None:
    for case in run_findings(umeng_run).cases:
        assert case_id(*case_key(case)) == case.id


def test_expired_entry_fails_again_and_says_since_when(umeng_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("version: 1\naccepted:\n  - rule: before-consent\n    subject: sdk:umeng\n"
                    "    categories: [device_id, wifi]\n    reason: accepted for the 3.1 release\n    expires: 2026-01-31\n")
    cases = run_findings(umeng_run).cases
    baseline = load_baseline(path)
    gate = parse_fail_on("before-consent", RULES)
    assert not evaluate(cases, gate, baseline, today=date(2026, 1, 31)).failing        # still valid on its last day
    late = evaluate(cases, gate, baseline, today=date(2026, 2, 1))
    (verdict,) = late.failing
    assert verdict.status == "expired" and "until 2026-01-31" in verdict.explain() and late.exit_code == 1
    result = consentmon("analyze", str(umeng_run), "--fail-on", "before-consent", "--baseline", str(path))
    assert result.returncode == 1 and "expired" in result.stdout


def test_new_case_and_stale_entry(tmp_path: Path) -> None:
    run = umeng_before_consent(tmp_path / "run")
    path = tmp_path / "b.yaml"
    path.write_text("version: 1\naccepted:\n  - rule: after-refusal\n    subject: app\n    reason: fixed in 3.0\n")
    result = evaluate(run_findings(run).cases, None, load_baseline(path))
    assert [verdict.status for verdict in result.failing] == ["new"]
    assert [entry.key for entry in result.stale] == [("after-refusal", "app")]
    shown = consentmon("analyze", str(run), "--baseline", str(path))
    assert shown.returncode == 1 and "no case for after-refusal × app" in shown.stdout


def test_update_keeps_reasons_and_fail_on_narrows_what_is_written(tmp_path: Path) -> None:
    run = umeng_before_consent(tmp_path / "run", with_location=True)
    old = tmp_path / "old.yaml"
    old.write_text("version: 1\naccepted:\n  - rule: before-consent\n    subject: sdk:umeng\n    categories: [device_id]\n"
                   "    reason: kept reason\n    expires: 2030-01-01\n")
    written = consentmon("baseline", str(run), "--update", str(old), "--fail-on", "before-consent")
    assert written.returncode == 0, written.stderr
    new = tmp_path / "new.yaml"
    new.write_text(written.stdout)
    (entry,) = load_baseline(new).accepted
    assert entry.reason == "kept reason" and entry.expires == date(2030, 1, 1)
    assert entry.categories == ["device_id", "location", "wifi"]
    nothing = consentmon("baseline", str(run), "--fail-on", "after-refusal", "--reason", "x")
    assert nothing.returncode == 0 and "accepted: []" in nothing.stdout


@pytest.mark.parametrize(("text", "line", "words"), [
    ("version: 1\naccepted:\n  - rule: before-consent\n    subject: sdk:umeng\n    reason: ok\n    expires: 2026-02-30\n",
     6, "expires"),
    ("version: 1\naccepted:\n  - rule: before-consent\n    subject: sdk:umeng\n", 3, "reason"),
    ("version: 1\naccepted:\n  - rule: before-consent\n    subject: sdk:umeng\n    reason: \"TODO: say why\"\n", 5, "placeholder"),
    ("version: 1\naccepted:\n  - rule: before-consent\n    subject: umeng\n    reason: ok\n", 4, "subject"),
    ("version: 1\naccepted:\n  - rule: before-consent\n    subject: app\n    reason: ok\n    expiry: 2027-01-01\n", 6, "expiry"),
    ("version: 2\naccepted: []\n", 1, "version"),
    ("version: 1\naccepted:\n  - rule: before-consent\n    subject: app\n    reason: a\n"
     "  - rule: before-consent\n    subject: app\n    reason: b\n", 6, "already accepted at line 3"),
    ("version: 1\naccepted:\n  - rule: before-consent\n   subject: app\n", 4, "not valid YAML"),
])
def test_malformed_baseline_names_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "consentmon-baseline.yaml"
    path.write_text(text)
    with pytest.raises(DataFileError) as caught:
        load_baseline(path)
    message = caught.value.message
    assert f"{path}:{line}" in message and words in message, message
    assert len(message.splitlines()) == 1
