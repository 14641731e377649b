"""The workbook, the PDF and the JSON report of one analysed run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from monitor.analysis.findings import read_findings
from monitor.report.build import write_reports
from monitor.report.jsonout import SCHEMA_FILE, schema_errors, schema_text
from monitor.store import FINDINGS_FILE

ZH_SHEETS = ["问题汇总", "个人信息读取明细", "网络传输明细", "SDK 清单", "流量证据边界", "运行信息"]
EN_SHEETS = ["Cases", "PI reads", "Network flows", "SDKs", "Traffic evidence edges", "Run"]


@pytest.mark.parametrize(("lang", "sheets", "header"), [("zh", ZH_SHEETS, "问题描述"), ("en", EN_SHEETS, "Statement")])
def test_workbook_sheets_headers_filters_and_widths(analysed_run, tmp_path, lang, sheets, header):
    (path,), data = write_reports(analysed_run, formats=["xlsx"], out=tmp_path, lang=lang)
    workbook = load_workbook(path)
    assert workbook.sheetnames == sheets
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:"), sheet.title
        assert all(sheet.column_dimensions[column].width for column in ("A", "B")), sheet.title
    cases = workbook[sheets[0]]
    headers = [cell.value for cell in cases[1]]
    assert header in headers
    statements = [row[headers.index(header)] for row in cases.iter_rows(min_row=2, values_only=True)]
    assert statements == [case["sentence"][lang] for case in data.cases]
    reads = workbook[sheets[1]]
    assert reads.max_row - 1 == data.summary["pi_reads"]
    sdks = [row[0] for row in workbook[sheets[3]].iter_rows(min_row=2, values_only=True)]
    assert sdks == ["umeng"]   # the analytics module and the umbrella: one SDK


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return path


def test_pdf_pages_and_chinese_text(analysed_run, tmp_path):
    pytest.importorskip("weasyprint")
    (path,), data = write_reports(analysed_run, formats=["pdf"], out=tmp_path)
    assert path.read_bytes().startswith(b"%PDF")
    subprocess.run([_tool("pdftoppm"), "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3 and all(page.stat().st_size > 2_000 for page in pages)
    text = subprocess.run([_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    squeezed = "".join(text.split())
    # the cover: title, app, version, APK hash, fields to sign
    for expected in ("App个人信息收集使用检测报告", "com.example.demo", "1.2.3/123", "ab" * 32, "检测人员", "审核人员"):
        assert expected in squeezed, expected
    # a block per case with its sentence, and the appendix of hashes
    for case in data.cases:
        assert "".join(case["sentence"]["zh"].split())[:30] in squeezed
    assert "证据文件哈希" in squeezed and "events.jsonl" in squeezed


def test_the_published_schema_is_the_models(tmp_path):
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), "run `python -m monitor.report.jsonout`"


def test_findings_and_json_report_validate(analysed_run, tmp_path):
    findings = json.loads((analysed_run / FINDINGS_FILE).read_text(encoding="utf-8"))
    assert schema_errors(findings) == []
    assert findings["schema"] == 1 and findings["cases"]
    (path,), _ = write_reports(analysed_run, formats=["json"], out=tmp_path)
    report = json.loads(path.read_text(encoding="utf-8"))
    assert schema_errors(report) == []
    assert read_findings(path).cases  # a JSON report reads back as findings
    broken = dict(findings, cases=[{"id": 3}])
    assert schema_errors(broken)


def test_every_findings_file_in_the_repository_validates():
    root = Path(__file__).resolve().parents[2]
    files = [path for path in root.rglob(FINDINGS_FILE) if ".venv" not in path.parts and "node_modules" not in path.parts]
    for path in files:
        assert schema_errors(json.loads(path.read_text(encoding="utf-8"))) == [], path


def test_a_run_with_nothing_in_it_still_reports(tmp_path):
    from monitor.analysis import analyze_run
    from monitor.analysis.findings import write_findings
    from monitor.testing.factories import write_run

    run = write_run(tmp_path / "run", [])
    write_findings(analyze_run(run), run / FINDINGS_FILE)
    formats = ["html", "xlsx", "json"] + (["pdf"] if shutil.which("pdftotext") else [])
    written, data = write_reports(run, formats=formats, out=tmp_path / "out")
    assert len(written) == len(formats) and data.cases == []
    assert "未发现问题。" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
