"""End to end: the demo app under real Frida and real mitmproxy, analysed and reported, as `make demo` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.store.manifest import verify_run

pytestmark = [pytest.mark.e2e, pytest.mark.frida, pytest.mark.proxy]


def _demo(out: Path, consent: str, *extra: str) -> dict:
    env = dict(os.environ, COLUMNS="200")
    result = subprocess.run([sys.executable, "-m", "monitor", "demo", "--out", str(out), "--consent", consent, *extra],
                            capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "report:" in result.stdout and "Traceback" not in result.stderr
    if consent == "agree" and not extra:
        # Where the traffic evidence ends, said at the terminal too.
        assert "connections the proxy did not see: 2" in result.stdout and "(QUIC / HTTP/3)" in result.stdout
        assert "TLS the proxy could not open: 1 — android.bugly.qq.com:443 refused by the app" in result.stdout
    return json.loads((out / "findings.json").read_text())


@pytest.fixture(scope="module")
def agreed(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "agree"
    return out, _demo(out, "agree")


def _keys(findings: dict, rule: str) -> set[tuple]:
    return {(item["category"], item["api"] or item["host"], item["sdk"]["id"]) for item in findings["findings"] if item["rule"] == rule}


def test_consent_is_seen_on_the_device_side(agreed):
    _, findings = agreed
    consent = findings["consent"]
    assert consent["final_state"] == "accepted" and consent["decided_by"] == "click"
    # The click is stamped when it was made, so the dialog it closes was still showing: full confidence.
    assert consent["confidence"] >= 0.9 and not consent["warnings"]


def test_every_planted_before_consent_collection_is_found(agreed):
    _, findings = agreed
    before = _keys(findings, "before-consent")
    planted = {
        # main's very first statement, by the app itself: only a monitor that hooks before main sees it
        ("device_id", "android.provider.Settings$Secure.getString", None),
        # the analytics SDK's preInit, attributed by its Java stack
        ("device_id", "android.telephony.TelephonyManager.getDeviceId", "umeng-analytics"),
        ("device_id", "android.provider.Settings$Secure.getString", "umeng-analytics"),
        ("wifi", "android.net.wifi.WifiInfo.getBSSID", "umeng-analytics"),
        # the SDK's upload, attributed by its destination
        ("device_id", "ulogs.umeng.com", "umeng"),
        # the app's own installed-app list and its upload to a tracker
        ("installed_apps", "android.content.pm.PackageManager.getInstalledPackages", None),
        ("installed_apps", "collect.adtrack-demo.cn", None),
    }
    assert planted <= before, f"missing: {sorted(planted - before, key=str)}"


def test_hashed_and_base64_identifiers_are_found_in_the_umeng_upload(agreed):
    _, findings = agreed
    flows = [item for item in findings["findings"] if item["rule"] == "before-consent" and item["host"] == "ulogs.umeng.com"]
    encodings = {match["encoding"] for item in flows for match in item["evidence"]["matches"]}
    assert "md5" in encodings, encodings       # MD5 of the IMEI
    assert "base64" in encodings, encodings    # base64 of the BSSID
    assert all(item["evidence"]["flow_ids"] for item in flows)


def test_each_flow_is_joined_to_the_code_that_opened_its_connection(agreed):
    _, findings = agreed
    sent_by = {item["host"]: item["evidence"]["detail"].get("sent_by") for item in findings["findings"]
               if item["rule"] == "before-consent" and item["host"]}
    # The SDK's own uploader opened the Umeng connection; the app's helper opened the tracker's.
    assert sent_by["ulogs.umeng.com"]["sdk_id"] == "umeng-analytics"
    assert "UMLogUploader" in sent_by["ulogs.umeng.com"]["frame"]
    assert sent_by["collect.adtrack-demo.cn"]["owner"] == "app"
    for joined in sent_by.values():
        assert 0 <= joined["gap_ms"] <= joined["window_ms"]


def test_a_connection_around_the_proxy_is_listed_with_who_opened_it(agreed):
    out, findings = agreed
    unseen = findings["summary"]["unseen_connections"]
    # The push SDK's own socket, before consent, and the app's HTTP/3 (QUIC, over UDP) attempt after it; the
    # proxied HTTP connections are not listed.
    assert [(item["host"], item["port"], item["transport"], item["opened_by"], item["consent_state_at_first"], item["failed"])
            for item in unseen] == [
        ("sdk.open.phone.igexin.invalid", 5224, "tcp", "getui", "no_notice", 1),  # before the privacy dialog was shown
        ("api.demo-app.example.com", 443, "udp", "app", "accepted", 1)]
    assert "PushManager.initialize" in unseen[0]["frame"]
    assert unseen[1]["likely_protocol"] == "QUIC / HTTP/3" and "--block-quic" in unseen[1]["note"]
    # The crash reporter's pinned upload: the handshake with the proxy fails, nothing is decrypted; it is listed
    # with the SDK whose code opened the connection (the URL connect joined by host, port and time).
    assert [(item["host"], item["port"], item["side"], item["opened_by"], item["consent_state_at_first"])
            for item in findings["summary"]["tls_failures"]] == [("android.bugly.qq.com", 443, "client", "tencent-bugly", "accepted")]
    assert "代理无法解密的 TLS 连接（1）" in (out / "report.html").read_text()  # the report is in Chinese by default
    # Each proxied connection is on record once: Java's Socket.connect, not again as the libc connect() under it.
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    proxy_port = json.loads((out / "run.json").read_text())["proxy"]["listen"].rsplit(":", 1)[1]
    java = [e for e in events if e["api"] == "java.net.Socket.connect" and (e["payload"] or {}).get("port") == proxy_port]
    native = [e for e in events if e["api"] == "libc.so.connect" and (e["payload"] or {}).get("port") == proxy_port]
    assert java and native == []
    # Both SDKs that went online before the privacy dialog are findings: Umeng's upload and Getui's own socket.
    assert {(item["host"], item["sdk"]["id"]) for item in findings["findings"] if item["rule"] == "sdk-connects-before-consent"} == \
        {("ulogs.umeng.com", "umeng-analytics"), ("sdk.open.phone.igexin.invalid:5224", "getui")}
    assert "sdk.open.phone.igexin.invalid" in (out / "report.html").read_text()


def test_nothing_after_consent_is_reported_as_before_consent(agreed):
    _, findings = agreed
    consent_ns = findings["consent"]["consent_ns"]
    for item in findings["findings"]:
        if item["rule"] == "before-consent":
            assert item["first_seen_ns"] < consent_ns
    apis = {item["api"] for item in findings["findings"]}
    # Read only after the user agreed: location (AMap), clipboard (app), serial (Bugly — started inside the
    # 同意 click handler itself, so its reads happen while performClick has not yet returned).
    assert "android.location.LocationManager.getLastKnownLocation" not in apis
    assert "android.content.ClipboardManager.getText" not in apis
    assert "android.os.Build.getSerial" not in apis


def test_the_app_behaves_exactly_as_without_the_monitor(agreed):
    out, _ = agreed
    log = (out / "target.log").read_text()
    # Hooks never change what the app sees: no exception escapes, every upload completes (the local answer
    # of the offline proxy is 204), and the app reaches its end.
    assert "Exception in thread" not in log and "failed:" not in log
    assert "[umeng] upload https://ulogs.umeng.com/unify_logs -> 204" in log
    assert "[demo] POST https://collect.adtrack-demo.cn/v2/apps -> 204" in log
    assert "[demo] push connection not opened: UnknownHostException" in log  # the app's own outcome, unchanged
    assert "[demo] done" in log


def test_the_run_is_sealed_and_the_report_written(agreed):
    out, _ = agreed
    assert verify_run(out) == []
    html = (out / "report.html").read_text()
    assert "ulogs.umeng.com" in html and "同意" in html
    run = json.loads((out / "run.json").read_text())
    assert run["events_sent_by_agent"] == run["hook_events_recorded"]  # counted end to end: nothing lost


def test_refusal_then_collection_is_after_refusal(tmp_path):
    findings = _demo(tmp_path / "refuse", "refuse")
    assert findings["consent"]["final_state"] == "refused"
    after = _keys(findings, "after-refusal")
    assert ("device_id", "android.telephony.TelephonyManager.getImei") in {(c, a) for c, a, _ in after}
    assert ("device_id", "ulogs.umeng.com") in {(c, a) for c, a, _ in after}


SCENARIO = """\
name: quick-background
description: agree through the UI, then leave the app in the background for a while
steps:
  - launch
  - wait: 1
  - consent: accept
  - wait: 1
  - home
  - wait: 4
  - screenshot: in-background
"""


def test_a_scenario_drives_the_demo_and_background_collection_is_found(tmp_path):
    scenario = tmp_path / "quick-background.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "scenario-run"
    env = dict(os.environ, COLUMNS="200")
    result = subprocess.run([sys.executable, "-m", "monitor", "demo", "--out", str(out), "--scenario", str(scenario)],
                            capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads((out / "findings.json").read_text())
    # The scenario found 同意 in the UI dump and tapped it; the hook saw the click inside the app.
    assert findings["consent"]["final_state"] == "accepted"
    run = json.loads((out / "run.json").read_text())
    assert run["scenario"]["ok"] and run["scenario"]["consent"] == "agree"
    background = [item for item in findings["findings"] if item["rule"] == "background"]
    assert any(item["category"] == "location" and item["sdk"]["id"] and item["sdk"]["id"].startswith("amap")
               for item in background), [(i["rule"], i["api"], i["sdk"]["id"]) for i in findings["findings"]]
    assert all(item["first_seen_ns"] > findings["consent"]["consent_ns"] for item in background)
    screens = sorted(path.name for path in (out / "screens").iterdir())
    assert any(name.endswith("consent-before.png") for name in screens) and any("in-background" in name for name in screens)
    assert verify_run(out) == []


def test_with_unpin_tls_the_pinned_upload_reaches_the_proxy_and_the_run_says_it_was_unpinned(tmp_path):
    out = tmp_path / "unpinned"
    findings = _demo(out, "agree", "--unpin-tls")
    assert findings["summary"]["tls_failures"] == []   # the handshake that failed without the flag
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    uploads = [e for e in events if e["kind"] == "flow" and e["payload"]["host"] == "android.bugly.qq.com"]
    assert len(uploads) == 1 and uploads[0]["payload"]["url"].endswith("/rqd/async")
    bypasses = [e for e in events if e["kind"] == "tls_unpinned"]
    assert bypasses and all(e["api"] == "javax.net.ssl.SSLContext.init" for e in bypasses)
    assert json.loads((out / "run.json").read_text())["agent_options"]["unpin_tls"] is True


def test_the_policy_the_demo_showed_is_sealed_and_judges_the_sdks_by_their_rows(agreed):
    out, findings = agreed
    info = json.loads((out / "run.json").read_text())
    # The dialog's links, the page its WebView loaded, and the one nobody opened fetched through the proxy.
    assert info["policy"]["links_shown"] == ["https://demo-app.example.com/terms.html", "https://demo-app.example.com/privacy.html"]
    assert info["policy_fetch"] == [{"url": "https://demo-app.example.com/terms.html", "status": 200,
                                     "content_type": "text/html"}]
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(name.startswith("policy/") and name.endswith(".html") for name in manifest["files"])
    assert findings["summary"]["scope"]["origin"] == "policy" and findings["summary"]["scope"]["sdk_list_rows"] == 3
    # From the policy alone: the push SDK is in no row, and Umeng's row does not declare the installed-app list.
    undisclosed = [item for item in findings["findings"] if item["rule"] == "undisclosed-sdk"]
    assert [item["sdk"]["id"] for item in undisclosed] == ["getui"]
    assert "友盟+ SDK" in undisclosed[0]["evidence"]["detail"]["missing_from"]["sdk_list_rows"]
    umeng = [item for item in findings["findings"] if item["rule"] == "beyond-scope"
             and item["category"] == "installed_apps" and item["sdk"]["id"] == "umeng-analytics"]
    assert umeng and umeng[0]["evidence"]["detail"]["policy_row"]["name"] == "友盟+ SDK"
    assert umeng[0]["evidence"]["detail"]["policy_row"]["document"] == "https://demo-app.example.com/privacy.html"
    # The report says in one line where the agreed scope came from (Chinese first).
    assert "授权范围依据：本次运行中采集的隐私政策" in (out / "report.html").read_text()
