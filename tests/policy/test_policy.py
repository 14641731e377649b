"""The policy parser: text extraction, SDK-list layouts, the declared scope's forms, bad input, `consentmon scope`."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.data import load_catalogue, load_scope
from monitor.data.policy_models import load_policy_words
from monitor.data.rule_models import ScopeFile
import monitor.data
from monitor.policy import (PolicyCharsetError, PolicyFetchError, PolicyFormatError, PolicySourceError, declared_scope,
                            parse_policy, read_policy_documents, scope_from_declared, write_policy_document)
from monitor.policy.text import to_document
from policy_scoring import Score, load_labels, score

CORPUS = Path(__file__).parent / "corpus"
REAL = Path(os.environ.get("CONSENTMON_REAL_POLICIES", Path(__file__).resolve().parents[3] / "shared" / "policies"))


def _score_folder(folder: Path) -> Score:
    total = Score()
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json" or not path.stem.isdigit():
            continue
        total.add(score(declared_scope(path), load_labels(path.with_suffix(".json"))))
    return total


def _assert_quality(total: Score) -> None:
    detail = f"missed {total.missed[:10]}, extra {total.extra[:10]}, PI {total.pi_misses[:5]}"
    assert total.recall >= 0.95, detail
    assert total.precision >= 0.95, detail
    assert total.pi_recall >= 0.90, detail
    assert total.pi_precision >= 0.90, detail


def test_own_corpus_quality() -> None:
    documents = [path for path in CORPUS.iterdir() if path.suffix != ".json"]
    assert len(documents) >= 21
    total = _score_folder(CORPUS)
    assert total.labelled >= 330
    _assert_quality(total)


@pytest.mark.skipif(not (REAL / "README.md").exists(), reason="the real policies (../shared/policies) are not here")
def test_real_policies_quality() -> None:
    total = _score_folder(REAL)
    assert total.labelled == 223
    _assert_quality(total)


# ---- the vocabulary -----------------------------------------------------------------------------------------
def test_policy_words_categories_are_the_catalogues() -> None:
    known = set(load_catalogue().categories()) | set(yaml.safe_load((Path(monitor.data.__file__).parent / "app_types.yaml").read_text(encoding="utf-8"))["categories"])
    unknown = load_policy_words().categories() - known
    assert not unknown, f"policy_words.yaml names categories nobody else knows: {unknown}"


# ---- layouts, one small case each ----------------------------------------------------------------------------
def test_labelled_blocks_with_drifting_labels_and_offsets() -> None:
    text = ("第三方SDK清单\n1.统计类\n    SDK名称：友盟统计SDK\n    使用目的：统计\n    收集个人信息类型：IMEI、Android ID、应用列表\n\n"
            "    名称：高德定位SDK\n    SDK使用目的：定位\n    收集个人信息类型：位置信息（经纬度）、WiFi信息\n")
    scope = parse_policy(text, source="inline")
    assert [sdk.name for sdk in scope.sdks] == ["友盟统计SDK", "高德定位SDK"]
    umeng, amap = scope.sdks
    assert text[umeng.offset:umeng.offset + len(umeng.name)] == umeng.name
    assert [item.text for item in umeng.pi] == ["IMEI", "Android ID", "应用列表"]
    assert umeng.categories() == ["device_id", "installed_apps"]
    assert umeng.sdk_id == "umeng-analytics" and "友盟统计" in (umeng.match_reason or "")
    assert amap.sdk_id == "amap"
    assert amap.categories() == ["location", "wifi"]


def test_flattened_table_with_merged_cells() -> None:
    text = ("功能类型\n第三方SDK名称\n使用场景\n个人信息字段\n第三方机构名称\n\n"
            "地图类\n百度地图\n推荐附近医院\n位置信息、设备相关信息（IMEI、MAC地址）\n北京百度网讯科技有限公司\n\n"
            "极光推送\n推送消息\n设备标识符\n深圳市和讯华谷信息技术有限公司\n\n"
            "统计类\n友盟+\n统计\n设备信息、剪切板\n友盟同欣（北京）科技有限公司\n")
    scope = parse_policy(text, source="inline")
    assert [(sdk.name, sdk.company) for sdk in scope.sdks] == [
        ("百度地图", "北京百度网讯科技有限公司"), ("极光推送", "深圳市和讯华谷信息技术有限公司"), ("友盟+", "友盟同欣（北京）科技有限公司")]
    assert [item.text for item in scope.sdks[0].pi] == ["位置信息", "设备相关信息（IMEI、MAC地址）"]
    assert "clipboard" in scope.sdks[2].categories()


def test_numbered_prose_rows() -> None:
    text = ("1.   我们使用了“友盟”的SDK，功能是统计，使用到的权限是“存储权限”，获取的用户信息是“IP地址”、“MAC地址”。\n"
            "2）小米推送SDK。为了推送通知，我行使用了小米推送SDK，该SDK需要获取您的手机型号、网络类型，用于实现推送服务。\n"
            "3）ZXing SDK。为了扫码，我们使用了zxing SDK，此SDK不会获取您的任何个人信息。\n")
    scope = parse_policy(text, source="inline")
    assert [sdk.name for sdk in scope.sdks] == ["友盟", "小米推送SDK", "ZXing SDK"]
    assert [item.text for item in scope.sdks[0].pi] == ["IP地址", "MAC地址"]
    assert [item.text for item in scope.sdks[1].pi] == ["手机型号", "网络类型"]
    assert scope.sdks[2].pi == []


def test_html_table_in_gbk_with_declared_charset() -> None:
    page = ("<html><head><meta charset='gbk'></head><body><p>我们会收集您的手机号码。</p><table>"
            "<tr><th>SDK名称</th><th>使用目的</th><th>收集个人信息</th></tr>"
            "<tr><td>个推</td><td>推送</td><td>IMEI、运营商信息</td></tr></table></body></html>").encode("gbk")
    scope = parse_policy(page, source="page.html")
    assert scope.documents[0].charset == "gb18030"
    assert [(sdk.name, sdk.sdk_id, sdk.categories()) for sdk in scope.sdks] == [("个推", "getui", ["device_id", "carrier"])]
    assert [(item.category, item.text) for item in scope.app_pi] == [("phone_number", "手机号码")]


def test_gbk_without_a_declared_charset_is_detected() -> None:
    text = "第三方SDK清单\nSDK名称：极光推送SDK\n使用目的：推送消息通知给用户\n收集个人信息类型：设备标识符、网络信息\n" * 3
    scope = parse_policy(text.encode("gbk"), source="policy.txt")
    assert scope.sdks and scope.sdks[0].name == "极光推送SDK"


def test_unmapped_row_is_kept_as_written() -> None:
    scope = parse_policy("SDK名称：某某自研SDK\n使用目的：内部统计\n收集个人信息类型：设备型号\n", source="inline")
    assert scope.sdks[0].sdk_id is None and scope.sdks[0].name == "某某自研SDK"
    assert scope.sdks[0].pi[0].categories == ()


def test_policy_without_sdk_list_warns() -> None:
    scope = declared_scope(CORPUS / "15.txt")
    assert scope.sdks == [] and scope.warnings
    assert {item.category for item in scope.app_pi} >= {"phone_number", "location", "device_id", "clipboard"}


# ---- the two output forms ------------------------------------------------------------------------------------
def test_json_form_is_exactly_the_issue_shape() -> None:
    data = declared_scope(CORPUS / "01.html").as_json()
    assert set(data) == {"app_pi", "sdks", "documents", "warnings"}
    assert all(set(item) == {"category", "text", "offset"} for item in data["app_pi"])
    assert all(set(row) == {"name", "company", "sdk_id", "pi", "purpose", "offset"} for row in data["sdks"])
    assert all(set(item) == {"category", "text"} for row in data["sdks"] for item in row["pi"])
    json.dumps(data, ensure_ascii=False)


def test_scope_file_form_round_trips_through_analyze_scope(tmp_path: Path) -> None:
    declared = declared_scope(CORPUS / "06.txt")
    scope_file = scope_from_declared(declared)
    assert isinstance(scope_file, ScopeFile) and scope_file.sdks
    path = tmp_path / "scope.yaml"
    result = CliRunner().invoke(app, ["scope", str(CORPUS / "06.txt"), "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert load_scope(path) == scope_file


# ---- sources: URL, run directory ---------------------------------------------------------------------------
@pytest.fixture
def policy_server() -> Iterator[str]:
    page = (CORPUS / "02.html").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path == "/policy":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=GBK")
                self.end_headers()
                self.wfile.write(page)
            elif self.path == "/logo.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_source(policy_server: str) -> None:
    scope = declared_scope(f"{policy_server}/policy")
    assert len(scope.sdks) == 35 and scope.documents[0].url == f"{policy_server}/policy"
    with pytest.raises(PolicyFormatError, match="PNG image"):
        declared_scope(f"{policy_server}/logo.png")
    with pytest.raises(PolicyFetchError, match="HTTP 404"):
        declared_scope(f"{policy_server}/missing")


def test_unreachable_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PolicyFetchError, match="cannot fetch"):
        declared_scope(f"http://127.0.0.1:{port}/policy")


def test_run_directory_source(tmp_path: Path) -> None:
    write_policy_document(tmp_path, "我们会收集您的位置信息。", source="dialog", ts=1_767_225_600_000_000_000, event_seq=7,
                          content_type="text/plain")
    write_policy_document(tmp_path, (CORPUS / "02.html").read_bytes(), source="flow", url="https://example.com/privacy",
                          ts=1_767_225_601_000_000_000, flow_id="f-1", content_type="text/html; charset=gbk")
    stored = read_policy_documents(tmp_path)
    assert [(item.source, item.event_seq, item.flow_id) for item in stored] == [("dialog", 7, None), ("flow", None, "f-1")]
    scope = declared_scope(tmp_path)
    assert len(scope.documents) == 2 and scope.documents[1].flow_id == "f-1"
    assert len(scope.sdks) == 35 and all(sdk.document == 1 for sdk in scope.sdks)
    assert any(item.category == "location" and item.document == 0 for item in scope.app_pi)
    with pytest.raises(PolicySourceError):
        declared_scope(tmp_path / "not-there")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolicySourceError, match="no policy documents"):
        declared_scope(tmp_path / "empty")


# ---- bad input: one clear line, never a traceback -------------------------------------------------------------
@pytest.mark.parametrize(("content", "message"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "is a PDF"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
    (bytes(range(128, 256)) * 3, "cannot tell which charset"),
    (b"\x00\x01\x02\x03" * 50, "binary data"),
    (b"   \n", "is empty"),
])
def test_bad_documents_fail_with_one_clear_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "policy.html"
    path.write_bytes(content)
    with pytest.raises((PolicyFormatError, PolicyCharsetError), match=message):
        declared_scope(path)
    result = CliRunner().invoke(app, ["scope", str(path)])
    assert result.exit_code == 4  # a malformed file given (README "Exit codes")
    output = " ".join(result.output.split())  # rich wraps a long path at the terminal's width
    assert "Traceback" not in output and message in output


def test_cli_json_and_warning(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scope", str(CORPUS / "15.txt"), "--format", "json"])
    assert result.exit_code == 0
    assert "no SDK list" in result.output


def test_large_policy_is_fast() -> None:
    parts = [(CORPUS / name).read_text(encoding="utf-8") for name in ("03.txt", "04.txt", "06.txt", "08.txt", "10.md")]
    text = "\n\n".join(parts)
    text = (text * (300_000 // len(text.encode("utf-8")) + 1))
    start = time.perf_counter()
    scope = parse_policy(text, source="big.txt")
    elapsed = time.perf_counter() - start
    assert len(scope.sdks) > 100
    assert elapsed < 3.0  # the bench holds the 0.5 s figure; this only catches a blow-up on a shared machine


def test_empty_sdk_table_is_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "policy.html"
    path.write_text("<html><body><p>我们会收集您的手机号码。</p><h2>第三方SDK清单</h2><table><tr><th>SDK名称</th><th>使用目的</th>"
                    "<th>收集个人信息</th></tr></table></body></html>", encoding="utf-8")
    scope = declared_scope(path)
    assert scope.sdks == []
    assert len(scope.warnings) == 1 and "SDK名称 / 使用目的 / 收集个人信息" in scope.warnings[0] and "no rows" in scope.warnings[0]
    result = CliRunner().invoke(app, ["scope", str(path)])
    assert result.exit_code == 0 and "no rows" in result.output


def test_run_directory_warns_only_when_no_document_has_a_list(tmp_path: Path) -> None:
    write_policy_document(tmp_path, "请阅读《隐私政策》与《第三方SDK目录》后点击同意。", source="dialog", content_type="text/plain")
    write_policy_document(tmp_path, (CORPUS / "06.txt").read_bytes(), source="flow", content_type="text/plain")
    assert declared_scope(tmp_path).warnings == []
    only_dialog = tmp_path / "dialog-only"
    write_policy_document(only_dialog, "请阅读《隐私政策》与《第三方SDK目录》后点击同意。", source="dialog", content_type="text/plain")
    assert len(declared_scope(only_dialog).warnings) == 1


def test_html_table_spans() -> None:
    page = ("<table><tr><th>类别</th><th>SDK名称</th><th>使用场景</th><th>收集的个人信息</th><th>公司</th></tr>"
            "<tr><td rowspan=3>地图</td><td rowspan=2>高德地图SDK</td><td>定位</td><td>位置信息</td><td rowspan=2>高德软件有限公司</td></tr>"
            "<tr><td>搜索</td><td>设备标识符、IP地址</td></tr>"
            "<tr><td>百度地图SDK</td><td>导航</td><td>位置信息</td><td>北京百度网讯科技有限公司</td></tr></table>")
    scope = parse_policy(page, source="spans.html", content_type="text/html")
    assert [(sdk.name, sdk.company, [item.text for item in sdk.pi]) for sdk in scope.sdks] == [
        ("高德地图SDK", "高德软件有限公司", ["位置信息", "设备标识符", "IP地址"]),
        ("百度地图SDK", "北京百度网讯科技有限公司", ["位置信息"])]


def test_every_item_quotes_where_it_is_written() -> None:
    """Offsets point into the document's extracted text: the row's name, each PI item and each app-level word."""
    for path in sorted(CORPUS.iterdir()):
        if path.suffix == ".json" or not path.stem.isdigit():
            continue
        scope = declared_scope(path)
        text = to_document(path.read_bytes(), name=path.name).text
        squeeze = lambda value: "".join(value.split())  # noqa: E731 - names and items may wrap over lines
        for sdk in scope.sdks:
            assert squeeze(sdk.name) in squeeze(text[sdk.offset:sdk.offset + len(sdk.name) + 20]), (path.name, sdk.name)
            for item in sdk.pi:
                assert squeeze(item.text) in squeeze(text[item.offset:item.offset + len(item.text) + 40]), (path.name, item.text)
        for word in scope.app_pi:
            assert text[word.offset:word.offset + len(word.text)] == word.text


@pytest.mark.parametrize("encoding", ["utf-16", "big5", "gb18030", "utf-8-sig"])
def test_other_charsets(encoding: str) -> None:
    text = "第三方SDK清單\nSDK名稱：友盟統計SDK\n使用目的：統計分析\n收集個人信息類型：IMEI、MAC地址、位置信息\n" * 2
    if encoding == "gb18030":
        text = text.replace("清單", "清单").replace("名稱", "名称")
    scope = parse_policy(text.encode(encoding), source=f"policy-{encoding}.txt")
    assert scope.sdks and scope.sdks[0].name == "友盟統計SDK"
    assert scope.sdks[0].categories() == ["device_id", "location"]


def test_label_and_value_separated_by_spaces_or_tabs() -> None:
    scope = parse_policy("第三方SDK清单\nSDK名称 友盟统计SDK\n使用目的 统计分析\n收集个人信息 IMEI、OAID\n\n"
                         "SDK名称\t个推\n使用目的\t推送\n收集个人信息\tIMEI、MAC地址\n", source="kv.txt")
    assert [(sdk.name, [item.text for item in sdk.pi]) for sdk in scope.sdks] == [
        ("友盟统计SDK", ["IMEI", "OAID"]), ("个推", ["IMEI", "MAC地址"])]


def test_fields_labelled_inline_on_one_line() -> None:
    scope = parse_policy("第三方SDK清单\n1、SDK名称：友盟统计；使用目的：统计分析；收集信息：IMEI、OAID；第三方公司：北京锐讯灵通科技有限公司\n"
                         "SDK名称：个推推送SDK  使用目的：推送  收集信息：IMEI、MAC地址\n", source="inline.txt")
    assert [(sdk.name, sdk.company, [item.text for item in sdk.pi]) for sdk in scope.sdks] == [
        ("友盟统计", "北京锐讯灵通科技有限公司", ["IMEI", "OAID"]), ("个推推送SDK", None, ["IMEI", "MAC地址"])]


def test_policy_served_as_json() -> None:
    page = (CORPUS / "01.html").read_text(encoding="utf-8")
    body = json.dumps({"code": 0, "data": {"title": "隐私政策", "content": page}}, ensure_ascii=False).encode("utf-8")
    scope = parse_policy(body, source="https://example.com/api/policy", content_type="application/json")
    assert len(scope.sdks) == 12 and scope.documents[0].kind == "html"
    with pytest.raises(PolicyFormatError, match="holds no text"):
        parse_policy(b'{"code": 0, "data": null}', source="api", content_type="application/json")


def test_the_same_document_twice_is_read_once(tmp_path: Path) -> None:
    page = (CORPUS / "01.html").read_bytes()
    write_policy_document(tmp_path, page, source="webview", url="https://example.com/p", content_type="text/html")
    write_policy_document(tmp_path, page, source="flow", url="https://example.com/p", flow_id="f-9", content_type="text/html")
    scope = declared_scope(tmp_path)
    assert len(scope.sdks) == 12 and len(scope.documents) == 2
    assert scope.documents[1].duplicate_of == 0 and scope.documents[1].flow_id == "f-9"


def test_flattened_header_with_columns_not_read() -> None:
    text = ("第三方SDK清单\nSDK名称\n使用目的\n收集方式\n收集个人信息\n第三方机构名称\n\n"
            "友盟统计SDK\n统计分析\nSDK采集\nIMEI、OAID\n友盟同欣（北京）科技有限公司\n\n"
            "极光推送SDK\n消息推送\nSDK采集\n设备标识符、网络信息\n深圳市和讯华谷信息技术有限公司\n")
    scope = parse_policy(text, source="extra-column.txt")
    assert [(sdk.name, [item.text for item in sdk.pi]) for sdk in scope.sdks] == [
        ("友盟统计SDK", ["IMEI", "OAID"]), ("极光推送SDK", ["设备标识符", "网络信息"])]


def test_flattened_header_with_a_column_of_no_known_name() -> None:
    text = ("第三方SDK清单\nSDK名称\n使用目的\n接入方式\n收集个人信息\n第三方机构名称\n\n"
            "友盟统计SDK\n统计分析\n嵌入\nIMEI、OAID\n友盟同欣（北京）科技有限公司\n\n"
            "极光推送SDK\n消息推送\n嵌入\n设备标识符、网络信息\n深圳市和讯华谷信息技术有限公司\n")
    assert [sdk.name for sdk in parse_policy(text, source="unknown-column.txt").sdks] == ["友盟统计SDK", "极光推送SDK"]
    assert not parse_policy(text, source="unknown-column.txt").warnings


def test_row_named_by_its_vendor_maps_by_purpose() -> None:
    scope = parse_policy("第三方SDK清单\nSDK名称：小米\n使用目的：为小米手机用户推送通知\n收集个人信息：设备标识符\n\n"
                         "SDK名称：华为\n使用目的：统计\n收集个人信息：设备标识符\n", source="vendors.txt")
    assert [(sdk.name, sdk.sdk_id) for sdk in scope.sdks] == [("小米", "xiaomi-push"), ("华为", "huawei-analytics")]
    assert "vendor" in (scope.sdks[0].match_reason or "")


def test_markdown_pipe_table_without_outer_pipes() -> None:
    text = ("# 隐私政策\n\n## 第三方SDK\n\nSDK名称 | 公司 | 用途 | 收集的个人信息\n---|---|---|---\n"
            "友盟统计 | 友盟同欣（北京）科技有限公司 | 统计 | IMEI、OAID\n个推 | 每日互动股份有限公司 | 推送 | IMEI、MAC地址\n")
    scope = parse_policy(text, source="pipes.md")
    assert [(sdk.name, sdk.company) for sdk in scope.sdks] == [("友盟统计", "友盟同欣（北京）科技有限公司"), ("个推", "每日互动股份有限公司")]
    assert scope.warnings == []
