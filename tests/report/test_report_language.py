"""The Chinese report says in Chinese what used to be English only — what a connection the proxy could not read
likely carried (monitor/data/protocols.yaml), why a rule was not checked (reason codes), how consent was decided
— and shows an SDK found only in the APK as static evidence; the English stays in findings.json and in the
English report."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from monitor.analysis import analyze
from monitor.analysis.findings import read_findings, write_findings
from monitor.data import RULES_FILE
from monitor.data.messages import messages
from monitor.report.build import write_reports
from monitor.report.context import reason_text
from monitor.store import FINDINGS_FILE
from monitor.store.policy import write_policy_document
from monitor.store.reader import read_run
from monitor.testing.factories import at, connect, run_info, write_run

from analysis.test_rules_policy_scope import EVENTS, GETUI_FRAME, POLICY, sdk_apk_scan

MQTT = connect(ts=at(5.5), host="push.example.com", port=8883, stack=[GETUI_FRAME])


def _report(root: Path, out: Path, lang: str, *, rules: Path | None = None) -> tuple[str, object]:
    if not (root / FINDINGS_FILE).exists():
        write_findings(analyze(read_run(root), rules=rules), root / FINDINGS_FILE)
    (html, xlsx), _ = write_reports(root, formats=["html", "xlsx"], out=out / lang, lang=lang)
    return html.read_text(encoding="utf-8"), load_workbook(xlsx)


def _rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


def test_coverage_notes_and_static_sdk_evidence_read_in_chinese_with_the_english_beside(tmp_path):
    root = write_run(tmp_path / "run", [*EVENTS, MQTT], info=run_info(apk_scan=sdk_apk_scan()))
    write_policy_document(root, POLICY, source="flow", url="https://app.example.com/privacy.html", ts=at(0.5),
                          content_type="text/html; charset=utf-8", flow_id="flow-policy")
    html, workbook = _report(root, tmp_path, "zh")
    # What MQTT over TLS on 8883 means, from protocols.yaml, in Chinese; a port of no known protocol says so.
    assert "基于 TLS 的 MQTT" in html and "基于 TLS 的发布/订阅长连接" in html
    assert "A publish/subscribe connection" not in html and "非常用端口，无法推断协议" in html
    coverage = {row[1]: row for row in _rows(workbook["流量证据边界"])}
    assert coverage["push.example.com"][2:5] == ["8883/tcp", "基于 TLS 的 MQTT", coverage["push.example.com"][4]]
    assert coverage["push.example.com"][4].startswith("基于 TLS 的发布/订阅长连接")
    assert coverage["push.example.com"][5] == "个推"          # who opened it, by the SDK's name
    assert coverage["push.example.com"][7] == "已同意"        # the consent state then, in words
    # How consent was decided, and what was seen, in Chinese too.
    assert "在弹窗中点击“同意”" in html and "判定依据 点击" in html and "clicked “同意”" not in html
    # Bugly: in the package, not in the SDK list, never seen at work — a static case, explained, with its packages.
    assert "腾讯Bugly SDK 的代码存在于 App 安装包中（包 com.tencent.bugly，共 2 个类）" in html
    assert "安装包中的证据（静态扫描）" in html and "静态证据：存在于安装包中，运行中未观察到其活动" in html
    assert "故仍予报告" in html and "com.example.sdkscan" in html
    cases = workbook["问题汇总"]
    headers = [cell.value for cell in cases[1]]
    static = [row for row in _rows(cases) if "静态检出" in row[headers.index("问题描述")]]
    assert {row[headers.index("证据级别")] for row in static} == {"静态证据：存在于安装包中，运行中未观察到其活动"}
    assert {row[headers.index("风险等级")] for row in static} == {"中"}
    # The English stays: in findings.json and in the English report.
    unseen = {item["host"]: item for item in read_findings(root / FINDINGS_FILE).summary["unseen_connections"]}
    assert unseen["push.example.com"]["note"].startswith("A publish/subscribe connection over TLS")
    english, _ = _report(root, tmp_path, "en")
    assert "A publish/subscribe connection over TLS" in english and "(found statically)" in english
    assert "clicked “同意” in a dialog" in english
    consent = read_findings(root / FINDINGS_FILE).consent
    assert consent["changes"][-1]["detail"] == "clicked “同意” in a dialog"
    assert consent["changes"][-1]["detail_codes"] == [{"code": "click_in_dialog", "params": {"text": "同意"}}]
    assert "基于 TLS 的 MQTT" not in english


def test_the_reasons_a_rule_was_not_checked_read_in_chinese(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_FILE.read_text(encoding="utf-8").replace("  - id: over-frequency\n",
                                                                     "  - id: over-frequency\n    enabled: false\n", 1),
                     encoding="utf-8")
    root = write_run(tmp_path / "run", EVENTS)        # no policy captured
    html, workbook = _report(root, tmp_path, "zh", rules=rules)
    assert "未检查「超频次收集个人信息」（over-frequency）：规则文件中已停用该规则" in html
    assert "未检查「未在第三方SDK清单中明示的SDK收集个人信息」（undisclosed-sdk）：本次运行未采集到隐私政策" in html
    assert "disabled in the rules file" not in html and "no privacy policy was captured" not in html
    run_sheet = {row[1] for row in _rows(workbook["运行信息"]) if row[0] == "未检查的规则"}
    assert "未检查「超频次收集个人信息」（over-frequency）：规则文件中已停用该规则" in run_sheet
    summary = read_findings(root / FINDINGS_FILE).summary
    assert summary["skipped"]["over-frequency"] == "disabled in the rules file"
    assert summary["skipped_codes"]["over-frequency"] == {"code": "disabled", "params": {}}
    english, _ = _report(root, tmp_path, "en")
    assert "not checked: Personal information read too often (over-frequency): disabled in the rules file" in english


def test_a_findings_file_without_codes_still_reads_in_chinese_where_the_english_is_a_known_reason():
    zh = messages("zh")
    assert reason_text(zh, None, "disabled in the rules file") == "规则文件中已停用该规则"
    assert reason_text(zh, {"code": "policy_unreadable", "params": {"error": "x"}}, "?") == "本次运行采集的隐私政策无法读取（x）"
    assert reason_text(zh, None, "something new") == "something new"
    assert reason_text(zh, {"code": "no_such_code", "params": {}}, "as written") == "as written"


def test_the_scope_line_says_why_a_captured_policy_could_not_be_used():
    from monitor.report.context import _scope_line

    zh = messages("zh")
    unreadable = {"scope": {"origin": None, "note": "the privacy policy captured in this run could not be read: bad page",
                            "note_code": {"code": "policy_unreadable", "params": {"error": "bad page"}}}}
    assert _scope_line(unreadable, zh) == "本次运行采集的隐私政策无法读取（bad page）"
    assert _scope_line({"scope": {"origin": None, "note_code": {"code": "no_policy", "params": {}}}}, zh).startswith("本次运行未采集到隐私政策")
    assert _scope_line({}, zh).startswith("本次运行未采集到隐私政策")      # a findings file of before the codes
