"""Real mitmproxy on loopback, real HTTPS clients and servers: what the app sends is recorded."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import ssl
import urllib.error
import urllib.request

import pytest

from monitor.capture.proxy import CaptureProxy, free_port
from monitor.errors import CaptureError
from monitor.store import FLOWS_FILE, MITM_FILE
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter
from support.servers import LOOPBACK, https_server

pytestmark = pytest.mark.proxy


def _opener(proxy: CaptureProxy) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=str(proxy.ca_cert))
    proxies = {"https": f"http://{LOOPBACK}:{proxy.port}", "http": f"http://{LOOPBACK}:{proxy.port}"}
    return urllib.request.build_opener(urllib.request.ProxyHandler(proxies), urllib.request.HTTPSHandler(context=context))


def _post(opener: urllib.request.OpenerDirector, url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with opener.open(request, timeout=15) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def confdir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "mitmproxy-conf"


def test_https_post_is_recorded_with_its_decoded_body(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with https_server(tmp_path) as server, CaptureProxy(writer, run_dir, confdir=confdir, ssl_insecure=True) as proxy:
        body = gzip.compress(json.dumps({"imei": "867530912345675"}).encode())
        status = _post(_opener(proxy), f"https://{LOOPBACK}:{server.port}/collect?x=1", body,
                       {"content-encoding": "gzip", "content-type": "application/json"})
    writer.close()
    assert status == 200
    assert server.received and server.received[0].body == body  # forwarded unchanged
    run = read_run(run_dir)
    flows = run.events[run.events["kind"] == "flow"]
    assert len(flows) == 1
    payload = flows.iloc[0]["payload"]
    assert payload["method"] == "POST" and payload["status"] == 200
    assert payload["url"] == f"https://{LOOPBACK}:{server.port}/collect?x=1"
    record = run.flows[0]
    assert record["flow_id"] == flows.iloc[0]["flow_id"]
    assert json.loads(record["request"]["body"]) == {"imei": "867530912345675"}  # decoded for reading
    assert (run_dir / MITM_FILE).stat().st_size > 0 and (run_dir / FLOWS_FILE).exists()


def test_request_to_an_unreachable_host_is_still_recorded(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    closed_port = free_port()  # nothing listens there: the upstream is unreachable
    with CaptureProxy(writer, run_dir, confdir=confdir) as proxy:
        status = _post(_opener(proxy), f"https://{LOOPBACK}:{closed_port}/track", b'{"android_id":"5f2c8e1a9b3d47e6"}')
    writer.close()
    assert status == 502
    run = read_run(run_dir)
    assert len(run.flows) == 1
    record = run.flows[0]
    assert record["request"]["body"] == '{"android_id":"5f2c8e1a9b3d47e6"}'
    assert record["error"] or record["status"] == 502


def test_offline_mode_answers_locally_and_records(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with CaptureProxy(writer, run_dir, confdir=confdir, block_upstream=True) as proxy:
        # A tracker host that does not resolve: with upstream blocked nothing is looked up or contacted.
        status = _post(_opener(proxy), "https://ulogs.umeng.invalid/unify_logs", b"imei=867530912345675")
    writer.close()
    assert status == 204
    record = read_run(run_dir).flows[0]
    assert record["host"] == "ulogs.umeng.invalid" and record["blocked_upstream"] is True


def test_client_that_refuses_the_ca_becomes_a_tls_failure_event(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with CaptureProxy(writer, run_dir, confdir=confdir, block_upstream=True) as proxy:
        # A pinning client: trusts only its own CA, so the proxy's certificate is refused.
        pinned = ssl.create_default_context(cafile=None)
        pinned.load_verify_locations(cadata=_unrelated_ca_pem(tmp_path))
        with socket.create_connection((LOOPBACK, proxy.port), timeout=10) as raw:
            raw.sendall(b"CONNECT pinned.example.invalid:443 HTTP/1.1\r\nHost: pinned.example.invalid:443\r\n\r\n")
            assert b"200" in raw.recv(4096)
            with pytest.raises(ssl.SSLError):
                pinned.wrap_socket(raw, server_hostname="pinned.example.invalid").do_handshake()
        deadline_events = _wait_for(lambda: proxy.addon.tls_failures >= 1)
    writer.close()
    assert deadline_events
    events = read_run(run_dir).events
    failures = events[events["kind"] == "tls_failed"]
    assert len(failures) == 1
    assert failures.iloc[0]["payload"]["sni"] == "pinned.example.invalid"
    assert failures.iloc[0]["payload"]["side"] == "client" and "pinning" in failures.iloc[0]["payload"]["likely"]


def test_a_server_whose_certificate_the_proxy_refuses_becomes_a_tls_failure_event_and_an_error_flow(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    # The proxy verifies upstream certificates (no --ssl-insecure); this server's is self-signed.
    with https_server(tmp_path) as server, CaptureProxy(writer, run_dir, confdir=confdir) as proxy:
        assert _post(_opener(proxy), f"https://localhost:{server.port}/collect", b"a=1") == 502
        assert _wait_for(lambda: proxy.addon.tls_failures >= 1)
    writer.close()
    assert server.received == []  # the request never reached the server: nothing left the proxy
    events = read_run(run_dir).events
    (failure,) = events[events["kind"] == "tls_failed"]["payload"].tolist()
    assert failure["side"] == "server" and failure["host"] == "localhost" and failure["port"] == server.port
    assert failure["sni"] == "localhost" and "certificate" in failure["error"].lower()
    # The app's request itself is still on record, decrypted, with the proxy's error.
    (flow,) = read_run(run_dir).flows
    assert flow["path"] == "/collect" and flow["request"]["body"] == "a=1" and flow["error"]


def test_a_flow_that_cannot_be_recorded_is_killed_and_the_failure_kept(tmp_path, confdir):
    import os

    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with CaptureProxy(writer, run_dir, confdir=confdir, block_upstream=True) as proxy:
        assert _post(_opener(proxy), "https://tracker.invalid/first", b"a=1") == 204
        spool = proxy.addon._spool  # noqa: SLF001 - the disk refuses the next write (a read-only descriptor)
        writable, spool._fd = spool._fd, os.open(os.devnull, os.O_RDONLY)  # noqa: SLF001
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            _opener(proxy).open(urllib.request.Request("https://tracker.invalid/x", data=b"a", method="POST"), timeout=10).read()
        with pytest.raises(CaptureError, match="cannot record flow"):
            proxy.check()
        os.close(spool._fd)  # noqa: SLF001
        spool._fd = writable  # noqa: SLF001
    writer.close()
    # The app never got an answer for the flow that could not be recorded; the one before it is whole.
    assert [flow["path"] for flow in read_run(run_dir).flows] == ["/first"]


def test_flows_the_run_cannot_take_at_the_end_stay_in_the_spool(tmp_path, confdir):
    run_dir = tmp_path / "run"

    class BrokenSink:
        def append(self, event):  # noqa: ANN001, ANN201
            raise CaptureError("disk full (simulated)")

        def append_many(self, events):  # noqa: ANN001, ANN201
            raise CaptureError("disk full (simulated)")

        def append_flow(self, record):  # noqa: ANN001, ANN201
            raise CaptureError("disk full (simulated)")

    RunWriter(run_dir, run_info={})
    with CaptureProxy(BrokenSink(), run_dir, confdir=confdir, block_upstream=True) as proxy:
        assert _post(_opener(proxy), "https://tracker.invalid/x", b"a=1") == 204  # in the spool before the answer
    with pytest.raises(CaptureError, match="disk full") as failure:
        proxy.check()
    assert "consentmon recover" in (failure.value.hint or "")
    assert (run_dir / "flows.spool").stat().st_size > 0


def _unrelated_ca_pem(directory) -> str:
    from support.servers import self_signed_cert
    other = directory / "other-ca"
    other.mkdir()
    cert, _ = self_signed_cert(other, "unrelated-ca.test")
    return cert.read_text()


def _wait_for(condition, timeout: float = 5.0) -> bool:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_flow_previews_keep_text_readable_and_binary_short():
    from mitmproxy.test import tflow

    from monitor.store.flows import BINARY_PREVIEW, _body

    text_flow = tflow.tflow()
    text_flow.request.content = ("设备标识" * 100_000).encode()   # 1.2 MB of UTF-8, cut inside a character
    record = _body(text_flow.request, 256 * 1024 + 1)
    assert record["body_encoding"] == "utf-8" and record["truncated"] and record["body"].startswith("设备标识")
    binary_flow = tflow.tflow()
    binary_flow.request.content = bytes(range(256)) * 4096             # 1 MiB, not text
    record = _body(binary_flow.request, 256 * 1024)
    assert record["body_encoding"] == "base64" and record["size"] == 1 << 20 and record["truncated"]
    assert len(base64.b64decode(record["body"])) == BINARY_PREVIEW


def _handshake_through(proxy: CaptureProxy, port: int) -> ssl.SSLSocket:
    raw = socket.create_connection((LOOPBACK, proxy.port), timeout=10)
    raw.sendall(f"CONNECT {LOOPBACK}:{port} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n\r\n".encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    context = ssl.create_default_context(cafile=str(proxy.ca_cert))
    context.check_hostname = False
    return context.wrap_socket(raw)


def test_a_client_closing_after_the_handshake_with_no_request_is_a_tls_failure(tmp_path, confdir):
    """Pinning checked after the handshake (OkHttp's CertificatePinner): the proxy's chain was accepted by TLS,
    refused by the app, and the connection closed before any request. A connection that sends one is not."""
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with https_server(tmp_path) as server, CaptureProxy(writer, run_dir, confdir=confdir, ssl_insecure=True) as proxy:
        _handshake_through(proxy, server.port).close()
        used = _handshake_through(proxy, server.port)
        used.sendall(f"GET /fine HTTP/1.1\r\nHost: {LOOPBACK}:{server.port}\r\nConnection: close\r\n\r\n".encode())
        assert b"200" in used.recv(4096)
        used.close()
    writer.close()
    run = read_run(run_dir)
    failed = run.events[run.events["kind"] == "tls_failed"]
    assert [(payload["side"], payload["host"], payload["port"]) for payload in failed["payload"]] == [
        ("client-closed-after-handshake", LOOPBACK, server.port)]
    assert (run.events["kind"] == "flow").sum() == 1
