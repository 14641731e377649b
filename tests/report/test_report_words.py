"""The Chinese report says in Chinese what it still said only in English: what `consentmon verify` finds wrong
with a run (integrity problems, as message codes), how the device clock was read (run.json clock.method_code,
or derived from the method), an SDK's kind and its vendor's Chinese name (monitor/data/sdks.yaml kinds,
vendors), how a value was encoded and which PI a flow carried. The English stays: in `consentmon verify`, in
run.json and sdks.yaml, and in the English report."""

from __future__ import annotations

import shutil
from pathlib import Path

from openpyxl import load_workbook

from monitor.analysis import analyze
from monitor.analysis.findings import write_findings
from monitor.data.messages import load_catalogue, messages, placeholders
from monitor.report.build import write_reports
from monitor.report.context import _clock, integrity_text
from monitor.store import FINDINGS_FILE
from monitor.store.manifest import PROBLEMS, Problem, check_run, verify_run
from monitor.store.reader import read_run
from monitor.testing.factories import UMENG_FRAME, at, pi_read, run_info, write_run

HOST_METHOD = "the target runs on this host: agent and proxy read the same wall clock"


def _report(root: Path, out: Path, lang: str) -> tuple[str, object]:
    (html, xlsx), _ = write_reports(root, formats=["html", "xlsx"], out=out / lang, lang=lang)
    return html.read_text(encoding="utf-8"), load_workbook(xlsx)


def _rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


def test_every_problem_verify_finds_has_a_message_whose_english_is_verify_s_own():
    catalogue = load_catalogue().messages
    for code, english in PROBLEMS.items():
        assert catalogue[f"integrity.problem.{code}"]["en"] == english, code
        assert placeholders(catalogue[f"integrity.problem.{code}"]["zh"]) == placeholders(english), code
    assert not {key.removeprefix("integrity.problem.") for key in catalogue if key.startswith("integrity.problem.")} - set(PROBLEMS)


def test_integrity_problems_read_in_chinese_and_verify_keeps_its_english(analysed_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(analysed_run, root)
    (root / "extra.txt").write_text("added later\n", encoding="utf-8")
    (root / "events.chain").write_bytes((root / "events.chain").read_bytes()[:-16])
    english = ["extra.txt: not in the manifest (added after capture)",
               "events.chain: content differs from the manifest (SHA-256 mismatch)"]
    assert set(english) <= set(verify_run(root))              # `consentmon verify`'s terminal text, unchanged
    assert [problem.code for problem in check_run(root)] == ["changed", "added"]

    html, workbook = _report(root, tmp_path, "zh")
    chinese = ["extra.txt：不在清单中（采集结束后添加）", "events.chain：内容与清单不一致（SHA-256 不符）"]
    for text in chinese:
        assert text in html
    assert "added after capture" not in html and "SHA-256 mismatch" not in html
    integrity = [row[1] for row in _rows(workbook["运行信息"]) if row[0] == "证据完整性"]
    assert integrity == ["运行目录与其清单不一致：", *reversed(chinese)]

    english_html, english_book = _report(root, tmp_path, "en")
    assert all(text in english_html for text in english)
    assert [row[1] for row in _rows(english_book["Run"]) if row[0] == "Evidence integrity"][1:] == list(reversed(english))


def test_an_intact_run_says_so_in_the_run_sheet(analysed_run, tmp_path):
    _, workbook = _report(analysed_run, tmp_path, "zh")
    assert [row[1] for row in _rows(workbook["运行信息"]) if row[0] == "证据完整性"] == [
        "所有文件与 manifest.json 中的 SHA-256 一致，事件哈希链完整。"]


def test_where_a_broken_chain_changed_reads_in_chinese_after_the_break():
    broken = Problem("chain_broken", {"file": "events.jsonl", "count": 12, "expected": 10},
                     Problem("chain.added_from", {"line": 11}))
    assert broken.text == "events.jsonl: hash chain broken (12 lines, expected 10); lines from 11 on were added after capture"
    assert integrity_text(messages("zh"), broken) == "events.jsonl：哈希链断裂（现有 12 行，清单记录 10 行）；自第 11 行起的内容为采集结束后追加"
    assert integrity_text(messages("en"), broken) == broken.text


def test_the_clock_method_reads_in_chinese_whether_run_json_has_its_code_or_only_the_english():
    zh = messages("zh")
    host = {"device": "host", "offset_ns": 0, "uncertainty_ns": 0, "method_code": "same_host", "method": HOST_METHOD}
    assert _clock(host, zh) == "0 ns ± 0 ns（目标程序运行于本机：监测代理与流量代理读取同一系统时钟）"
    older = {key: value for key, value in host.items() if key != "method_code"}      # a run of before the code
    assert _clock(older, zh) == _clock(host, zh)
    assert _clock(host, messages("en")) == f"0 ns ± 0 ns ({HOST_METHOD})"
    device = {"device_offset_start": {"offset_ns": 1500, "uncertainty_ns": 200, "method": "date +%s%N", "note": None},
              "device_offset_end": {"offset_ns": 1530, "uncertainty_ns": 210, "method": "date +%s%N"}, "drift_ns": 30}
    assert _clock(device, zh) == "1500 ns ± 200 ns（经 adb 读取设备时间（date +%s%N，纳秒精度），按往返时间校正；运行期间漂移 30 ns）"
    seconds = {"device_offset_start": {"offset_ns": 5, "uncertainty_ns": 500_000_000, "method": "date +%s",
                                       "note": "device `date` has no %N; whole-second resolution"}}
    assert "设备的 date 不支持 %N，精度为整秒" in _clock(seconds, zh) and "whole-second" not in _clock(seconds, zh)
    failed = {"note": "not measured: the run failed before", "note_code": "not_measured"}
    assert _clock(failed, zh) == "未测量：运行在测量前已失败"
    assert _clock({"note": "not measured: the run failed before"}, zh) == "未测量：运行在测量前已失败"
    assert _clock({"method": "something new"}, zh) == "0 ns ± ? ns（something new）"     # unknown: as written


def test_clock_sdk_kind_encodings_and_pi_found_read_in_chinese_in_html_and_xlsx(tmp_path):
    clock = {"device": "host", "offset_ns": 0, "uncertainty_ns": 0, "method_code": "same_host", "method": HOST_METHOD}
    root = write_run(tmp_path / "run", [pi_read(ts=at(1), value="867530912345675", stack=[UMENG_FRAME])],
                     info=run_info(clock=clock, target={"kind": "host", "command": "java Demo"}))
    write_findings(analyze(read_run(root)), root / FINDINGS_FILE)
    html, workbook = _report(root, tmp_path, "zh")
    assert "目标程序运行于本机：监测代理与流量代理读取同一系统时钟" in html and HOST_METHOD not in html
    facts = {row[0]: row[1] for row in _rows(workbook["运行信息"])}
    assert facts["设备时钟偏差"] == "0 ns ± 0 ns（目标程序运行于本机：监测代理与流量代理读取同一系统时钟）"
    assert facts["检测设备"] == "本机（目标程序运行于检测主机）"
    sheet = workbook["SDK 清单"]
    headers = [cell.value for cell in sheet[1]]
    kinds = {row[0]: row[headers.index("类型")] for row in _rows(sheet)}
    assert kinds == {"umeng": "统计分析/推送"}
    assert {row[0]: row[headers.index("开发者")] for row in _rows(sheet)} == {"umeng": "阿里巴巴（友盟+）"}
    assert "· 阿里巴巴（友盟+）" in html and "· Alibaba (Umeng)" not in html        # the case's subject
    english_html, english_book = _report(root, tmp_path, "en")
    assert HOST_METHOD in english_html
    sheet = english_book["SDKs"]
    assert {row[0]: row[[cell.value for cell in sheet[1]].index("Kind")] for row in _rows(sheet)} == {"umeng": "analytics/push"}
    assert {row[0]: row[[cell.value for cell in sheet[1]].index("Vendor")] for row in _rows(sheet)} == {"umeng": "Alibaba (Umeng)"}
    assert "· Alibaba (Umeng)" in english_html
    assert {row[0]: row[1] for row in _rows(english_book["Run"])}["Device"] == "host"


def test_how_a_value_was_encoded_and_what_a_flow_carried_read_in_chinese(analysed_run, tmp_path):
    html, workbook = _report(analysed_run, tmp_path, "zh")
    assert "编码方式 明文" in html and "编码方式 plain" not in html and "md5" in html
    sheet = workbook["网络传输明细"]
    found = [row[-1] for row in _rows(sheet) if row[-1]]
    assert found == ["WLAN 信息（base64，body.json:bssid_b64）, 设备标识符（md5，body.json:imei_md5）, 设备标识符（明文，body.json:android_id）"]
    _, english = _report(analysed_run, tmp_path, "en")
    assert [row[-1] for row in _rows(english["Network flows"]) if row[-1]] == [
        "device_id:md5@body.json:imei_md5, device_id:plain@body.json:android_id, wifi:base64@body.json:bssid_b64"]
