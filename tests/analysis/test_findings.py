"""findings.json: deterministic, evidence-backed, and blind to clock offsets and line order."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import io as mitm_io
from mitmproxy.test import tflow

from monitor.analysis import analyze_run, write_findings
from monitor.analysis.findings import read_findings
from monitor.store import FINDINGS_FILE, MITM_FILE
from monitor.store.manifest import verify_run
from monitor.testing.factories import (UMENG_FRAME, at, click, dialog, flow_event, judge, lifecycle, mark, permission,
                                       pi_read, run_info, write_run)

IMEI = "867530900000001"


def _scenario(offset_s: float = 0.0):
    t = lambda s: at(s + offset_s)  # noqa: E731 - a local shorthand keeps the table readable
    return [
        lifecycle(ts=t(0.1), state="foreground"),
        pi_read(ts=t(1), value=IMEI, stack=[UMENG_FRAME]),
        pi_read(ts=t(1.5), api="android.location.LocationManager.getLastKnownLocation", category="location", value="31.2,121.4"),
        mark(ts=t(1.6), step="launch", screenshot="screens/launch.png"),
        dialog(ts=t(2)),
        click(ts=t(4), text="不同意"),
        pi_read(ts=t(5), value=IMEI),
        permission(ts=t(6), result="denied"),
        permission(ts=t(9)),
        lifecycle(ts=t(20), state="background"),
        pi_read(ts=t(25), api="android.location.LocationManager.getLastKnownLocation", category="location", value="31.2,121.4"),
        mark(ts=t(26), step="home", screenshot="screens/home.png"),
    ]


def _verdicts(findings):
    """What a finding says, without seq numbers (assigned by write order) or absolute times."""
    out = []
    for f in findings.findings:
        out.append((f.id, f.rule, f.severity, f.category, f.api, f.host, f.sdk.id, f.sdk.owner, f.count, f.process,
                    f.background, f.consent_state, f.confidence, f.last_seen_ns - f.first_seen_ns,
                    f.evidence.screenshot, len(f.evidence.event_seqs), tuple(f.evidence.flow_ids)))
    return sorted(out)


def test_two_analyses_of_one_run_are_byte_identical(tmp_path):
    root = write_run(tmp_path / "run", _scenario())
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_findings(analyze_run(root), first)
    write_findings(analyze_run(root), second)
    assert first.read_bytes() == second.read_bytes()
    data = json.loads(first.read_text(encoding="utf-8"))
    assert data["schema"] == 1
    assert set(data) == {"schema", "run", "consent", "findings", "summary", "cases"}
    assert data["run"]["app"]["package"] == "com.example.demo"
    assert "不同意" in first.read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    assert read_findings(first).findings == analyze_run(root).findings


def test_findings_file_in_the_run_does_not_break_its_seal(tmp_path):
    root = write_run(tmp_path / "run", _scenario())
    write_findings(analyze_run(root), root / FINDINGS_FILE)
    assert verify_run(root) == []


def test_summary_counts_what_was_found(tmp_path):
    findings = analyze_run(write_run(tmp_path / "run", _scenario()))
    assert findings.summary["total"] == len(findings.findings)
    for rule, count in findings.summary["by_rule"].items():
        assert count == sum(1 for f in findings.findings if f.rule == rule)
    assert {"before-consent", "after-refusal", "background", "permission-rerequest"} <= {
        rule for rule, count in findings.summary["by_rule"].items() if count}


def test_nearest_screenshot_is_attached(tmp_path):
    findings = analyze_run(write_run(tmp_path / "run", _scenario()))
    background = next(f for f in findings.findings if f.rule == "background")
    before = next(f for f in findings.findings if f.rule == "before-consent")
    assert background.evidence.screenshot == "screens/home.png"
    assert before.evidence.screenshot == "screens/launch.png"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3)))
def test_shifting_every_time_changes_no_verdict(tmp_path_factory, offset):
    base = judge(tmp_path_factory.mktemp("base") / "run", _scenario())
    shifted = judge(tmp_path_factory.mktemp("shift") / "run", _scenario(offset),
                    info=run_info(started_ns=at(offset)))
    assert _verdicts(shifted) == _verdicts(base)
    shift_ns = at(offset) - at(0)
    assert [f.first_seen_ns - shift_ns for f in sorted(shifted.findings, key=lambda f: f.id)] == \
           [f.first_seen_ns for f in sorted(base.findings, key=lambda f: f.id)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(_scenario()))))
def test_reordering_lines_changes_nothing_but_seq_numbers(tmp_path_factory, order):
    events = _scenario()
    base = judge(tmp_path_factory.mktemp("base") / "run", events)
    shuffled = judge(tmp_path_factory.mktemp("shuf") / "run", [events[i] for i in order])
    assert _verdicts(shuffled) == _verdicts(base)
    assert [f.id for f in shuffled.findings] == [f.id for f in base.findings]


event_kinds = st.sampled_from(["read", "sdk_read", "agree", "refuse", "dialog", "pause", "resume", "home", "perm_denied", "perm_ask"])


def _make(kind: str, seconds: float):
    ts = at(seconds)
    return {
        "read": lambda: pi_read(ts=ts), "sdk_read": lambda: pi_read(ts=ts, stack=[UMENG_FRAME]),
        "agree": lambda: click(ts=ts, text="同意"), "refuse": lambda: click(ts=ts, text="拒绝"),
        "dialog": lambda: dialog(ts=ts), "pause": lambda: lifecycle(ts=ts, state="background"),
        "resume": lambda: lifecycle(ts=ts, state="foreground"), "home": lambda: mark(ts=ts, step="home"),
        "perm_denied": lambda: permission(ts=ts, result="denied"), "perm_ask": lambda: permission(ts=ts),
    }[kind]()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(event_kinds, st.integers(min_value=0, max_value=600_000)), min_size=1, max_size=25))
def test_no_finding_without_evidence(tmp_path_factory, steps):
    events = [_make(kind, ms / 1000) for kind, ms in steps]
    findings = judge(tmp_path_factory.mktemp("run") / "run", events)
    for finding in findings.findings:
        assert finding.evidence.event_seqs or finding.evidence.flow_ids
        assert finding.count >= 1 and finding.first_seen_ns <= finding.last_seen_ns
        assert finding.articles


def test_end_to_end_with_real_flows_and_real_matching(tmp_path):
    """A real flows.mitm written by mitmproxy's own writer, matched by the real matcher, judged by the rules."""
    flow = tflow.tflow(resp=True)
    flow.request.host = "alog.umeng.com"
    flow.request.path = f"/app_logs?imei={IMEI}"
    events = [pi_read(ts=at(1), value=IMEI, stack=[UMENG_FRAME]),
              flow_event(ts=at(2), flow_id=flow.id, host="alog.umeng.com", path=flow.request.path),
              dialog(ts=at(3)), click(ts=at(4), text="同意")]
    root = tmp_path / "run"
    root.mkdir()
    with open(root / MITM_FILE, "wb") as handle:
        mitm_io.FlowWriter(handle).add(flow)
    write_run(root, events)
    findings = analyze_run(root)
    transfer = [f for f in findings.findings if f.rule == "third-party-transfer"]
    assert len(transfer) == 1
    assert transfer[0].host == "alog.umeng.com" and transfer[0].evidence.flow_ids == [flow.id]
    assert transfer[0].evidence.matches[0].event_seq == 0
    assert transfer[0].consent_state == "no_notice"
