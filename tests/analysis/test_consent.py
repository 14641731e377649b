"""The consent state machine: which signal decides, when, and how much it is trusted."""

from __future__ import annotations

import pytest

from monitor.analysis.consent import consent_history, iso, mark_consent
from monitor.analysis.timeline import build_timeline
from monitor.cli.analyze import TimeArgumentError, parse_time
from monitor.data import load_consent_words
from monitor.data import load_rules
from monitor.store.reader import read_run
from monitor.testing.factories import at, click, dialog, mark, pi_read, prefs, write_run

SETTINGS = load_rules().settings
CONF = SETTINGS.consent_confidence


def _history(tmp_path, events, consent_at=None):
    timeline = build_timeline(read_run(write_run(tmp_path / "run", events)).events)
    result = consent_history(timeline, words=load_consent_words(), settings=SETTINGS, consent_at=consent_at)
    return result, mark_consent(timeline, result)


def _states(result):
    return [(t.ts, t.state, t.via) for t in result.transitions[1:]]


@pytest.mark.parametrize(("events", "final", "decided_by", "confidence"), [
    ([dialog(ts=at(1)), click(ts=at(3), text="同意并继续")], "accepted", "click", CONF.click_in_dialog),
    ([click(ts=at(3), text="同意")], "accepted", "click", CONF.click),
    ([dialog(ts=at(1)), click(ts=at(3), text="不同意")], "refused", "click", CONF.click_in_dialog),
    # width, case and spaces are folded
    ([dialog(ts=at(1)), click(ts=at(3), text=" AGREE ")], "accepted", "click", CONF.click_in_dialog),
    ([mark(ts=at(3), step="tap_agree", category="consent", decision="agree")], "accepted", "scenario", CONF.scenario),
    ([mark(ts=at(3), step="tap_refuse", category="consent", decision="refuse")], "refused", "scenario", CONF.scenario),
    ([prefs(ts=at(3), key="privacy_agreed", value="true")], "accepted", "prefs", CONF.prefs),
])
def test_each_signal_decides_with_its_confidence(tmp_path, events, final, decided_by, confidence):
    result, _ = _history(tmp_path, events)
    assert result.final_state == final
    decision = next(t for t in result.transitions if t.state == final)
    assert decision.ts == at(3)
    assert decision.via == decided_by
    assert decision.confidence == confidence


@pytest.mark.parametrize("events", [
    [click(ts=at(3), text="确定")],                 # generic OK closes every dialog: not consent
    [click(ts=at(3), text="同意书")],               # not the whole text
    [click(ts=at(3), text=None)],                  # an image button
    [prefs(ts=at(3), key="privacy_agreed", value="false")],  # a default written at first start
    [mark(ts=at(3), step="wait", category="step")],
    [dialog(ts=at(1)), dialog(ts=at(2), shown=False)],       # a dialog without a consent button is no notice
])
def test_near_misses_decide_nothing(tmp_path, events):
    result, _ = _history(tmp_path, events)
    assert result.final_state == "no_notice"
    assert result.first_consent is None
    assert any("no consent decision" in warning for warning in result.warnings)


def test_the_dialog_with_the_buttons_is_the_notice_and_showing_it_again_reopens(tmp_path):
    events = [
        dialog(ts=at(1)), click(ts=at(2), text="不同意"), dialog(ts=at(2.1), shown=False),
        dialog(ts=at(10), dialog_class="com.example.demo.RatingDialog"),   # another dialog: no effect
        dialog(ts=at(20)), pi_read(ts=at(21)), click(ts=at(25), text="同意"),
        pi_read(ts=at(5)), pi_read(ts=at(30)),
    ]
    result, timeline = _history(tmp_path, events)
    assert _states(result) == [(at(1), "notice_shown", "dialog"), (at(2), "refused", "click"),
                               (at(20), "notice_shown", "dialog"), (at(25), "accepted", "click")]
    reads = timeline[timeline["kind"] == "pi_read"].set_index("ts")["consent_state"]
    assert reads[at(5)] == "refused"
    assert reads[at(21)] == "notice_shown"
    assert reads[at(30)] == "accepted"


def test_a_change_is_in_force_at_its_own_instant_and_a_read_one_ms_before_is_not_after_it(tmp_path):
    events = [click(ts=at(3), text="同意"), pi_read(ts=at(3)), pi_read(ts=at(2.999))]
    _, timeline = _history(tmp_path, events)
    reads = timeline[timeline["kind"] == "pi_read"].set_index("ts")["consent_state"]
    assert reads[at(3)] == "accepted"
    assert reads[at(2.999)] == "no_notice"


def test_undecided_states_borrow_the_confidence_of_the_decision_that_ended_them(tmp_path):
    result, timeline = _history(tmp_path, [pi_read(ts=at(1)), mark(ts=at(3), step="agree", category="consent", decision="agree")])
    before = timeline[timeline["ts"] == at(1)]["consent_confidence"].iloc[0]
    assert before == CONF.scenario
    result, timeline = _history(tmp_path / "b", [pi_read(ts=at(1))])
    assert timeline[timeline["ts"] == at(1)]["consent_confidence"].iloc[0] == CONF.no_decision


def test_a_later_more_trusted_signal_confirms_without_moving_the_moment(tmp_path):
    result, _ = _history(tmp_path, [click(ts=at(3), text="同意"), mark(ts=at(3.5), step="agree", category="consent", decision="agree")])
    consent = result.first_consent
    assert (consent.ts, consent.via, consent.confidence) == (at(3), "click", CONF.scenario)


def test_manual_consent_replaces_detected_agreement_but_keeps_refusals(tmp_path):
    events = [click(ts=at(3), text="同意"), click(ts=at(40), text="拒绝")]
    result, _ = _history(tmp_path, events, consent_at=at(10))
    assert _states(result) == [(at(10), "accepted", "manual"), (at(40), "refused", "click")]
    assert result.first_consent.confidence == CONF.manual


def test_to_dict_names_the_decision(tmp_path):
    result, _ = _history(tmp_path, [dialog(ts=at(1)), click(ts=at(3), text="同意")])
    data = result.to_dict()
    assert data["final_state"] == "accepted"
    assert data["consent_time"] == "2026-01-01T00:00:03.000000000Z"
    assert data["decided_by"] == "click"
    assert [c["state"] for c in data["changes"]] == ["notice_shown", "accepted"]


@pytest.mark.parametrize(("text", "expected"), [
    ("1767225605000000000", 1767225605000000000),
    ("2026-01-01T00:00:05Z", at(5)),
    ("2026-01-01T08:00:05.250+08:00", at(5.25)),
])
def test_consent_at_accepts_ns_and_zoned_iso(text, expected):
    assert parse_time(text) == expected
    assert iso(expected).startswith("2026-01-01T00:00:05")


@pytest.mark.parametrize("text", ["2026-01-01T00:00:05", "yesterday", "12:00"])
def test_consent_at_refuses_unzoned_or_unreadable_times(text):
    with pytest.raises(TimeArgumentError) as info:
        parse_time(text)
    assert info.value.hint


def test_a_run_without_a_decision_says_so_with_a_code_the_report_translates(tmp_path):
    from monitor.data.messages import messages
    from monitor.testing.factories import judge

    consent = judge(tmp_path / "run", [pi_read(ts=at(1))]).consent
    assert consent["warning_codes"] == ["no_decision"] and "no consent decision was seen" in consent["warnings"][0]
    assert messages("zh")("consent.warning.no_decision").startswith("未观察到用户的同意或拒绝")
