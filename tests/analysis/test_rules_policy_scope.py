"""The agreed scope read from the privacy policy the run captured: beyond-scope runs without a scope file,
undisclosed-sdk names SDKs the SDK list leaves out, each finding quotes its row or says which list it is
missing from; with no policy captured, the summary says so in one line and the rules say why they skipped."""

from __future__ import annotations

from monitor.analysis import analyze
from monitor.store.policy import write_policy_document
from monitor.store.reader import read_run
from monitor.testing.factories import APP_FRAME, UMENG_FRAME, at, click, connect, dialog, pi_read, write_run

GETUI_FRAME = "com.igexin.sdk.PushManager.initialize(PushManager.java:20)"
AMAP_FRAME = "com.amap.api.location.AMapLocationClient.getLastKnownLocation(AMapLocationClient.java:12)"
POLICY = """<html><body><h1>隐私政策</h1>
<p>我们会收集您的设备标识符（Android ID）和位置信息。</p>
<h2>第三方SDK清单</h2>
<table>
<tr><th>SDK名称</th><th>第三方公司</th><th>使用目的</th><th>收集个人信息类型</th></tr>
<tr><td>友盟+ SDK</td><td>友盟同欣（北京）科技有限公司</td><td>统计分析</td><td>设备标识符（IMEI、Android ID）</td></tr>
<tr><td>高德定位SDK</td><td>高德软件有限公司</td><td>定位</td><td>位置信息</td></tr>
</table></body></html>"""
EVENTS = [
    dialog(ts=at(0)), click(ts=at(1), text="同意"),
    pi_read(ts=at(2), stack=[UMENG_FRAME]),                                          # declared in Umeng's row
    pi_read(ts=at(3), api="android.content.pm.PackageManager.getInstalledPackages", category="installed_apps",
            value="com.a,com.b", stack=[UMENG_FRAME]),                               # not in Umeng's row
    pi_read(ts=at(4), api="android.location.LocationManager.getLastKnownLocation", category="location",
            value="39.9,116.3", stack=[AMAP_FRAME]),                                 # declared in AMap's row
    connect(ts=at(5), host="sdk.open.phone.igexin.com", port=5224, stack=[GETUI_FRAME]),  # Getui: not in the list
    pi_read(ts=at(6), api="android.provider.Settings$Secure.getString", value="a1b2c3d4e5f60718", stack=[APP_FRAME]),
    pi_read(ts=at(7), api="android.content.ClipboardManager.getPrimaryClip", category="clipboard", value="口令 123456",
            stack=[APP_FRAME]),                                                      # the app: clipboard not declared
]


def _analyse(tmp_path, *, policy: str | None = POLICY, **options):
    root = write_run(tmp_path / "run", EVENTS)
    if policy is not None:
        write_policy_document(root, policy, source="flow", url="https://app.example.com/privacy.html",
                              ts=at(0.5), content_type="text/html; charset=utf-8", flow_id="flow-policy")
    return analyze(read_run(root), **options)


def _rule(findings, rule):
    return [f for f in findings.findings if f.rule == rule]


def test_the_sdk_list_leaves_out_an_sdk_at_work(tmp_path):
    findings = _analyse(tmp_path)
    undisclosed = _rule(findings, "undisclosed-sdk")
    assert [f.sdk.id for f in undisclosed] == ["getui"]
    missing = undisclosed[0].evidence.detail["missing_from"]
    assert missing["has_sdk_list"] and missing["sdk_list_rows"] == ["友盟+ SDK", "高德定位SDK"]
    assert missing["documents"] == ["https://app.example.com/privacy.html"]
    assert undisclosed[0].evidence.detail["seen_as"] == ["connect"]
    assert findings.summary["scope"]["origin"] == "policy" and findings.summary["scope"]["note"] is None


def test_beyond_scope_quotes_the_row_that_does_not_declare_the_category(tmp_path):
    findings = _analyse(tmp_path)
    beyond = {(f.category, f.sdk.id) for f in _rule(findings, "beyond-scope")}
    # Umeng's reads are attributed to its analytics module; the row names the vendor's SDK: one group.
    assert ("installed_apps", "umeng-analytics") in beyond
    assert ("device_id", "umeng-analytics") not in beyond and ("location", "amap") not in beyond
    assert ("clipboard", None) in beyond and ("device_id", None) not in beyond
    row = next(f for f in _rule(findings, "beyond-scope") if f.sdk.id == "umeng-analytics").evidence.detail["policy_row"]
    assert row["name"] == "友盟+ SDK" and "设备标识符（IMEI、Android ID）" in row["pi"]
    assert row["document"] == "https://app.example.com/privacy.html"
    app_row = next(f for f in _rule(findings, "beyond-scope") if f.sdk.id is None).evidence.detail["policy_app_pi"]
    assert {item["category"] for item in app_row} >= {"device_id", "location"}


def test_a_scope_file_given_by_the_user_wins_over_the_captured_policy(tmp_path):
    scope = tmp_path / "scope.yaml"
    scope.write_text("app: [device_id, clipboard]\nsdks:\n  umeng-analytics: [device_id, installed_apps]\n  amap: [location]\n")
    findings = _analyse(tmp_path, scope=scope)
    assert findings.summary["scope"]["origin"] == "file"
    assert not {f.category for f in _rule(findings, "beyond-scope")} & {"installed_apps", "clipboard"}


def test_without_a_captured_policy_the_run_says_so(tmp_path):
    findings = _analyse(tmp_path, policy=None)
    note = findings.summary["scope"]["note"]
    assert note and "no privacy policy was captured" in note
    assert findings.summary["skipped"]["undisclosed-sdk"] == note
    assert findings.summary["skipped"]["beyond-scope"] == note
    assert not _rule(findings, "undisclosed-sdk")


def test_a_policy_without_an_sdk_list_makes_every_sdk_at_work_undisclosed(tmp_path):
    findings = _analyse(tmp_path, policy="<html><body><h1>隐私政策</h1><p>我们会收集您的设备标识符。</p></body></html>")
    undisclosed = {f.sdk.id: f for f in _rule(findings, "undisclosed-sdk")}
    assert set(undisclosed) == {"umeng", "amap", "getui"}  # one subject per vendor group, as a notice names it
    assert not next(iter(undisclosed.values())).evidence.detail["missing_from"]["has_sdk_list"]


def test_declared_vs_observed_puts_the_apk_the_policy_and_the_run_side_by_side(tmp_path):
    from pathlib import Path

    from monitor.scan import scan_for_run
    from monitor.testing.factories import permission, run_info

    apk_scan = scan_for_run(Path(__file__).parents[1] / "data" / "android" / "apk" / "demo-v1.apk")
    events = [*EVENTS, permission(ts=at(8), permission="android.permission.CAMERA"),
              permission(ts=at(9), permission="android.permission.CAMERA", result="denied")]
    root = write_run(tmp_path / "run", events, info=run_info(apk_scan=apk_scan))
    write_policy_document(root, POLICY, source="flow", url="https://app.example.com/privacy.html", ts=at(0.5),
                          content_type="text/html; charset=utf-8")
    table = analyze(read_run(root)).summary["declared_vs_observed"]
    assert table["sources"] == {"apk_scan": True, "policy": True}
    sdks = {row["sdk"]: row for row in table["sdks"]}
    assert sdks["getui"]["in_policy"] is False and sdks["getui"]["connected"] and sdks["getui"]["in_apk"] == 0
    assert sdks["umeng"]["policy_row"] == "友盟+ SDK" and sdks["umeng"]["declared_pi"] == ["device_id"]
    assert sdks["umeng"]["read_pi"] == ["device_id", "installed_apps"]
    assert sdks["amap"]["read_pi"] == ["location"] and sdks["amap"]["in_policy"] is True
    permissions = {row["permission"]: row for row in table["permissions"]}
    camera = permissions["android.permission.CAMERA"]
    assert camera["in_manifest"] is True and camera["dangerous"] is True
    assert camera["requested"] is True and camera["granted"] is False
    assert permissions["android.permission.ACCESS_FINE_LOCATION"]["in_manifest"] is False
    assert "android.location.LocationManager.getLastKnownLocation" in permissions["android.permission.ACCESS_FINE_LOCATION"]["used_by"]


def test_declared_vs_observed_without_a_scan_or_policy_says_which_columns_are_unknown(tmp_path):
    table = _analyse(tmp_path, policy=None).summary["declared_vs_observed"]
    assert table["sources"] == {"apk_scan": False, "policy": False}
    assert all(row["in_apk"] is None and row["in_policy"] is None for row in table["sdks"])


# ---- SDKs embedded in the APK that the SDK list leaves out (static evidence) -------------------------------

# Built by Debian's Android tools (tests/support/apkbuild.py): Umeng and AMap (both in POLICY's list), Getui (not in
# it, and at work in EVENTS), Bugly (not in it, never seen at work), Xiaomi push (its service in the manifest only,
# as a packed app shows it), React Native (an open-source framework the rule exempts).
SDK_APK_CLASSES = ("com.example.sdkscan.MainActivity", "com.umeng.commonsdk.UMConfigure",
                   "com.amap.api.location.AMapLocationClient", "com.igexin.sdk.PushManager",
                   "com.tencent.bugly.crashreport.CrashReport", "com.tencent.bugly.Bugly",
                   "com.facebook.react.ReactActivity")
BUGLY_ROW = "<tr><td>腾讯Bugly</td><td>深圳市腾讯计算机系统有限公司</td><td>崩溃分析</td><td>设备标识符</td></tr>\n</table>"


def sdk_apk_scan() -> dict:
    """The APK's scan as run.json keeps it (run --apk)."""
    import pytest

    from monitor.scan import scan_for_run
    from support.apkbuild import ApkSpec, build_apk, missing_tools

    if missing_tools():
        pytest.skip(f"Debian's Android tools are missing: apt-get install {' '.join(missing_tools())} (.ci/run does)")
    spec = ApkSpec(package="com.example.sdkscan", permissions=("android.permission.INTERNET",), classes=SDK_APK_CLASSES,
                   services=("com.xiaomi.mipush.sdk.PushMessageHandler",))
    return scan_for_run(build_apk(spec).path)


def _analyse_with_apk(tmp_path, *, policy: str | None = POLICY, events=EVENTS):
    from monitor.testing.factories import run_info

    root = write_run(tmp_path / "run", events, info=run_info(apk_scan=sdk_apk_scan()))
    if policy is not None:
        write_policy_document(root, policy, source="flow", url="https://app.example.com/privacy.html",
                              ts=at(0.5), content_type="text/html; charset=utf-8", flow_id="flow-policy")
    return analyze(read_run(root))


def test_an_sdk_in_the_apk_that_the_list_omits_and_the_run_never_saw_is_reported_as_static_evidence(tmp_path):
    findings = _analyse_with_apk(tmp_path)
    undisclosed = {f.sdk.id: f for f in _rule(findings, "undisclosed-sdk")}
    # Getui, seen at work, keeps its run-time finding (once); Umeng and AMap are in the list; React Native is exempt.
    assert sorted(undisclosed) == ["getui", "tencent-bugly", "xiaomi-push"]
    assert [f.sdk.id for f in _rule(findings, "undisclosed-sdk")].count("getui") == 1
    getui = undisclosed["getui"]
    assert getui.severity == "high" and getui.evidence.detail["evidence_level"] == "runtime" and "apk" not in getui.evidence.detail
    bugly = undisclosed["tencent-bugly"]
    assert bugly.severity == "medium" and bugly.count == 0 and not bugly.evidence.event_seqs
    detail = bugly.evidence.detail
    assert detail["evidence_level"] == "static" and detail["missing_from"]["sdk_list_rows"] == ["友盟+ SDK", "高德定位SDK"]
    assert detail["apk"]["packages"] == ["com.tencent.bugly"] and detail["apk"]["classes"] == 2
    assert detail["apk"]["package"] == "com.example.sdkscan" and len(detail["apk"]["sha256"]) == 64
    assert detail["apk"]["modules"][0]["name"] == {"zh": "腾讯Bugly", "en": "Tencent Bugly"}
    mipush = undisclosed["xiaomi-push"].evidence.detail["apk"]
    assert mipush["classes"] == 0 and mipush["components"] == ["service com.xiaomi.mipush.sdk.PushMessageHandler"]
    # The case says what was found in the package and that it was not seen at work, in both languages.
    case = next(c for c in findings.cases if c.rule == "undisclosed-sdk" and c.subject.id == "tencent-bugly")
    assert case.severity == "medium" and not case.pi
    assert case.sentence["zh"] == ("腾讯Bugly SDK 的代码存在于 App 安装包中（包 com.tencent.bugly，共 2 个类），未在隐私政策的第三方 SDK "
                                   "清单中明示；本次运行未观察到其读取个人信息或联网（静态检出）。")
    assert "com.tencent.bugly: 2 classes" in case.sentence["en"] and "(found statically)" in case.sentence["en"]
    packed = next(c for c in findings.cases if c.subject.id == "xiaomi-push").sentence["zh"]
    assert "清单中声明的组件 service com.xiaomi.mipush.sdk.PushMessageHandler" in packed
    assert any(a.article == "二.1" for a in bugly.articles)


def test_an_sdk_in_the_apk_that_the_list_names_is_not_reported(tmp_path):
    findings = _analyse_with_apk(tmp_path, policy=POLICY.replace("</table>", BUGLY_ROW))
    assert "tencent-bugly" not in {f.sdk.id for f in _rule(findings, "undisclosed-sdk")}
    assert "xiaomi-push" in {f.sdk.id for f in _rule(findings, "undisclosed-sdk")}


def test_without_a_policy_an_sdk_in_the_apk_is_not_judged(tmp_path):
    findings = _analyse_with_apk(tmp_path, policy=None)
    assert not _rule(findings, "undisclosed-sdk") and "undisclosed-sdk" in findings.summary["skipped"]
    assert findings.summary["skipped_codes"]["undisclosed-sdk"] == {"code": "no_policy", "params": {}}
    # The English stays where it always was; the code is what a report says in its own language.
    assert findings.summary["skipped"]["undisclosed-sdk"].startswith("no privacy policy was captured")
    assert findings.summary["scope"]["note_code"] == {"code": "no_policy", "params": {}}
