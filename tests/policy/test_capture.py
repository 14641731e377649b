"""The privacy policy a run showed is kept as evidence: notice texts with their links, HTML handed to a
WebView, policy pages fetched through the proxy; stored once each under policy/ with where they came from."""

from __future__ import annotations

import json

from mitmproxy import io
from mitmproxy.test import tflow

from monitor.policy.capture import FETCH_HEADER, collect_policy_documents, unopened_links
from monitor.store.policy import read_policy_documents
from monitor.testing.factories import at, notice_text, write_run

POLICY_URL = "https://app.example.com/privacy.html"
TERMS_URL = "https://app.example.com/terms.html"
POLICY_HTML = "<!doctype html><html><body><h1>隐私政策</h1><p>我们收集您的设备标识符。</p></body></html>"


def _webview(ts: int, api: str, value: str, payload: dict | None = None) -> dict:
    return {"source": "hook", "kind": "webview", "ts": ts, "category": "page_load", "api": api, "value": value,
            "payload": payload, "stack": ["com.example.demo.MainActivity.onCreate(MainActivity.java:42)"]}


def _mitm(root, flows) -> None:
    with open(root / "flows.mitm", "wb") as handle:
        writer = io.FlowWriter(handle)
        for flow in flows:
            writer.add(flow)


def _page(url: str, body: str, content_type: str = "text/html; charset=utf-8", *, ours: bool = False):
    flow = tflow.tflow(resp=True)
    flow.request.url = url
    if ours:
        flow.request.headers[FETCH_HEADER] = "policy"
    flow.response.headers["content-type"] = content_type
    flow.response.content = body.encode("utf-8")
    return flow


def test_notice_webview_data_and_loaded_pages_are_stored_once_each(tmp_path):
    root = write_run(tmp_path / "run", [
        notice_text(ts=at(1), text="欢迎使用！请阅读《用户协议》和《隐私政策》", links=[TERMS_URL, POLICY_URL]),
        _webview(at(2), "android.webkit.WebView.loadUrl", POLICY_URL),
        _webview(at(3), "android.webkit.WebView.loadDataWithBaseURL", "<html><body>SDK清单 友盟+</body></html>",
                 {"base_url": "file:///android_asset/", "mime": "text/html"}),
    ])
    _mitm(root, [_page(POLICY_URL, POLICY_HTML),
                 _page("https://cdn.example.com/logo.png", "not html", "image/png"),
                 _page("https://app.example.com/news.html", "<html><body>今日新闻</body></html>")])
    assert unopened_links(root) == [TERMS_URL]
    collected = collect_policy_documents(root)
    documents = read_policy_documents(root)
    assert collected.stored == 3 and collected.links == [TERMS_URL, POLICY_URL]
    by_source = {document.source: document for document in documents}
    assert set(by_source) == {"dialog", "webview", "flow"}
    assert "《隐私政策》" in by_source["dialog"].data.decode() and POLICY_URL in by_source["dialog"].data.decode()
    assert by_source["dialog"].event_seq == 0
    assert by_source["webview"].url == "file:///android_asset/"
    assert by_source["flow"].url == POLICY_URL and by_source["flow"].flow_id
    assert by_source["flow"].data == POLICY_HTML.encode()
    # Collecting again (a re-run of the step) stores nothing twice.
    assert collect_policy_documents(root).stored == 0
    assert len(read_policy_documents(root)) == 3


def test_a_page_that_reads_like_a_policy_is_kept_even_when_no_webview_loaded_it(tmp_path):
    root = write_run(tmp_path / "run", [])
    gbk = "<html><head><meta charset='gbk'></head><body>个人信息保护政策</body></html>"
    flow = _page("https://app.example.com/p", "")
    flow.response.content = gbk.encode("gb18030")
    flow.response.headers["content-type"] = "text/html; charset=gbk"
    _mitm(root, [flow, _page(TERMS_URL, "<html><body>协议</body></html>", ours=True)])
    collect_policy_documents(root)
    documents = read_policy_documents(root)
    assert [(d.source, d.url) for d in documents] == [("flow", "https://app.example.com/p"), ("fetch", TERMS_URL)]
    sidecar = json.loads((root / "policy" / "0001.json").read_text())
    assert sidecar["content_type"] == "text/html; charset=gbk"


def test_a_run_without_notice_or_pages_stores_nothing(tmp_path):
    root = write_run(tmp_path / "run", [notice_text(ts=at(1), text="隐私", links=["javascript:void(0)"])])
    assert unopened_links(root) == []
    assert collect_policy_documents(root).links == []


def test_a_notice_drawn_without_textview_is_read_from_the_scenarios_ui_dump(tmp_path):
    """Compose and WebView-drawn dialogs never call TextView.setText; uiautomator still sees their text."""
    root = write_run(tmp_path / "run", [])
    dump = ("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">"
            "<node text=\"\" class=\"android.view.View\" bounds=\"[0,0][1080,2340]\">"
            "<node text=\"温馨提示\" class=\"android.view.View\" bounds=\"[60,600][1020,700]\" />"
            "<node text=\"请您阅读《隐私政策》，我们将收集设备标识符用于安全风控\" class=\"android.view.View\" bounds=\"[60,700][1020,900]\" />"
            "<node content-desc=\"Privacy Policy\" class=\"android.view.View\" bounds=\"[60,900][1020,1000]\" />"
            "<node text=\"同意\" class=\"android.widget.Button\" bounds=\"[560,1500][980,1600]\" /></node></hierarchy>")
    (root / "screens" / "003-consent-ui.xml").write_text(dump, encoding="utf-8")
    (root / "screens" / "004-broken.xml").write_text("<hierarchy><node", encoding="utf-8")
    assert collect_policy_documents(root).stored == 1
    (document,) = read_policy_documents(root)
    assert document.source == "ui_dump"
    assert document.data.decode() == "请您阅读《隐私政策》，我们将收集设备标识符用于安全风控\nPrivacy Policy"
