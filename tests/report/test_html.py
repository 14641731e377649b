"""report.html: self-contained, Chinese by default, and working in a real browser (Debian's chromium driven
by Playwright): no console error, the plotly timeline renders, a case opens, a screenshot is taken."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from monitor.report.build import write_reports

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def html_report(analysed_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html")
    (path,), _ = write_reports(analysed_run, formats=["html"], out=out)
    return path


def test_the_file_needs_no_network(html_report):
    html = html_report.read_text(encoding="utf-8")
    # nothing fetched from elsewhere: no external script, stylesheet or image
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)
    assert "Plotly.newPlot" in html and '<img src="data:image/png;base64,' in html  # the screenshot, inlined


def test_it_is_in_chinese_with_the_case_sentence_and_the_cited_articles(html_report):
    html = html_report.read_text(encoding="utf-8")
    assert "App 个人信息收集使用检测报告" in html
    assert "友盟+基础组件 SDK 在用户同意隐私政策前收集设备标识符（IMEI、Android ID）、WLAN 信息（BSSID），并传输至 ulogs.umeng.com。" in html
    assert "国信办秘字〔2019〕191号" in html
    # the value in the request excerpt is highlighted with its encoding
    assert re.search(r'<mark title="md5">[0-9a-f]{32}</mark>', html)


def test_timeline_data_has_consent_background_and_subjects(analysed_run):
    from monitor.report.context import load_report

    timeline = load_report(analysed_run).timeline
    assert timeline["consent"] and timeline["consent_state"] == "accepted"
    assert len(timeline["background"]) == 1
    series = {(item["kind"], item["subject"]) for item in timeline["series"]}
    assert ("read", "友盟+基础组件") in series and ("flow", "友盟+基础组件") in series and ("read", "App 自身") in series


def test_english_report(analysed_run, tmp_path):
    (path,), _ = write_reports(analysed_run, formats=["html"], out=tmp_path, lang="en")
    html = path.read_text(encoding="utf-8")
    assert "App personal information inspection report" in html and "before the user agreed to the privacy policy" in html


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_in_a_real_browser(html_report, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(html_report.as_uri())
            page.wait_for_selector("#timeline[data-rendered=true]", timeout=30_000)
            # plotly drew one point per read and flow, the consent line and the background span (shapes)
            assert page.locator("#timeline .scatterlayer .point").count() >= 5
            assert page.locator("#timeline .shapelayer path").count() >= 2
            assert "友盟+基础组件" in page.locator("#timeline .legend").text_content()
            case = page.locator("details.case").first
            assert case.get_attribute("open") is None
            case.locator("summary").click()
            assert case.get_attribute("open") is not None
            # a case linked from the summary opens when followed
            link = page.locator("#summary a[href^='#case-']").nth(1)
            target = link.get_attribute("href")[1:]
            link.click()
            page.wait_for_function("id => document.getElementById(id).open", arg=target)
            assert case.locator("pre.stack .frame-sdk").count() + case.locator("pre.stack .frame-app").count() > 0
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert not errors, errors
