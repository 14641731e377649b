"""background, over-frequency, beyond-scope, permission-rerequest, associated-start, sdk-connects-before-consent:
fire and near misses."""

from __future__ import annotations

import pytest

from monitor.analysis.attribution import Attributor
from monitor.analysis.engine import AppTypeScope
from monitor.data import load_sdks
from monitor.data import load_attribution
from monitor.errors import DataFileError
from monitor.testing.factories import (APP, APP_FRAME, UMENG_FRAME, app_start, at, click, connect, dialog, flow_event,
                                       judge, lifecycle, mark, match_row, permission, pi_read)

AGREE_AT_0 = [dialog(ts=at(0)), click(ts=at(0.5), text="同意")]
LOCATION = "android.location.LocationManager.getLastKnownLocation"


def _rules(findings, rule):
    return [f for f in findings.findings if f.rule == rule]


# ---- background --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sent_at", "back_at", "fires"), [(15, None, True), (9, None, False), (10.2, 10.5, False)])
def test_pi_sent_while_the_app_is_in_the_background(tmp_path, sent_at, back_at, fires):
    """The IMEI is read in the foreground; the SDK uploads it after the app went to the background (at 10 s,
    grace 1 s): the upload is background collection, citing the read it carried. Sent before, or within the
    grace of a screen switch: nothing."""
    events = [*AGREE_AT_0, lifecycle(ts=at(1), state="foreground"), pi_read(ts=at(2), stack=[UMENG_FRAME]),
              lifecycle(ts=at(10), state="background"),
              *([lifecycle(ts=at(back_at), state="foreground")] if back_at else []),
              flow_event(ts=at(sent_at), flow_id="f1", host="ulogs.umeng.com", path="/u")]
    findings = judge(tmp_path / "run", events, matches=[match_row(flow_id="f1", event_seq=3)])  # seq 3: the read
    background = _rules(findings, "background")
    assert not [f for f in background if f.api]  # the read itself was in the foreground
    sent = [f for f in background if f.host]
    assert bool(sent) is fires
    if fires:
        assert sent[0].host == "ulogs.umeng.com" and sent[0].category == "device_id" and sent[0].background
        assert sent[0].evidence.event_seqs == [3] and sent[0].evidence.flow_ids == ["f1"]


@pytest.mark.parametrize(("events", "fires"), [
    ([lifecycle(ts=at(1), state="foreground"), lifecycle(ts=at(10), state="background"), pi_read(ts=at(15))], True),
    ([lifecycle(ts=at(1), state="foreground"), mark(ts=at(10), step="home"), pi_read(ts=at(15))], True),
    ([lifecycle(ts=at(1), state="foreground"), lifecycle(ts=at(10), state="background"),
      lifecycle(ts=at(10.5), state="foreground"), pi_read(ts=at(10.2))], False),   # screen switch inside grace
    ([lifecycle(ts=at(1), state="foreground"), lifecycle(ts=at(10), state="background"), pi_read(ts=at(9.999))], False),
    ([lifecycle(ts=at(1), state="foreground"), lifecycle(ts=at(10), state="background"),
      lifecycle(ts=at(20), state="foreground"), pi_read(ts=at(21))], False),
])
def test_background(tmp_path, events, fires):
    found = _rules(judge(tmp_path / "run", [*AGREE_AT_0, *events]), "background")
    assert bool(found) is fires
    if fires:
        assert found[0].background is True and found[0].process == APP


# ---- over-frequency ----------------------------------------------------------------------------------

def _reads(times, **kw):
    return [pi_read(ts=at(t), api=LOCATION, category="location", **kw) for t in times]


@pytest.mark.parametrize(("times", "fires"), [
    ([1, 20], True),             # twice within 30 s: more than once per window
    ([1, 31], False),            # exactly once per window
    ([1, 31, 61], False),        # periodic at exactly the window: reads a window apart are in different windows
    ([1, 30.999], True),
    ([1], False),
])
def test_over_frequency_in_foreground(tmp_path, times, fires):
    found = _rules(judge(tmp_path / "run", [*AGREE_AT_0, *_reads(times)]), "over-frequency")
    assert bool(found) is fires
    if fires:
        assert found[0].count == len(times)
        assert found[0].evidence.detail["most_in_window"] == 2


def test_over_frequency_is_stricter_in_background(tmp_path):
    to_background = [lifecycle(ts=at(0.8), state="foreground"), lifecycle(ts=at(1), state="background")]
    # 45 s apart: fine in the foreground (30 s window), too often in the background (60 s window)
    fore = judge(tmp_path / "a", [*AGREE_AT_0, *_reads([2, 47])])
    back = judge(tmp_path / "b", [*AGREE_AT_0, *to_background, *_reads([2, 47])])
    assert not _rules(fore, "over-frequency")
    found = _rules(back, "over-frequency")
    assert len(found) == 1 and found[0].background and found[0].evidence.detail["mode"] == "background"


def test_over_frequency_counts_each_reader_separately(tmp_path):
    # the app and an SDK each read once: nobody read twice
    events = [*AGREE_AT_0, *_reads([1]), *_reads([2], stack=[UMENG_FRAME])]
    assert not _rules(judge(tmp_path / "run", events), "over-frequency")


def test_over_frequency_thresholds_come_from_the_rules_file(tmp_path):
    rules = tmp_path / "rules.yaml"
    from monitor.data import RULES_FILE
    rules.write_text(RULES_FILE.read_text(encoding="utf-8").replace("      max_reads: 1\n", "      max_reads: 3\n"), encoding="utf-8")
    events = [*AGREE_AT_0, *_reads([1, 2, 3])]
    assert _rules(judge(tmp_path / "a", events), "over-frequency")
    assert not _rules(judge(tmp_path / "b", events, rules=rules), "over-frequency")


# ---- beyond-scope ------------------------------------------------------------------------------------

def _umeng_id() -> str:
    """The id the bundled SDK table gives UMENG_FRAME's reader (the table is data and grows)."""
    return Attributor(sdks=load_sdks(), table=load_attribution(), app_package=APP).attribute([UMENG_FRAME]).sdk_id


def _scope(tmp_path, text):
    path = tmp_path / "scope.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_beyond_scope_without_scope_or_app_type_is_skipped_with_the_reason(tmp_path):
    findings = judge(tmp_path / "run", [*AGREE_AT_0, pi_read(ts=at(1))])
    assert "--scope" in findings.summary["skipped"]["beyond-scope"]


@pytest.mark.parametrize(("scope", "category", "stack", "fires"), [
    ("app: [location]\n", "device_id", None, True),
    ("app: [device_id]\n", "device_id", None, False),
    ("app: [device_id]\n", "device_id", [UMENG_FRAME], True),              # the SDK is not named in the policy
    ("app: []\nsdks:\n  {umeng}: [device_id]\n", "device_id", [UMENG_FRAME], False),
    ("app: []\nsdks:\n  {umeng}: [location]\n", "device_id", [UMENG_FRAME], True),
])
def test_beyond_scope_with_a_scope_file(tmp_path, scope, category, stack, fires):
    path = _scope(tmp_path, scope.replace("{umeng}", _umeng_id()))
    events = [*AGREE_AT_0, pi_read(ts=at(1), category=category, stack=stack)]
    found = _rules(judge(tmp_path / "run", events, scope=path), "beyond-scope")
    assert bool(found) is fires
    if fires:
        assert found[0].category == category and found[0].severity == "medium"


def test_beyond_scope_by_app_type_is_lower_severity(tmp_path):
    maps = AppTypeScope(id="map-navigation", name="地图导航 / Map navigation", necessary=frozenset({"location"}))
    events = [*AGREE_AT_0, pi_read(ts=at(1), api=LOCATION, category="location"), pi_read(ts=at(2))]
    found = _rules(judge(tmp_path / "run", events, app_type=maps), "beyond-scope")
    assert [(f.category, f.severity) for f in found] == [("device_id", "low")]
    assert found[0].evidence.detail["necessary_for_app_type"] is False


@pytest.mark.parametrize("app_type, beyond", [
    ("地图导航", {"device_id"}),                 # maps need location, never a device ID
    ("map_navigation", {"device_id"}),          # the same type by its id
    ("新闻资讯", {"device_id", "location"}),      # one of the 13 types that need no PI at all
])
def test_beyond_scope_by_the_regulations_own_app_types(tmp_path, app_type, beyond):
    events = [*AGREE_AT_0, pi_read(ts=at(1), api=LOCATION, category="location"), pi_read(ts=at(2))]
    found = _rules(judge(tmp_path / "run", events, app_type=app_type), "beyond-scope")
    assert {f.category for f in found} == beyond


def test_a_misspelt_category_in_the_scope_file_is_refused_with_its_line(tmp_path):
    path = _scope(tmp_path, "app:\n  - location\n  - devcie_id\n")
    with pytest.raises(DataFileError) as info:
        judge(tmp_path / "run", [pi_read(ts=at(1))], scope=path)
    assert f"{path}:3" in str(info.value) and "devcie_id" in str(info.value)


# ---- permission-rerequest ----------------------------------------------------------------------------

PHONE = "android.permission.READ_PHONE_STATE"
HOUR = 3600


@pytest.mark.parametrize(("events", "fires"), [
    ([permission(ts=at(1)), permission(ts=at(2), result="denied"), permission(ts=at(60))], True),
    # a result without a hooked request still proves it was asked again
    ([permission(ts=at(2), result="denied"), permission(ts=at(60), result="denied")], True),
    ([permission(ts=at(2), result="granted"), permission(ts=at(60))], False),        # never refused
    ([permission(ts=at(1)), permission(ts=at(2), result="denied")], False),          # asked once
    ([permission(ts=at(2), result="denied"), permission(ts=at(60), permission="android.permission.CAMERA")], False),
    ([permission(ts=at(2), result="denied"), permission(ts=at(2 + 48 * HOUR))], False),   # exactly 48 h later
    ([permission(ts=at(2), result="denied"), permission(ts=at(2 + 48 * HOUR - 1))], True),
    # checking whether a permission is held asks the system, not the user: not a re-request
    ([permission(ts=at(2), result="denied"), permission(ts=at(30), result="denied", check=True),
      permission(ts=at(31), result="denied", check=True)], False),
])
def test_permission_rerequest(tmp_path, events, fires):
    found = _rules(judge(tmp_path / "run", [*AGREE_AT_0, *events]), "permission-rerequest")
    assert bool(found) is fires
    if fires:
        assert found[0].evidence.detail["permission"] == PHONE
        assert len(found[0].evidence.event_seqs) == 2


# ---- associated-start --------------------------------------------------------------------------------

ALARM = "android.app.AlarmManager.setRepeating"


@pytest.mark.parametrize(("events", "fires"), [
    ([app_start(ts=at(1), target_package="com.other.app")], True),                       # before consent
    ([*AGREE_AT_0, app_start(ts=at(1), target_package="com.other.app")], True),          # after consent too
    ([app_start(ts=at(0.1), target_package=APP, api=ALARM)], True),                       # own alarm before consent
    ([*AGREE_AT_0, app_start(ts=at(1), target_package=APP, api=ALARM)], False),          # own alarm after consent
    ([app_start(ts=at(0.1), target_package=APP)], False),                                 # own service
    ([app_start(ts=at(0.1), target_package=None, component=f"{APP}/.PushService")], False),
    ([app_start(ts=at(0.1), target_package=None, component="com.other.app/.Wake")], True),
])
def test_associated_start(tmp_path, events, fires):
    found = _rules(judge(tmp_path / "run", events), "associated-start")
    assert bool(found) is fires


# ---- sdk-connects-before-consent ---------------------------------------------------------------------

PROXY_INFO = {"proxy": {"listen": "127.0.0.1:38633"}}


@pytest.mark.parametrize(("events", "destinations"), [
    ([connect(ts=at(0.1), host="push.getui.com", port=5224)], ["push.getui.com:5224"]),           # its own socket
    ([connect(ts=at(0.1), url="https://ulogs.umeng.com/unify_logs", api="java.net.URL.openConnection")],
     ["ulogs.umeng.com"]),                                                                         # an HTTP request
    ([connect(ts=at(0.1), host="2001:db8::7", port=443)], ["[2001:db8::7]:443"]),
    ([connect(ts=at(0.1), host="127.0.0.1", port=38633)], []),      # the hop to the capture proxy
    ([connect(ts=at(0.1), host="::1", port=9000)], []),             # loopback IPC
    ([connect(ts=at(0.1), host="push.example.com", stack=[APP_FRAME])], []),   # the app's own code, not an SDK's
    ([*AGREE_AT_0, connect(ts=at(1), host="push.getui.com", port=5224)], []),  # after consent
])
def test_sdk_connects_before_consent(tmp_path, events, destinations):
    found = _rules(judge(tmp_path / "run", events, info=PROXY_INFO), "sdk-connects-before-consent")
    assert sorted(f.host for f in found) == destinations
    assert all(f.sdk.id == "umeng-analytics" and f.consent_state == "no_notice" for f in found)



def test_a_lab_proxy_on_the_network_is_not_a_destination(tmp_path):
    # A phone set to use a proxy on the lab's network (Wi-Fi proxy settings) connects to it for every request.
    events = [connect(ts=at(0.1), host="192.168.1.10", port=8080), connect(ts=at(0.2), host="192.168.1.10", port=5224)]
    found = _rules(judge(tmp_path / "run", events, info={"proxy": {"listen": "192.168.1.10:8080"}}), "sdk-connects-before-consent")
    assert [f.host for f in found] == ["192.168.1.10:5224"]
