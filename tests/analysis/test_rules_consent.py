"""before-consent, after-refusal and third-party-transfer: runs where each must fire, and near misses."""

from __future__ import annotations

import pytest

from monitor.testing.factories import (UMENG_FRAME, at, click, dialog, flow_event, judge, mark, match_row, pi_read,
                                       run_info)

AGREE_AT_5 = [dialog(ts=at(4)), click(ts=at(5), text="同意")]
REFUSE_AT_5 = [dialog(ts=at(4)), click(ts=at(5), text="不同意")]
# Settings.Secure.getString of another key: the catalogue's condition keeps the agent from reporting it,
# so the run holds no PI event at all — a hook event of another kind stands in for the call that happened.
OTHER_SETTING = {"source": "hook", "kind": "hook_status", "ts": at(1), "api": "android.provider.Settings$Secure.getString",
                 "args": ["resolver", "screen_brightness"]}


def _rules(findings, rule):
    return [f for f in findings.findings if f.rule == rule]


@pytest.mark.parametrize(("events", "fires"), [
    ([pi_read(ts=at(1)), *AGREE_AT_5], True),
    ([*AGREE_AT_5, pi_read(ts=at(4.999))], True),          # 1 ms before consent
    ([pi_read(ts=at(1))], True),                           # no consent ever: CISPA-style idle run
    ([*AGREE_AT_5, pi_read(ts=at(5.001))], False),         # 1 ms after consent
    ([*AGREE_AT_5, pi_read(ts=at(5))], False),             # the very instant of consent
    ([OTHER_SETTING, *AGREE_AT_5], False),                 # not a PI read
    ([*REFUSE_AT_5, pi_read(ts=at(6))], False),            # after refusal is the other rule
])
def test_before_consent(tmp_path, events, fires):
    found = _rules(judge(tmp_path / "run", events), "before-consent")
    assert bool(found) is fires
    if fires:
        assert found[0].category == "device_id" and found[0].consent_state in ("no_notice", "notice_shown")
        assert found[0].evidence.event_seqs


def test_before_consent_groups_reads_and_names_the_sdk(tmp_path):
    events = [pi_read(ts=at(1), stack=[UMENG_FRAME]), pi_read(ts=at(2), stack=[UMENG_FRAME]), pi_read(ts=at(3)), *AGREE_AT_5]
    found = _rules(judge(tmp_path / "run", events), "before-consent")
    by_owner = {f.sdk.owner: f for f in found}
    assert set(by_owner) == {"sdk", "app"}
    umeng = by_owner["sdk"]
    assert (umeng.count, umeng.first_seen_ns, umeng.last_seen_ns) == (2, at(1), at(2))
    assert "umeng" in umeng.sdk.id and "Umeng" in umeng.sdk.name
    assert by_owner["app"].sdk.name == "app itself"
    assert umeng.confidence == 0.9   # consent by a click in a dialog


@pytest.mark.parametrize(("events", "fires"), [
    ([*REFUSE_AT_5, pi_read(ts=at(6))], True),
    ([*REFUSE_AT_5, pi_read(ts=at(5.001))], True),
    ([*REFUSE_AT_5, pi_read(ts=at(4.999))], False),                        # before the refusal: before consent
    ([*REFUSE_AT_5, click(ts=at(8), text="同意"), pi_read(ts=at(9))], False),  # agreed later
    ([*AGREE_AT_5, pi_read(ts=at(6))], False),
])
def test_after_refusal(tmp_path, events, fires):
    found = _rules(judge(tmp_path / "run", events), "after-refusal")
    assert bool(found) is fires
    if fires:
        assert found[0].consent_state == "refused"


def _flow_run(read_ts: float, flow_ts: float, host: str, decision_events):
    read = pi_read(ts=at(read_ts), stack=[UMENG_FRAME])
    flow = flow_event(ts=at(flow_ts), flow_id="f1", host=host, path="/u?imei=867530900000001")
    return [read, *decision_events, flow]


@pytest.mark.parametrize(("read_ts", "flow_ts", "host", "decision", "transfer", "before"), [
    (1, 2, "alog.umeng.com", AGREE_AT_5, True, True),       # third party before consent
    (1, 2, "api.example.com", AGREE_AT_5, False, True),     # first party (run.json domain) before consent
    (6, 7, "alog.umeng.com", AGREE_AT_5, False, False),     # third party after consent: allowed
    (6, 7, "alog.umeng.com", REFUSE_AT_5, True, False),     # third party after refusal
])
def test_flows_carrying_pi(tmp_path, read_ts, flow_ts, host, decision, transfer, before):
    events = _flow_run(read_ts, flow_ts, host, decision)
    findings = judge(tmp_path / "run", events, matches=[match_row(flow_id="f1", event_seq=0)])
    transfers = _rules(findings, "third-party-transfer")
    flows_before = [f for f in _rules(findings, "before-consent") if f.host]
    assert bool(transfers) is transfer
    assert bool(flows_before) is before
    for finding in transfers + flows_before:
        assert finding.host == host and finding.api is None
        assert finding.evidence.flow_ids == ["f1"]
        assert finding.evidence.matches[0].field == "query:imei"
        assert finding.evidence.matches[0].encoding == "plain"
        assert finding.evidence.matches[0].event_seq == 0
    if transfer:
        assert transfers[0].evidence.detail["party"] == "third"


def test_pattern_only_matches_are_not_proof_of_a_read(tmp_path):
    events = _flow_run(1, 2, "alog.umeng.com", AGREE_AT_5)
    findings = judge(tmp_path / "run", events, matches=[match_row(flow_id="f1", event_seq=None, confidence="pattern", detector="imei")])
    assert not _rules(findings, "third-party-transfer")


def test_the_apps_own_domains_come_from_run_json(tmp_path):
    events = _flow_run(1, 2, "collect.shop-cdn.net", AGREE_AT_5)
    matches = [match_row(flow_id="f1", event_seq=0)]
    as_third = judge(tmp_path / "a", events, matches=matches)
    as_first = judge(tmp_path / "b", events, matches=matches, info=run_info(domains=["example.com", "shop-cdn.net"]))
    assert _rules(as_third, "third-party-transfer")
    assert not _rules(as_first, "third-party-transfer")


def test_scenario_consent_mark_decides_when_no_click_was_hooked(tmp_path):
    events = [pi_read(ts=at(1)), mark(ts=at(5), step="agree", category="consent", decision="agree"), pi_read(ts=at(6))]
    findings = judge(tmp_path / "run", events)
    found = _rules(findings, "before-consent")
    assert [f.last_seen_ns for f in found] == [at(1)]
    assert found[0].confidence == 0.8
    assert findings.consent["decided_by"] == "scenario"


@pytest.mark.parametrize(("decision", "sent_at", "before", "after_refusal"), [
    (AGREE_AT_5, 3, True, False),     # the message went out before the user agreed
    (AGREE_AT_5, 7, False, False),    # opened before consent, but the PI was sent after the user agreed
    (REFUSE_AT_5, 7, False, True),    # opened before the decision, sent after the user refused
])
def test_a_websocket_message_is_judged_at_its_own_moment_not_the_handshake(tmp_path, decision, sent_at, before,
                                                                          after_refusal):
    events = [pi_read(ts=at(1), stack=[UMENG_FRAME]), flow_event(ts=at(2), flow_id="ws1", host="push.umeng.com",
                                                                 path="/ws"), *decision]
    match = match_row(flow_id="ws1", event_seq=0, field="ws:3:client.json:imei", part_ts=at(sent_at))
    findings = judge(tmp_path / "run", events, matches=[match])
    flows_before = [f for f in _rules(findings, "before-consent") if f.host]
    flows_refused = [f for f in _rules(findings, "after-refusal") if f.host]
    assert bool(flows_before) is before and bool(flows_refused) is after_refusal
    for finding in flows_before + flows_refused:
        assert finding.evidence.matches[0].field == "ws:3:client.json:imei"
