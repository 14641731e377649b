"""Cases: findings grouped as a notice states them (rule × subject), one subject per SDK family."""

from __future__ import annotations

from monitor.analysis.cases import build_cases
from monitor.data import load_sdks
from monitor.data.messages import messages
from monitor.testing.factories import APP_FRAME, UMENG_FRAME, at, click, dialog, flow_event, judge, match_row, pi_read

BSSID_FRAME = "com.umeng.analytics.pro.WifiCollector.collect(WifiCollector.java:9)"


def _umeng_run(tmp_path):
    events = [
        pi_read(ts=at(1), value="867530900000001", stack=[UMENG_FRAME]),
        pi_read(ts=at(1.1), api="android.provider.Settings$Secure.getString", value="5f2c8e1a9b3d47e6",
                args=["null", "android_id"], stack=[UMENG_FRAME]),
        pi_read(ts=at(1.2), api="android.net.wifi.WifiInfo.getBSSID", category="wifi", value="ac:bc:32:9f:21:07",
                stack=[BSSID_FRAME]),
        pi_read(ts=at(1.3), api="android.provider.Settings$Secure.getString", value="5f2c8e1a9b3d47e6",
                args=["null", "android_id"], stack=[APP_FRAME]),
        flow_event(ts=at(2), flow_id="f1", host="ulogs.umeng.com", path="/unify_logs"),
        dialog(ts=at(3)),
        click(ts=at(4), text="同意"),
    ]
    # seqs: the writer numbers events from 0 in the order given
    matches = [match_row(flow_id="f1", event_seq=0, value="867530900000001", field="body", encoding="md5"),
               match_row(flow_id="f1", event_seq=2, category="wifi", value="ac:bc:32:9f:21:07", field="body", encoding="base64")]
    return judge(tmp_path / "run", events, matches=matches)


def test_one_case_per_rule_and_sdk_family_across_reads_and_flows(tmp_path):
    findings = _umeng_run(tmp_path)
    before = [case for case in findings.cases if case.rule == "before-consent"]
    subjects = {case.subject.id or case.subject.kind: case for case in before}
    assert set(subjects) == {"umeng", "app"}
    umeng = subjects["umeng"]
    # the reads were attributed to the analytics module, the upload to the umbrella's domain: one subject
    read_sdks = {f.sdk.id for f in findings.findings if f.id in umeng.finding_ids}
    assert {"umeng-analytics", "umeng"} <= read_sdks
    assert [pi.category for pi in umeng.pi] == ["device_id", "wifi"]
    assert umeng.destinations == ["ulogs.umeng.com"]
    assert len(umeng.reads) == 3 and len(umeng.flows) == 2
    assert umeng.sentence["zh"] == ("友盟+基础组件 SDK 在用户同意隐私政策前收集设备标识符（IMEI、Android ID）、WLAN 信息（BSSID），"
                                    "并传输至 ulogs.umeng.com。")
    assert "IMEI, Android ID" in umeng.sentence["en"] and umeng.sentence["en"].endswith("ulogs.umeng.com.")


def test_every_finding_is_in_exactly_one_case_and_case_ids_are_stable(tmp_path):
    findings = _umeng_run(tmp_path)
    covered = [finding_id for case in findings.cases for finding_id in case.finding_ids]
    assert sorted(covered) == sorted(f.id for f in findings.findings)
    again = build_cases(list(reversed(findings.findings)), sdks=load_sdks(), app_package="com.example.demo")
    assert [case.model_dump() for case in again] == [case.model_dump() for case in findings.cases]


def test_findings_json_carries_the_cases(tmp_path):
    findings = _umeng_run(tmp_path)
    data = findings.model_dump(mode="json", by_alias=True)
    assert data["cases"] and all(case["sentence"]["zh"] and case["sentence"]["en"] for case in data["cases"])


def test_unknown_rule_falls_back_to_its_title(tmp_path):
    findings = _umeng_run(tmp_path)
    finding = findings.findings[0].model_copy(update={"rule": "declared-vs-observed", "title": {"zh": "声明不一致", "en": "Declared differs"}})
    (case,) = build_cases([finding], sdks=load_sdks(), app_package="com.example.demo", catalogue=messages())
    assert "声明不一致" in case.sentence["zh"] and "Declared differs" in case.sentence["en"]


def test_a_finding_about_the_subject_as_a_whole_says_what_it_did(tmp_path):
    findings = _umeng_run(tmp_path)
    base = next(f for f in findings.findings if f.sdk.id == "umeng-analytics")
    evidence = base.evidence.model_copy(update={"detail": {"categories": ["network_request"], "apis": ["java.net.Socket.connect"],
                                                           "seen_as": ["connect"]}})
    finding = base.model_copy(update={"rule": "undisclosed-sdk", "api": None, "host": None, "category": "sdk",
                                      "title": {"zh": "未在第三方SDK清单中明示的SDK收集个人信息", "en": "Undisclosed SDK"},
                                      "evidence": evidence})
    (case,) = build_cases([finding], sdks=load_sdks(), app_package="com.example.demo")
    assert case.pi == [] and case.other == [finding.id]
    assert case.sentence["zh"] == "友盟+基础组件 SDK 未在隐私政策的第三方 SDK 清单中明示，却在运行中自行联网。"


def test_native_code_of_no_known_sdk_is_one_case_named_by_its_library_whatever_its_address(tmp_path):
    """A read made by an unknown .so: the case names the library, and the same read at another address (another
    run: ASLR) is the same case, so diff, baselines and lab rounds match it."""
    def run(name: str, address: str):
        frame = f"{address} libshield.so!collect_device+0x1c4"
        return judge(tmp_path / name, [pi_read(ts=at(1), stack=[frame, "0x7f00000010 libc.so.6!__libc_start_main+0x80"])])

    first, second = run("a", "0x7f3a2c0141c4"), run("b", "0x7fd91e2201c4")
    (case,) = [case for case in first.cases if case.rule == "before-consent"]
    assert case.subject.kind == "unknown" and case.subject.package == "libshield.so"
    assert case.subject.name["zh"] == "未知来源代码（libshield.so）"
    assert [c.id for c in second.cases if c.rule == "before-consent"] == [case.id]
