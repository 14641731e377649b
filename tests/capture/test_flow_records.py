"""flows.mitm stays mitmproxy's own bytes, however the addon takes and encodes a flow's state; flows.jsonl is
derived from it when the capture finishes."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from mitmproxy import certs, http
from mitmproxy.io import FlowReader, tnetstring
from mitmproxy.test import tflow

from monitor.capture.addon import CaptureAddon
from monitor.capture.flowstate import fast_path_in_use, flow_state
from monitor.capture.proxy import CaptureProxy, free_port
from monitor.store.flows import FlowSpool, flow_record_bytes, spooled_states
from monitor.errors import CaptureError, RunDirError
from monitor.store import FLOWS_FILE, MITM_FILE, SPOOL_FILE
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter
from support.servers import LOOPBACK, https_server

from test_proxy_live import _opener, _post

pytestmark = pytest.mark.proxy


@pytest.fixture
def confdir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "mitmproxy-conf"


def _records(path: Path) -> list[bytes]:
    """flows.mitm cut into its records, as bytes."""
    data = path.read_bytes()
    stream = io.BytesIO(data)
    records = []
    while stream.tell() < len(data):
        start = stream.tell()
        tnetstring.load(stream)
        records.append(data[start:stream.tell()])
    return records


def test_flows_mitm_holds_exactly_what_mitmproxy_writes_for_each_flow(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with https_server(tmp_path) as server, CaptureProxy(writer, run_dir, confdir=confdir, ssl_insecure=True) as proxy:
        opener = _opener(proxy)
        assert _post(opener, f"https://{LOOPBACK}:{server.port}/collect", b'{"oaid":"a1b2c3d4"}') == 200
        assert _post(opener, f"http://{LOOPBACK}:{server.port}/plain", b"x=1") in (400, 502)  # TLS server, plain request
        assert _post(opener, f"https://{LOOPBACK}:{free_port()}/gone", b"imei=867530912345675") == 502
        # A large body is spooled straight from the flow's bytes, beside its msgpack head (records.spool_frame).
        assert _post(opener, f"https://{LOOPBACK}:{server.port}/upload", bytes(range(256)) * 8192) == 200
        assert _post(opener, f"https://{LOOPBACK}:{server.port}/after", b'{"n":1}') == 200
    writer.close()
    records = _records(run_dir / MITM_FILE)
    with open(run_dir / MITM_FILE, "rb") as handle:
        flows = list(FlowReader(handle).stream())
    assert len(records) == len(flows) == 5
    assert len(flows[3].request.content) == 2 << 20 and flows[4].request.path == "/after"
    # Each record is mitmproxy's own serialisation of the flow it holds: FlowWriter would write these bytes.
    for record, flow in zip(records, flows):
        assert tnetstring.dumps(flow.get_state()) == record
    assert flows[0].server_conn.certificate_list, "the HTTPS flow keeps the upstream's certificate"
    assert len(read_run(run_dir).flows) == 5


def _ca_cert(confdir: Path) -> certs.Cert:
    from monitor.capture.ca import ensure_ca
    return certs.Cert.from_pem(Path(ensure_ca(confdir)).read_bytes())


def _sample_flows(confdir: Path) -> list[http.HTTPFlow]:
    cert = _ca_cert(confdir)
    with_tls = tflow.tflow(resp=True)
    with_tls.client_conn.certificate_list = [cert]
    with_tls.client_conn.mitmcert = cert
    with_tls.client_conn.alpn_offers = [b"h2", b"http/1.1"]
    with_tls.client_conn.cipher_list = ["TLS_AES_128_GCM_SHA256"]
    with_tls.server_conn.certificate_list = [cert, cert]
    with_tls.server_conn.timestamp_start = 1_767_225_600.25
    with_tls.request.http_version = "HTTP/2.0"
    backed_up = tflow.tflow(resp=True)
    backed_up.backup()
    backed_up.request.path = "/changed"
    noted = tflow.tflow(resp=True)
    noted.metadata["consentmon"] = {"note": ["a", 1]}
    noted.comment, noted.marked, noted.is_replay = "seen", ":red_circle:", "request"
    return [tflow.tflow(), tflow.tflow(resp=True), tflow.tflow(err=True), tflow.twebsocketflow(), with_tls, backed_up, noted]


def test_the_fast_flow_state_is_byte_for_byte_get_state(confdir):
    assert fast_path_in_use()
    for flow in _sample_flows(confdir):
        assert flow_record_bytes(flow_state(flow)) == tnetstring.dumps(flow.get_state())


def test_a_value_the_fast_path_does_not_expect_gets_mitmproxys_own_answer(confdir):
    flow = tflow.tflow(resp=True)
    flow.client_conn.timestamp_start = 7  # an int where a float is declared: mitmproxy stores 7.0
    assert flow_record_bytes(flow_state(flow)) == tnetstring.dumps(flow.get_state())
    flow.client_conn.tls_version = "TLSv9"  # outside the Literal: mitmproxy's own error, not a silent value
    with pytest.raises(ValueError):
        flow.get_state()
    with pytest.raises(ValueError):
        flow_state(flow)


def test_records_follow_a_keep_alive_connection_as_it_changes(confdir):
    first = tflow.tflow(resp=True)
    flows = [first]
    for change in range(4):
        flow = tflow.tflow(resp=True)
        flow.client_conn, flow.server_conn = first.client_conn, first.server_conn  # one keep-alive connection
        flows.append(flow)
    for index, flow in enumerate(flows):
        if index == 2:
            first.server_conn.timestamp_end = 1_767_225_601.5  # the connection changes under later flows
        if index == 3:
            first.client_conn.alpn_offers = [b"h2"]
        if index == 4:
            first.client_conn.certificate_list = [_ca_cert(confdir)]
        assert flow_record_bytes(flow_state(flow)) == tnetstring.dumps(flow.get_state()), index


def test_flows_jsonl_is_derived_from_flows_mitm_when_the_capture_finishes(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with CaptureProxy(writer, run_dir, confdir=confdir, block_upstream=True) as proxy:
        opener = _opener(proxy)
        assert _post(opener, "https://ulogs.umeng.invalid/one", b'{"imei":"867530912345675"}',
                     {"content-type": "application/json"}) == 204
        assert _post(opener, "https://ulogs.umeng.invalid/two", b"a=2") == 204
        # While capturing, each flow's state goes to the spool (flushed) and its event to events.jsonl.
        assert (run_dir / SPOOL_FILE).stat().st_size > 0
        assert (run_dir / FLOWS_FILE).read_bytes() == b"" and (run_dir / MITM_FILE).read_bytes() == b""
        proxy.check()
    proxy.check()
    assert not (run_dir / SPOOL_FILE).exists()
    assert len(_records(run_dir / MITM_FILE)) == 2
    writer.close()
    run = read_run(run_dir)
    assert [flow["path"] for flow in run.flows] == ["/one", "/two"]
    assert run.flows[0]["request"]["body"] == '{"imei":"867530912345675"}'
    events = run.events[run.events["kind"] == "flow"]
    assert list(events["flow_id"]) == [flow["flow_id"] for flow in run.flows]
    assert [payload["request_body_bytes"] for payload in events["payload"]] == [26, 3]


def test_a_flow_recorded_after_the_capture_finished_is_killed_not_lost(tmp_path):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    addon = CaptureAddon(writer, run_dir)
    addon.finish()
    flow = tflow.tflow(resp=True)
    addon.response(flow)
    assert flow.error is not None and "killed" in flow.error.msg.lower()
    assert isinstance(addon.failure, CaptureError) and "finished" in str(addon.failure)
    writer.close()


def test_a_run_directory_the_capture_cannot_write_is_a_clear_error(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    (run_dir / MITM_FILE).mkdir()  # something that cannot be opened for appending
    with pytest.raises(CaptureError, match=f"cannot open .*{MITM_FILE}"):
        CaptureProxy(writer, run_dir, confdir=confdir)
    writer.close()


def test_a_killed_capture_leaves_its_flows_in_the_spool_and_recover_writes_them_out(tmp_path, confdir):
    from typer.testing import CliRunner

    from monitor.cli.app import app
    from monitor.store.manifest import verify_run

    run_dir = tmp_path / "run"
    RunWriter(run_dir, run_info={})  # a capture that is then killed: never closed, never sealed
    large = tflow.tflow(resp=True)
    large.request.content = bytes(range(256)) * 4096  # 1 MiB: spooled as it is, not copied into msgpack
    both = tflow.tflow(resp=True)
    both.request.content, both.response.content = b"q" * (64 << 10), b"\x00\xff" * (100 << 10)
    flows = [*_sample_flows(confdir)[:3], large, both]
    spool = FlowSpool(run_dir / SPOOL_FILE)
    for flow in flows:
        spool.append(flow_state(flow))
    spool.close()
    with open(run_dir / SPOOL_FILE, "ab") as handle:  # killed in the middle of writing a fourth flow
        handle.write(b"m" + (500).to_bytes(8, "little") + b"\x8f")  # a frame of 500 bytes cut after one
    spooled = []
    with pytest.raises(CaptureError, match="cut short"):
        spooled.extend(spooled_states(run_dir / SPOOL_FILE))
    assert [item["request"]["content"] for item in spooled] == [flow.request.content for flow in flows]
    assert spooled[4]["response"]["content"] == both.response.content
    with pytest.raises(RunDirError, match="consentmon recover"):
        read_run(run_dir)
    assert any("consentmon recover" in problem for problem in verify_run(run_dir))

    result = CliRunner().invoke(app, ["recover", str(run_dir)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps lines to the terminal's width
    assert "5 flows written" in output and "cut short" in output
    assert not (run_dir / SPOOL_FILE).exists()
    assert _records(run_dir / MITM_FILE) == [tnetstring.dumps(flow.get_state()) for flow in flows]
    assert [flow["flow_id"] for flow in read_run(run_dir).flows] == [flow.id for flow in flows]
    again = CliRunner().invoke(app, ["recover", str(run_dir)])
    assert again.exit_code != 0 and "nothing to recover" in " ".join(again.output.split())


def test_recover_gives_every_spooled_flow_its_event_once_numbered_on_and_keeps_a_torn_last_line(tmp_path):
    from monitor.store.flows import flow_event
    from monitor.store.recover import recover
    from monitor.store import EVENTS_FILE

    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})  # killed: never closed
    writer.append({"source": "hook", "kind": "pi_read", "ts": 5, "api": "TelephonyManager.getDeviceId", "value": "867530912345675"})
    flows = [tflow.tflow(resp=True) for _ in range(3)]
    for index, flow in enumerate(flows):
        flow.request.timestamp_start = 1_700_000_000.0 + index
    spool = FlowSpool(run_dir / SPOOL_FILE)
    for flow in flows:
        spool.append(flow_state(flow))
    spool.close()
    # Killed while writing out at the end: the first flow's event was already written, then a line torn.
    writer.append_many([flow_event(flows[0])])
    torn = b'{"source":"hook","kind":"pi_re'
    with open(run_dir / EVENTS_FILE, "ab") as handle:
        handle.write(torn)

    count, problem = recover(run_dir)
    assert count == 3 and problem is not None and f"{EVENTS_FILE}.torn" in problem
    assert (run_dir / f"{EVENTS_FILE}.torn").read_bytes() == torn  # kept as it was, not glued to a new line
    events = read_run(run_dir).events
    assert events["seq"].tolist() == [0, 1, 2, 3]
    flow_events = events[events["kind"] == "flow"]
    assert flow_events["flow_id"].tolist() == [flow.id for flow in flows]  # each once
    assert flow_events["ts"].tolist() == [int((1_700_000_000.0 + index) * 1e9) for index in range(3)]
    assert flow_events["payload"].iloc[2]["url"] == flows[2].request.pretty_url


def test_a_capture_writes_each_flow_event_when_it_finishes_on_the_request_clock(tmp_path):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    addon = CaptureAddon(writer, run_dir)
    flow = tflow.tflow(resp=True)
    addon.request(flow)
    addon.response(flow)
    writer.append({"source": "hook", "kind": "pi_read", "ts": int(flow.request.timestamp_start * 1e9) + 1,
                   "api": "Settings.Secure.getString", "value": "9774d56d682e549c"})
    assert addon.flows_recorded == 1 and (run_dir / SPOOL_FILE).exists()
    addon.finish()
    writer.close()
    events = read_run(run_dir).events
    (row,) = events[events["kind"] == "flow"].itertuples()
    assert row.flow_id == flow.id and row.ts == int(flow.request.timestamp_start * 1e9)
    assert row.api == f"{flow.request.method} {flow.request.scheme}://{flow.request.pretty_host}{flow.request.path}"
    assert row.payload["url"] == flow.request.pretty_url and row.payload["status"] == flow.response.status_code
    assert events["seq"].is_unique


def test_a_request_still_waiting_when_the_capture_is_killed_is_recovered_with_the_error_saying_so(tmp_path):
    import os

    from mitmproxy.flow import Error

    from monitor.store.flows import KILLED_UNANSWERED
    from monitor.store.recover import recover

    run_dir = tmp_path / "run"
    RunWriter(run_dir, run_info={})  # killed: never closed
    long_poll = tflow.tflow()  # no response yet
    long_poll.request.content = b"imei=867530912345675"
    large = tflow.tflow()
    large.request.content = bytes(range(256)) * 1024  # 256 KiB: its nested frame is a "b" frame
    answered = tflow.tflow()  # waited a while, then answered: its whole record supersedes the pending one
    spool = FlowSpool(run_dir / SPOOL_FILE)
    spool.append_pending(flow_state(long_poll))
    spool.append_pending(flow_state(answered))
    spool.append_pending(flow_state(large))
    answered.response = tflow.tresp()
    spool.append(flow_state(answered))
    spool.close()
    killed_at = 1_700_000_123.5
    os.utime(run_dir / SPOOL_FILE, (killed_at, killed_at))

    count, problem = recover(run_dir)
    assert (count, problem) == (3, None)
    with open(run_dir / MITM_FILE, "rb") as handle:
        flows = {flow.id: flow for flow in FlowReader(handle).stream()}
    assert set(flows) == {long_poll.id, answered.id, large.id}
    assert flows[answered.id].error is None and flows[answered.id].response is not None
    for waiting in (long_poll, large):
        assert flows[waiting.id].request.content == waiting.request.content and flows[waiting.id].response is None
        assert flows[waiting.id].error.msg == KILLED_UNANSWERED and flows[waiting.id].error.timestamp == killed_at
    # Byte for byte what mitmproxy writes for the request with that error.
    long_poll.error = Error(KILLED_UNANSWERED, killed_at)
    assert tnetstring.dumps(long_poll.get_state()) in _records(run_dir / MITM_FILE)
    events = read_run(run_dir).events
    errors = {row.flow_id: row.payload["error"] for row in events[events["kind"] == "flow"].itertuples()}
    assert errors == {long_poll.id: KILLED_UNANSWERED, large.id: KILLED_UNANSWERED, answered.id: None}


def test_a_slow_answer_is_spooled_while_it_waits_and_recorded_once_when_it_comes(tmp_path, confdir, monkeypatch):
    import shutil
    import threading

    from monitor.capture import addon as capture_addon
    from monitor.store.flows import KILLED_UNANSWERED
    from monitor.store.recover import recover

    monkeypatch.setattr(capture_addon, "PENDING_SPOOL_AFTER", 0.2)
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with https_server(tmp_path, delay=2.0) as server, \
            CaptureProxy(writer, run_dir, confdir=confdir, ssl_insecure=True) as proxy:
        statuses: list[int] = []
        sender = threading.Thread(target=lambda: statuses.append(
            _post(_opener(proxy), f"https://localhost:{server.port}/poll", b"oaid=a1b2c3d4")))
        sender.start()
        deadline = time.monotonic() + 10
        while (run_dir / SPOOL_FILE).stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        # The capture killed now would leave this spool: what `recover` makes of it.
        killed = tmp_path / "killed"
        RunWriter(killed, run_info={})
        shutil.copy(run_dir / SPOOL_FILE, killed / SPOOL_FILE)
        sender.join(timeout=15)
        assert statuses == [200]
    writer.close()
    assert recover(killed) == (1, None)
    (lost,) = read_run(killed).flows
    assert lost["path"] == "/poll" and lost["request"]["body"] == "oaid=a1b2c3d4" and lost["error"] == KILLED_UNANSWERED
    # The capture that was not killed has the flow once, answered.
    (flow,) = read_run(run_dir).flows
    assert flow["status"] == 200 and flow["error"] is None
    events = read_run(run_dir).events
    assert events[events["kind"] == "flow"]["flow_id"].tolist() == [flow["flow_id"]]


def test_a_capture_process_killed_during_a_long_poll_keeps_every_request_it_had_sent(tmp_path, confdir):
    """The real thing: the capture proxy in its own process, SIGKILLed while a request waits for a slow
    server; `consentmon recover` then writes out the answered flow and the waiting request, with their events."""
    import signal
    import subprocess
    import sys
    import textwrap
    import threading

    from typer.testing import CliRunner

    from monitor.store.flows import KILLED_UNANSWERED
    from monitor.cli.app import app

    run_dir = tmp_path / "run"
    port = free_port()
    script = textwrap.dedent(f"""
        import sys, time
        from monitor.capture import addon
        from monitor.capture.proxy import CaptureProxy
        from monitor.store.writer import RunWriter
        addon.PENDING_SPOOL_AFTER = 0.2
        writer = RunWriter({str(run_dir)!r}, run_info={{}})
        CaptureProxy(writer, {str(run_dir)!r}, confdir={str(confdir)!r}, port={port}, ssl_insecure=True).start()
        print("listening", flush=True)
        time.sleep(600)
    """)
    capture = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert capture.stdout.readline().strip() == "listening", capture.stderr.read()
        proxies = {"https": f"http://{LOOPBACK}:{port}"}
        import ssl
        import urllib.request
        from monitor.capture.ca import ensure_ca
        context = ssl.create_default_context(cafile=str(ensure_ca(confdir)))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies), urllib.request.HTTPSHandler(context=context))
        (tmp_path / "slow").mkdir()
        with https_server(tmp_path, delay=0.0) as quick, https_server(tmp_path / "slow", delay=30.0) as slow:
            assert _post(opener, f"https://localhost:{quick.port}/config", b"v=1") == 200
            waiting = threading.Thread(target=lambda: _post_ignoring_errors(
                opener, f"https://localhost:{slow.port}/poll", b"imei=867530912345673"), daemon=True)
            waiting.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and b"imei=867530912345673" not in (run_dir / SPOOL_FILE).read_bytes():
                time.sleep(0.05)
            capture.send_signal(signal.SIGKILL)
            capture.wait(timeout=30)
    finally:
        if capture.poll() is None:
            capture.kill()
    assert capture.returncode == -signal.SIGKILL

    result = CliRunner().invoke(app, ["recover", str(run_dir)])
    assert result.exit_code == 0, result.output
    flows = {flow["path"]: flow for flow in read_run(run_dir).flows}
    assert flows["/config"]["status"] == 200 and flows["/config"]["error"] is None
    assert flows["/poll"]["request"]["body"] == "imei=867530912345673" and flows["/poll"]["error"] == KILLED_UNANSWERED
    events = read_run(run_dir).events
    flow_events = events[events["kind"] == "flow"]
    assert sorted(flow_events["flow_id"]) == sorted(flow["flow_id"] for flow in flows.values())


def _post_ignoring_errors(opener, url: str, body: bytes) -> None:  # noqa: ANN001
    try:
        _post(opener, url, body)
    except OSError:
        pass  # the proxy was killed under it


def test_flows_that_cannot_be_written_out_at_the_end_stay_in_the_spool_and_the_run_says_so(tmp_path, confdir):
    import json

    from monitor.runner.common import seal_run

    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with CaptureProxy(writer, run_dir, confdir=confdir, block_upstream=True) as proxy:
        assert _post(_opener(proxy), "https://ulogs.umeng.invalid/one", b"a=1") == 204
        (run_dir / MITM_FILE).unlink()
        (run_dir / MITM_FILE).mkdir()  # flows.mitm cannot be written when the capture finishes
    result = seal_run(writer, proxy, {}, pid=1, exit_reason="exited", interrupted=False)
    assert result.capture_failure is not None and "consentmon recover" in result.capture_failure
    assert "consentmon recover" in json.loads((run_dir / "run.json").read_text())["capture_failure"]
    assert (run_dir / SPOOL_FILE).stat().st_size > 0  # every flow kept
    from monitor.store.manifest import verify_run
    assert any("consentmon recover" in problem for problem in verify_run(run_dir))


def test_concurrent_large_and_small_flows_are_each_recorded_whole(tmp_path, confdir):
    from concurrent.futures import ThreadPoolExecutor

    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    bodies = [bytes([index]) * (300_000 if index % 2 else 40) for index in range(12)]
    with CaptureProxy(writer, run_dir, confdir=confdir, block_upstream=True) as proxy:
        def send(index: int) -> int:
            return _post(_opener(proxy), f"https://ulogs.umeng.invalid/{index}", bodies[index])

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(send, range(12))) == [204] * 12
        proxy.check()
    writer.close()
    records = _records(run_dir / MITM_FILE)
    with open(run_dir / MITM_FILE, "rb") as handle:
        flows = list(FlowReader(handle).stream())
    assert [tnetstring.dumps(flow.get_state()) for flow in flows] == records
    assert sorted(flow.request.content for flow in flows) == sorted(bodies)
    events = read_run(run_dir).events
    assert sorted(events[events["kind"] == "flow"]["flow_id"]) == sorted(flow.id for flow in flows)


def _h2_post(proxy: CaptureProxy, host: str, path: str, body: bytes) -> tuple[str | None, int | None]:
    """(the ALPN protocol the proxy agreed, the response status) of one HTTP/2 POST through the proxy."""
    import socket
    import ssl

    import h2.connection
    import h2.events

    raw = socket.create_connection((LOOPBACK, proxy.port), timeout=10)
    raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += raw.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200"), reply
    context = ssl.create_default_context(cafile=str(proxy.ca_cert))
    context.set_alpn_protocols(["h2"])
    with context.wrap_socket(raw, server_hostname=host) as tls:
        connection = h2.connection.H2Connection()
        connection.initiate_connection()
        stream = connection.get_next_available_stream_id()
        connection.send_headers(stream, [(":method", "POST"), (":path", path), (":authority", host), (":scheme", "https"),
                                         ("content-type", "application/json")])
        connection.send_data(stream, body, end_stream=True)
        tls.sendall(connection.data_to_send())
        status = None
        ended = False
        while not ended:
            data = tls.recv(65536)
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            tls.sendall(connection.data_to_send())
        return tls.selected_alpn_protocol(), status


def test_an_http2_post_is_recorded_as_http2_with_its_body(tmp_path, confdir):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    body = b'{"oaid":"a1b2c3d4-e5f6-4711-8899-aabbccddeeff"}'
    with CaptureProxy(writer, run_dir, confdir=confdir, block_upstream=True) as proxy:
        assert _h2_post(proxy, "tracker.example.invalid", "/v3/collect", body) == ("h2", 204)
        proxy.check()
    writer.close()
    with open(run_dir / MITM_FILE, "rb") as handle:
        (flow,) = list(FlowReader(handle).stream())
    assert flow.request.http_version == "HTTP/2.0" and flow.request.content == body
    (record,) = read_run(run_dir).flows
    assert record["http_version"] == "HTTP/2.0" and record["request"]["body"] == body.decode()


def test_a_write_the_disk_refuses_leaves_no_partial_flow_in_the_spool(tmp_path):
    """A spool write that fails part-way (here: the file-size limit, as a full disk would) is cut off again,
    so the flow after it and everything before it are read back whole; the failure itself is raised."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import resource, signal, sys
        from mitmproxy.test import tflow
        from monitor.capture.flowstate import flow_state
        from monitor.store.flows import FlowSpool
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        spool = FlowSpool({str(tmp_path / "flows.spool")!r})
        small = tflow.tflow(resp=True)
        spool.append(flow_state(small))
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
        large = tflow.tflow(resp=True)
        large.request.content = b"x" * 500_000
        try:
            spool.append(flow_state(large))
        except OSError as exc:
            print("refused", exc.errno)
        spool.append(flow_state(small))
        spool.close()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused")
    states = list(spooled_states(tmp_path / "flows.spool"))
    assert [len(state["request"]["content"]) for state in states] == [len(tflow.tflow().request.content)] * 2


def test_a_damaged_spool_frame_is_named_by_its_offset(tmp_path):
    from monitor.store.flows import spool_frame

    large = tflow.tflow(resp=True)
    large.request.content = b"y" * (100 << 10)
    first = b"".join(spool_frame(flow_state(tflow.tflow(resp=True))))
    frame = bytearray(b"".join(spool_frame(flow_state(large))))
    frame[9:17] = (10 ** 9).to_bytes(8, "little")  # the head's length now points past the frame
    (tmp_path / "flows.spool").write_bytes(first + bytes(frame))
    with pytest.raises(CaptureError, match=f"flow at byte {len(first)} cannot be read") as caught:
        list(spooled_states(tmp_path / "flows.spool"))
    assert "damaged" in (caught.value.hint or "")


def _open_websocket() -> tuple[http.HTTPFlow, list]:
    """A WebSocket flow as it is when its handshake completes (no messages, not closed), and the messages
    that then pass on it."""
    flow = tflow.twebsocketflow()
    messages = list(flow.websocket.messages)
    flow.websocket.messages = []
    flow.websocket.closed_by_client = flow.websocket.close_code = flow.websocket.timestamp_end = None
    flow.websocket.close_reason = None
    return flow, messages


def test_a_websocket_still_open_when_the_capture_is_killed_is_put_together_from_its_start_and_messages(tmp_path):
    from monitor.store.recover import recover

    run_dir = tmp_path / "run"
    RunWriter(run_dir, run_info={})  # killed: never closed
    flow, messages = _open_websocket()
    before = tflow.tflow(resp=True)
    spool = FlowSpool(run_dir / SPOOL_FILE)
    spool.append_websocket_start(flow_state(flow))
    spool.append(flow_state(before))                      # another flow finishes while the socket is open
    for message in messages:
        flow.websocket.messages.append(message)
        spool.append_websocket_message(flow.id, message.get_state())
    slow, slow_messages = _open_websocket()               # its handshake waited a while, then it opened
    spool.append_pending(flow_state(slow))
    spool.append_websocket_start(flow_state(slow))
    ended, ended_messages = _open_websocket()             # a WebSocket that ended: its whole record wins
    spool.append_websocket_start(flow_state(ended))
    ended.websocket.messages.extend(ended_messages)
    ended.websocket.close_code, ended.websocket.closed_by_client = 1000, True
    spool.append(flow_state(ended))
    spool.close()
    count, problem = recover(run_dir)
    assert (count, problem) == (4, None)  # the slow one once, as the open WebSocket it became
    # Byte for byte what mitmproxy would have written for the open sockets at the moment of the kill.
    assert _records(run_dir / MITM_FILE) == [tnetstring.dumps(state) for state in
                                             (before.get_state(), ended.get_state(), flow.get_state(), slow.get_state())]
    records = {record["flow_id"]: record for record in read_run(run_dir).flows}
    assert [message["content"] for message in records[flow.id]["websocket"] if message["is_text"]] == \
        [message.text for message in messages if message.is_text]


def test_a_websocket_open_when_the_capture_stops_is_recorded_with_its_messages(tmp_path, confdir):
    import socket as sockets

    import wsproto
    from wsproto import events as ws_events

    from support.servers import websocket_server

    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with websocket_server() as port, CaptureProxy(writer, run_dir, confdir=confdir) as proxy:
        app = sockets.create_connection((LOOPBACK, proxy.port), timeout=20)
        app.sendall(f"CONNECT {LOOPBACK}:{port} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += app.recv(4096)
        ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        app.sendall(ws.send(ws_events.Request(host=f"{LOOPBACK}:{port}", target="/push")))
        to_send = ["bind imei=864398046598172", "heartbeat"]
        echoed = []
        while len(echoed) < 2:
            ws.receive_data(app.recv(65536))
            for event in ws.events():
                if isinstance(event, ws_events.TextMessage):
                    echoed.append(event.data)
                if isinstance(event, (ws_events.AcceptConnection, ws_events.TextMessage)) and to_send:
                    app.sendall(ws.send(ws_events.TextMessage(data=to_send.pop(0))))  # the next after each echo
        # The app keeps its push connection open; the capture stops around it.
    writer.close()
    app.close()
    proxy.check()
    (record,) = read_run(run_dir).flows
    assert [message["content"] for message in record["websocket"]] == \
        ["bind imei=864398046598172", "bind imei=864398046598172", "heartbeat", "heartbeat"]
    with open(run_dir / MITM_FILE, "rb") as handle:
        (flow,) = list(FlowReader(handle).stream())
    assert flow.websocket is not None and flow.websocket.close_code is None  # still open when recorded


def test_a_request_still_waiting_for_its_answer_when_the_capture_stops_is_recorded(tmp_path, confdir):
    """A long poll (or a slow server): the request went out with whatever it carried; the capture records it
    when it stops, with an error saying no answer came, instead of losing it."""
    import socket as sockets
    import threading

    from monitor.capture.addon import UNANSWERED

    silent = sockets.socket()
    silent.bind((LOOPBACK, 0))
    silent.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    port = silent.getsockname()[1]
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    body = b"imei=864398046598172"
    with CaptureProxy(writer, run_dir, confdir=confdir) as proxy:
        app = sockets.create_connection((LOOPBACK, proxy.port), timeout=10)
        app.sendall(f"POST http://{LOOPBACK}:{port}/poll HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        deadline = time.monotonic() + 10
        while not accepted and time.monotonic() < deadline:  # the proxy has sent it on: the server holds it
            time.sleep(0.05)
        assert _post(_opener(proxy), f"http://{LOOPBACK}:{free_port()}/other", b"x=1") == 502  # answered: once
    writer.close()
    app.close()
    silent.close()
    proxy.check()
    run = read_run(run_dir)
    records = {record["path"]: record for record in run.flows}
    assert set(records) == {"/poll", "/other"} and len(run.flows) == 2
    assert records["/poll"]["request"]["body"] == body.decode() and records["/poll"]["status"] is None
    assert records["/poll"]["error"] == UNANSWERED
    assert int((run.events["kind"] == "flow").sum()) == 2


def test_a_websocket_whose_start_msgpack_cannot_hold_is_still_recorded_whole(tmp_path):
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    addon = CaptureAddon(writer, run_dir)
    flow, messages = _open_websocket()
    flow.metadata["counter"] = 2 ** 70  # beyond msgpack's integers; tnetstring writes it
    addon.websocket_start(flow)
    for message in messages:
        flow.websocket.messages.append(message)
        addon.websocket_message(flow)
    addon.finish()  # still open: recorded whole, as tnetstring
    writer.close()
    assert addon.failure is None and addon.flows_recorded == 1
    assert _records(run_dir / MITM_FILE) == [tnetstring.dumps(flow.get_state())]
