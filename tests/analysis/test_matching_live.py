"""Real mitmproxy on loopback: what a client really sent through the proxy is found in flows.mitm.

A local HTTPS server (self-signed certificate made here) and a local WebSocket server stand in for an
SDK's endpoint; our capture proxy (mitmproxy in-process with the capture addon) records them into a run
directory exactly as `consentmon run` does. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import wsproto
import wsproto.events as ws_events
from monitor.store.flows import load_flows
from monitor.analysis.matching import match_flows
from monitor.capture.proxy import CaptureProxy
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter

pytestmark = [pytest.mark.proxy, pytest.mark.timeout(90)]

from support.servers import LOOPBACK, self_signed_cert
from support.servers import websocket_server as loopback_websocket_server

ANDROID_ID = "a1b2c3d4e5f60718"
IMEI = "864398046598172"


class Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return  # keep test output clean; the assertions say what happened


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[int]:
    cert, key = self_signed_cert(tmp_path)
    server = ThreadingHTTPServer((LOOPBACK, 0), Collector)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def websocket_server() -> Iterator[int]:
    """Answers every text message with "ack"."""
    with loopback_websocket_server(reply=lambda _text: "ack") as port:
        yield port


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[CaptureProxy, Path]]:
    """Our capture proxy, live, writing a real run directory: flows reach flows.mitm when it stops."""
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    capture = CaptureProxy(writer, run_dir, confdir=tmp_path / "mitmproxy", ssl_insecure=True).start()
    yield capture, run_dir
    capture.stop()
    writer.close()


def post_gzip_json_through(proxy_port: int, ca: Path, server_port: int, document: dict) -> int:
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection(LOOPBACK, proxy_port, context=context, timeout=20)
    connection.set_tunnel(LOOPBACK, server_port)
    body = gzip.compress(json.dumps(document).encode())
    connection.request("POST", "/v2/report?sdk=demo", body=body,
                       headers={"content-type": "application/json", "content-encoding": "gzip"})
    status = connection.getresponse().status
    connection.close()
    return status


def websocket_through(proxy_port: int, server_port: int, text: str) -> str:
    with socket.create_connection((LOOPBACK, proxy_port), timeout=20) as sock:
        sock.sendall(f"CONNECT {LOOPBACK}:{server_port} HTTP/1.1\r\nHost: {LOOPBACK}:{server_port}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        sock.sendall(ws.send(ws_events.Request(host=f"{LOOPBACK}:{server_port}", target="/push")))
        answer = None
        sent = closed = False
        while not closed:
            ws.receive_data(sock.recv(65536))
            for event in ws.events():
                if isinstance(event, ws_events.AcceptConnection) and not sent:
                    sock.sendall(ws.send(ws_events.TextMessage(data=text)))
                    sent = True
                elif isinstance(event, ws_events.TextMessage):
                    answer = event.data
                    sock.sendall(ws.send(ws_events.CloseConnection(code=1000)))
                elif isinstance(event, ws_events.CloseConnection):
                    closed = True
        return answer or ""


def test_md5_in_gzip_json_and_imei_in_websocket_are_linked(proxy, https_server: int, websocket_server: int) -> None:
    capture, run_dir = proxy
    proxy_port, ca = capture.port, capture.ca_cert
    aid_md5 = hashlib.md5(ANDROID_ID.encode()).hexdigest()
    assert post_gzip_json_through(proxy_port, ca, https_server, {"device": {"aid": aid_md5}, "ev": "launch"}) == 200
    assert websocket_through(proxy_port, websocket_server, json.dumps({"op": "bind", "imei": IMEI})) == "ack"

    capture.stop()  # flows.mitm and flows.jsonl are written from the spool when the capture stops
    capture.check()
    flows = load_flows(run_dir)
    assert len(flows) == 2
    needles = pd.DataFrame([(11, "device_id", "android.provider.Settings$Secure.getString", ANDROID_ID),
                            (12, "device_id", "android.telephony.TelephonyManager.getImei", IMEI)],
                           columns=["seq", "category", "api", "value"])
    found = match_flows(needles, flows)
    exact = found[found["confidence"] == "exact"]
    post_flow = next(f for f in flows if f.websocket is None)
    ws_flow = next(f for f in flows if f.websocket is not None)
    assert post_flow.request.raw_content[:2] == b"\x1f\x8b"  # it really travelled gzipped
    rows = sorted(zip(exact["flow_id"], exact["event_seq"], exact["field"], exact["encoding"]))
    ws_index = next(i for i, m in enumerate(ws_flow.websocket.messages) if m.from_client)
    assert rows == sorted([(post_flow.id, 11, "body.json:device.aid", "md5"),
                           (ws_flow.id, 12, f"ws:{ws_index}:client.json:imei", "plain")])
    # The pattern detector sees the IMEI too, but the hook's exact value already explains it.
    assert found[(found["flow_id"] == ws_flow.id) & (found["detector"] == "imei")].empty
    # flows.jsonl, the readable copy, keeps the WebSocket messages and the decoded body too.
    records = {record["flow_id"]: record for record in read_run(run_dir).flows}
    assert [message["content"] for message in records[ws_flow.id]["websocket"] if message["from_client"]] == \
        [json.dumps({"op": "bind", "imei": IMEI})]
    assert json.loads(records[post_flow.id]["request"]["body"]) == {"device": {"aid": aid_md5}, "ev": "launch"}

