"""The real demo (real Frida, real mitmproxy) reported in every format: the Umeng SDK is one subject across
its reads (attributed to its analytics module) and its upload (attributed to the umbrella's domain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from monitor.report.jsonout import schema_errors

pytestmark = [pytest.mark.e2e, pytest.mark.frida, pytest.mark.proxy]


ENV = dict(os.environ, COLUMNS="200")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("demo-report") / "demo"
    demo = subprocess.run([sys.executable, "-m", "monitor", "demo", "--out", str(run)], capture_output=True, text=True,
                          timeout=240, env=ENV)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    return run


def test_demo_report_in_every_format(demo_run, tmp_path):
    pytest.importorskip("weasyprint")
    run = demo_run
    env = ENV
    findings = json.loads((run / "findings.json").read_text(encoding="utf-8"))
    assert schema_errors(findings) == []
    umeng = [case for case in findings["cases"] if case["rule"] == "before-consent" and case["subject"]["id"] == "umeng"]
    assert len(umeng) == 1
    (case,) = umeng
    assert {"umeng", "umeng-analytics"} <= set(case["subject"]["sdk_ids"]) and case["reads"] and case["flows"]
    sentence = case["sentence"]["zh"]
    for part in ("友盟", "在用户同意隐私政策前收集设备标识符（IMEI、Android ID）", "WLAN 信息（BSSID）", "ulogs.umeng.com"):
        assert part in sentence, sentence
    # every finding is in exactly one case
    assert sorted(i for c in findings["cases"] for i in c["finding_ids"]) == sorted(f["id"] for f in findings["findings"])

    out = tmp_path / "out"
    report = subprocess.run([sys.executable, "-m", "monitor", "report", str(run), "--format", "html,xlsx,pdf,json",
                             "--out", str(out)], capture_output=True, text=True, timeout=240, env=env)
    assert report.returncode == 0, report.stdout + report.stderr
    assert sorted(path.name for path in out.iterdir()) == ["findings.xlsx", "report.html", "report.json", "report.pdf"]
    assert schema_errors(json.loads((out / "report.json").read_text(encoding="utf-8"))) == []
    html = (out / "report.html").read_text(encoding="utf-8")
    assert sentence in html
    if ((findings["summary"].get("declared_vs_observed") or {}).get("sources") or {}).get("policy"):
        # the demo's privacy policy was read: its SDK list beside what each SDK did, in the HTML and the workbook
        assert 'id="sdks"' in html
        from openpyxl import load_workbook
        headers = [cell.value for cell in next(load_workbook(out / "findings.xlsx")["SDK 清单"].iter_rows(max_row=1))]
        assert "隐私政策中列明" in headers and "读取但未声明的个人信息" in headers


def test_demo_redacted_report_keeps_no_value(demo_run, tmp_path):
    """Every searchable value the real demo read (IMEI, Android ID, BSSID, the installed-app list…), in every
    encoding the matcher knows, is absent from each redacted format."""
    pytest.importorskip("weasyprint")
    from monitor.analysis.matching import needles_from_events
    from monitor.store.reader import read_run

    from .test_redact import _needles, _texts

    run = demo_run
    env = ENV
    out = tmp_path / "out"
    report = subprocess.run([sys.executable, "-m", "monitor", "report", str(run), "--format", "html,xlsx,pdf,json", "--redact",
                             "--out", str(out)], capture_output=True, text=True, timeout=240, env=env)
    assert report.returncode == 0, report.stdout + report.stderr
    loaded = read_run(run)
    package = loaded.info["app"]["package"]
    searched = {(row.value, row.category) for row in needles_from_events(loaded.events).itertuples() if row.value != package}
    assert len(searched) >= 5
    for path in sorted(out.iterdir()):
        contents = _texts(path)
        for value, category in searched:
            for needle in _needles(value, category):
                assert not any(needle in blob for blob in contents), f"{path.name}: {value!r} as {needle!r}"


def test_demo_chinese_report_has_no_english_sentence_outside_the_evidence(demo_run, tmp_path):
    """The real demo's run, with a file added after capture: what verify finds, the clock method, the SDK kinds
    read in Chinese; no run of English words is left in the HTML's text or the workbook's summary sheets
    (evidence — stacks, requests, values read — is shown as captured and not searched)."""
    import re
    import shutil
    from html.parser import HTMLParser

    from openpyxl import load_workbook

    from monitor.report.build import write_reports

    run = tmp_path / "demo"
    shutil.copytree(demo_run, run)
    (run / "notes.txt").write_text("added after the seal\n", encoding="utf-8")
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["clock"]["method_code"] == "same_host"
    (html_path, xlsx_path), _ = write_reports(run, formats=["html", "xlsx"], out=tmp_path / "zh", lang="zh")
    html = html_path.read_text(encoding="utf-8")
    assert "notes.txt：不在清单中（采集结束后添加）" in html and "目标程序运行于本机" in html

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.hidden, self.parts = 0, []

        def handle_starttag(self, tag, attrs) -> None:
            self.hidden += tag in ("script", "style", "pre", "code")

        def handle_endtag(self, tag) -> None:
            self.hidden -= tag in ("script", "style", "pre", "code")

        def handle_data(self, data) -> None:
            if not self.hidden:
                self.parts.append(data)

    sentence = re.compile(r"\b[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}")
    parser = Text()
    parser.feed(html)
    assert [part for part in parser.parts if sentence.search(part)] == []
    workbook = load_workbook(xlsx_path)
    evidence = {"个人信息读取明细", "网络传输明细"}          # values, URLs and stack frames as captured
    left = [(sheet.title, value) for sheet in workbook.worksheets if sheet.title not in evidence
            for row in sheet.iter_rows(values_only=True) for value in row if isinstance(value, str) and sentence.search(value)]
    assert left == []
    headers = [cell.value for cell in workbook["SDK 清单"][1]]
    kinds = {row[0]: row[headers.index("类型")] for row in workbook["SDK 清单"].iter_rows(min_row=2, values_only=True)}
    assert kinds["tencent-bugly"] == "崩溃上报" and kinds["umeng"] == "统计分析/推送"
    run_sheet = {row[1] for row in workbook["运行信息"].iter_rows(min_row=2, values_only=True) if row[0] == "证据完整性"}
    assert "notes.txt：不在清单中（采集结束后添加）" in run_sheet
