"""Real mitmproxy on loopback: what a client really sent through the proxy is found in flows.mitm.

A local HTTPS server (self-signed certificate made here) and a local WebSocket server stand in for an
SDK's endpoint; mitmproxy's DumpMaster runs in-process and streams flows to flows.mitm, exactly as
capture does. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
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
from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

from monitor.analysis.flowparts import load_flows
from monitor.analysis.matching import match_flows

pytestmark = [pytest.mark.proxy, pytest.mark.timeout(90)]

from monitor.testing.servers import LOOPBACK, self_signed_cert
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


def serve_one_websocket(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    with connection:
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        while True:
            data = connection.recv(65536)
            if not data:
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, ws_events.Request):
                    connection.sendall(ws.send(ws_events.AcceptConnection()))
                elif isinstance(event, ws_events.TextMessage):
                    connection.sendall(ws.send(ws_events.TextMessage(data="ack")))
                elif isinstance(event, ws_events.CloseConnection):
                    connection.sendall(ws.send(event.response()))
                    return


@pytest.fixture
def websocket_server() -> Iterator[int]:
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(1)
    thread = threading.Thread(target=serve_one_websocket, args=(listener,), daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


class Ready:
    def __init__(self) -> None:
        self.event = threading.Event()

    def running(self) -> None:
        self.event.set()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """(port, CA certificate, run directory holding flows.mitm) of a live mitmproxy."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    confdir = tmp_path / "mitmproxy"
    ready = Ready()
    holder: dict[str, DumpMaster] = {}

    async def main() -> None:
        try:
            opts = options.Options(confdir=str(confdir))
            master = DumpMaster(opts, with_termlog=False, with_dumper=False)
            # The addons that declare these options exist only once the master is built.
            opts.update(listen_host=LOOPBACK, listen_port=0, ssl_insecure=True, connection_strategy="lazy",
                        save_stream_file=str(run_dir / "flows.mitm"))
            master.addons.add(ready)
            holder["master"] = master
            await master.run()
        except BaseException as exc:
            holder["error"] = exc
            ready.event.set()
            raise

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.event.wait(30), "mitmproxy did not start"
    assert "error" not in holder, f"mitmproxy failed to start: {holder.get('error')!r}"
    master = holder["master"]
    port = master.addons.get("proxyserver").listen_addrs()[0][1]
    yield port, confdir / "mitmproxy-ca-cert.pem", run_dir
    master.shutdown()
    thread.join(30)


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
    proxy_port, ca, run_dir = proxy
    aid_md5 = hashlib.md5(ANDROID_ID.encode()).hexdigest()
    assert post_gzip_json_through(proxy_port, ca, https_server, {"device": {"aid": aid_md5}, "ev": "launch"}) == 200
    assert websocket_through(proxy_port, websocket_server, json.dumps({"op": "bind", "imei": IMEI})) == "ack"

    # Flows reach flows.mitm when the exchange (or the WebSocket) ends; stop the proxy to flush them all.
    for _ in range(100):
        if (run_dir / "flows.mitm").exists() and len(load_flows(run_dir)) >= 2:
            break
        threading.Event().wait(0.1)
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
