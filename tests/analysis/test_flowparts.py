"""A flow is cut into the parts a finding names, read in full from a real flows.mitm."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from mitmproxy import http, io
from mitmproxy.test import tflow
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from monitor.analysis.flowparts import iter_flow_parts, parent_fields
from monitor.store.flows import load_flows
from monitor.analysis.matching import match_run
from monitor.errors import RunDirError
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter

IMEI = "864398046598172"


def parts(flow: http.HTTPFlow) -> dict[str, bytes]:
    collected: dict[str, bytes] = {}
    for part in iter_flow_parts(flow):
        assert part.flow_id == flow.id
        assert part.field not in collected, f"{part.field} yielded twice"
        collected[part.field] = part.data
    return collected


def request(body: bytes, content_type: str, url: str = "https://api.example.com/v1/up?a=1&imei=" + IMEI) -> http.HTTPFlow:
    return tflow.tflow(req=http.Request.make("POST", url, body, {"content-type": content_type, "cookie": "sid=abc; did=xyz"}))


def test_url_query_headers_and_cookies() -> None:
    got = parts(request(b"", "text/plain"))
    assert got["url"] == b"https://api.example.com/v1/up?a=1&imei=" + IMEI.encode()
    assert got["path"] == b"/v1/up"
    assert got["query:imei"] == IMEI.encode()
    assert got["header:content-type"] == b"text/plain"
    assert got["cookie:did"] == b"xyz" and got["header:cookie"] == b"sid=abc; did=xyz"
    assert "body" not in got


def test_json_body_leaves_and_json_inside_strings() -> None:
    body = json.dumps({"dev": {"ids": [IMEI, 42]}, "data": json.dumps({"oaid": "o-1"}), "ok": True}).encode()
    got = parts(request(body, "application/json; charset=utf-8"))
    assert got["body"] == body
    assert got["body.json:dev.ids[0]"] == IMEI.encode()
    assert got["body.json:dev.ids[1]"] == b"42"
    assert got["body.json:data.json:oaid"] == b"o-1"
    assert "body.json:ok" not in got


def test_form_and_multipart_fields() -> None:
    form = parts(request(f"imei={IMEI}&payload=%7B%22k%22%3A%22v%22%7D".encode(), "application/x-www-form-urlencoded"))
    assert form["form:imei"] == IMEI.encode() and form["form:payload.json:k"] == b"v"
    multipart_body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n\x00\x01" + IMEI.encode()
                      + b"\r\n--XyZ--\r\n")
    multipart = parts(request(multipart_body, "multipart/form-data; boundary=XyZ"))
    assert multipart["multipart:file"] == b"\x00\x01" + IMEI.encode()


@pytest.mark.parametrize("compress,field", [(gzip.compress, "body.gunzip"), (zlib.compress, "body.inflate")])
def test_body_the_app_compressed_itself_is_inflated(compress, field: str) -> None:
    inner = json.dumps({"imei": IMEI}).encode()
    got = parts(request(compress(inner), "application/octet-stream"))
    assert got[field] == inner and got[f"{field}.json:imei"] == IMEI.encode()


def test_websocket_messages_both_directions() -> None:
    flow = tflow.tflow(ws=True)
    before = len(flow.websocket.messages)
    flow.websocket.messages.append(WebSocketMessage(Opcode.TEXT, True, json.dumps({"imei": IMEI}).encode()))
    flow.websocket.messages.append(WebSocketMessage(Opcode.BINARY, False, b"\x00ack"))
    got = parts(flow)
    assert got[f"ws:{before}:client.json:imei"] == IMEI.encode()
    assert got[f"ws:{before + 1}:server"] == b"\x00ack"


def test_parent_fields() -> None:
    assert parent_fields("form:d.json:a.b") == ["form:d", "body"]
    assert parent_fields("body.gunzip.json:x") == ["body.gunzip", "body"]
    assert parent_fields("query:imei") == ["url"]
    assert parent_fields("path") == ["url"]
    assert parent_fields("cookie:did") == ["header:cookie"]
    assert parent_fields("ws:3:client.json:k") == ["ws:3:client"]
    assert parent_fields("body") == [] and parent_fields("url") == []


def write_run(root: Path, flows: list[http.HTTPFlow], events: list[dict]) -> None:
    with RunWriter(root, run_info={"app": {"package": "com.example.shop", "domains": ["example.com"]}}) as writer:
        for event in events:
            writer.append(event)
        with open(root / "flows.mitm", "wb") as handle:
            out = io.FlowWriter(handle)
            for flow in flows:
                out.add(flow)


def test_load_flows_reads_full_bodies_and_match_run_links_the_read(tmp_path: Path) -> None:
    big = b"x" * (24 << 20) + f'"imei":"{IMEI}"'.encode()  # the value sits after 24 MB: matching is not capped
    flow = request(big, "application/octet-stream", url="https://api.example.com/v1/up")
    flow.request.http_version = "HTTP/2.0"
    app_flow = request(b"pkg=com.example.shop", "text/plain", url="https://api.example.com/v1/ping")
    ts = 1_700_000_000_000_000_000
    write_run(tmp_path / "run", [flow, app_flow], [
        {"source": "hook", "kind": "pi_read", "ts": ts, "category": "device_id", "api": "android.telephony.TelephonyManager.getImei", "value": IMEI},
        {"source": "hook", "kind": "pi_read", "ts": ts + 1, "category": "installed_apps", "api": "p.M.getInstalledPackages",
         "value": "1 items", "payload": {"count": 1, "items": ["com.example.shop"], "sha256": "0"}},
        {"source": "net", "kind": "flow", "ts": ts + 2, "flow_id": flow.id, "payload": {"url": flow.request.url}},
        {"source": "net", "kind": "flow", "ts": ts + 3, "flow_id": app_flow.id, "payload": {"url": app_flow.request.url}},
    ])
    loaded = load_flows(tmp_path / "run")
    assert [f.id for f in loaded] == [flow.id, app_flow.id]
    assert loaded[0].request.content == big and loaded[0].request.http_version == "HTTP/2.0"
    found = match_run(read_run(tmp_path / "run"))
    exact = found[found["confidence"] == "exact"]
    # The app's own package name in its own traffic is not evidence of reading installed apps.
    assert list(zip(exact["flow_id"], exact["event_seq"], exact["value"], exact["field"], exact["offset"])) == [
        (flow.id, 0, IMEI, "body", len(big) - len(IMEI) - 1)]


def test_corrupt_or_missing_flows_file_is_a_clear_error(tmp_path: Path) -> None:
    write_run(tmp_path / "run", [request(b"a", "text/plain")] * 2, [])
    path = tmp_path / "run" / "flows.mitm"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(RunDirError, match="flows.mitm: unreadable after 1 flows") as error:
        load_flows(tmp_path / "run")
    assert error.value.hint
    path.unlink()
    with pytest.raises(RunDirError, match="flows.mitm is missing"):
        load_flows(tmp_path / "run")


def test_match_run_refuses_a_run_whose_flows_file_was_lost(tmp_path: Path) -> None:
    flow = request(b"a", "text/plain")
    write_run(tmp_path / "run", [flow], [{"source": "net", "kind": "flow", "ts": 1, "flow_id": flow.id, "payload": {}}])
    run = read_run(tmp_path / "run")
    (tmp_path / "run" / "flows.mitm").unlink()
    with pytest.raises(RunDirError, match="records 1 flows"):
        match_run(run)


def test_match_run_without_any_traffic_is_empty(tmp_path: Path) -> None:
    with RunWriter(tmp_path / "run", run_info={}) as writer:
        writer.append({"source": "hook", "kind": "pi_read", "ts": 1, "category": "device_id", "value": IMEI})
    assert match_run(read_run(tmp_path / "run")).empty
