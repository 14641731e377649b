"""The capture addon: a plain mitmproxy addon class whose method names are the events it handles.

For every exchange it records the whole flow (full bodies: the evidence, in the end flows.mitm, mitmproxy's
format), in the kernel's hands before the app gets its response. A TLS
handshake the client refuses becomes a `tls_failed` event (likely certificate pinning), and so does one the
server refuses, and a handshake the client completed and then closed without sending a single request (pinning
checked after the handshake, as OkHttp's CertificatePinner does: side `client-closed-after-handshake`). If anything cannot be written, the flow is killed and the failure kept: traffic never
passes unrecorded.

mitmproxy serves every connection from one Python thread, so whatever the addon does per flow is added
to every request the app makes. The per-flow work is therefore only what must happen while the flow is
live: its state (monitor/capture/flowstate.py, mitmproxy's get_state made cheap) appended to flows.spool
(msgpack, large bodies as they are; one writev). The spool is the record; everything else is derived from
it when the capture finishes: flows.mitm (byte for byte what mitmproxy writes), flows.jsonl (decoded,
capped copies for reading and reports) and each flow's `net`/`flow` event in events.jsonl (on the run's
clock at the request's start, like every event), and the spool is deleted (monitor/store/flows.py).
A capture killed before that leaves the spool, and `consentmon recover` derives all three from it. What
mitmproxy never ends by itself is recorded at the end too: WebSockets still open, and requests still
waiting for their answer.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from mitmproxy import http, tls
from mitmproxy.connection import ConnectionState
from mitmproxy.flow import Error

from monitor.capture.flowstate import fast_path_in_use, flow_state
from monitor.store.flows import DEFAULT_BODY_CAP, ensure_mitm_writable, FlowSpool, client_address, ns, unspool
from monitor.errors import CaptureError
from monitor.events import KIND_TLS_FAILED
from monitor.store import MITM_FILE, SPOOL_FILE
from monitor.store.sink import FlowSink


# The error a request still waiting for its answer is recorded with when the capture stops.
UNANSWERED = "the capture stopped before the server answered"

# A request still unanswered this many seconds after it was read is spooled as it is, so that a capture
# killed while it waits (a long poll, a slow or dead server) still has it; almost every answer comes sooner
# and costs only a timer set and cancelled.
PENDING_SPOOL_AFTER = 1.0


class CaptureAddon:
    """Records flows into a run. `sink` has `append(event)`, `append_many(events)` and `append_flow(record)`
    (RunWriter); call `finish()` once the proxy has stopped."""

    def __init__(self, sink: FlowSink, run_dir: Path, *, body_cap: int = DEFAULT_BODY_CAP, block_upstream: bool = False) -> None:
        self.sink = sink
        self.body_cap = body_cap
        self.block_upstream = block_upstream
        self.failure: CaptureError | None = None
        self.flows_recorded = 0
        self.tls_failures = 0
        self._run_dir = Path(run_dir)
        self._lock = threading.Lock()
        self._finished = False
        # WebSockets still open: recorded whole when they end, or when the capture finishes with them open.
        self._open_websockets: dict[str, http.HTTPFlow] = {}
        # Requests sent on and not answered yet (long polls, slow servers), each with its pending-spool timer:
        # recorded when the capture finishes if no response or error came first. Their request, with
        # whatever PI it carried, went out.
        self._waiting: dict[str, tuple[http.HTTPFlow, asyncio.TimerHandle | None]] = {}
        # Client connections whose TLS handshake with the proxy completed, until their first request: one that
        # closes while still here sent nothing (pinning checked after the handshake). By connection id.
        self._handshaken: dict[str, tls.TlsData] = {}
        self._spool = FlowSpool(self._run_dir / SPOOL_FILE)
        fast_path_in_use()  # its one-time check against get_state runs now, not on the app's first request
        ensure_mitm_writable(self._run_dir)  # fail now, not when the capture finishes

    # ---- mitmproxy events ------------------------------------------------------------------------
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # The client sent a request on this connection (a CONNECT is the proxy's own hop, not one).
        if flow.request.method != "CONNECT":
            self._handshaken.pop(flow.client_conn.id, None)

    def tls_established_client(self, data: tls.TlsData) -> None:
        self._handshaken[data.context.client.id] = data

    def client_disconnected(self, client: Any) -> None:
        data = self._handshaken.pop(client.id, None)
        if data is not None:
            self._closed_after_handshake(data)

    def _closed_after_handshake(self, data: tls.TlsData) -> None:
        self._tls_failed(data, "client-closed-after-handshake",
                         "the app closed the connection right after the TLS handshake without a request: certificate "
                         "pinning checked after the handshake (OkHttp CertificatePinner), or a connection opened and "
                         "never used")

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
                PENDING_SPOOL_AFTER, self._spool_pending, flow)
        except RuntimeError:
            timer = None  # called outside mitmproxy's loop (offline): no capture to be killed while it waits
        self._waiting[flow.id] = (flow, timer)
        if self.block_upstream and flow.response is None:
            # Offline labs and blocked trackers: answer locally, so nothing leaves this machine, yet the
            # request is decrypted and recorded exactly as the app sent it.
            flow.response = http.Response.make(204, b"", {"x-consentmon": "blocked-upstream"})

    def response(self, flow: http.HTTPFlow) -> None:
        self._answered(flow)
        if flow.websocket is None:
            self._record(flow)

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        # Its start and each message are spooled as they pass, so a capture killed while it is open keeps them.
        self._open_websockets[flow.id] = flow
        self._spool_write(flow, lambda spool: spool.append_websocket_start(flow_state(flow)))

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        message = flow.websocket.messages[-1] if flow.websocket and flow.websocket.messages else None
        if message is not None:
            self._spool_write(flow, lambda spool: spool.append_websocket_message(flow.id, message.get_state()))

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._open_websockets.pop(flow.id, None)
        self._record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._answered(flow)
        self._record(flow)

    def _answered(self, flow: http.HTTPFlow) -> None:
        waiting = self._waiting.pop(flow.id, None)
        if waiting is not None and waiting[1] is not None:
            waiting[1].cancel()

    def _spool_pending(self, flow: http.HTTPFlow) -> None:
        """Still unanswered after PENDING_SPOOL_AFTER: its state so far goes to the spool ("q" frame), kept
        if the capture is killed before the answer, superseded by the whole flow when it ends."""
        if flow.id in self._waiting and flow.response is None and flow.error is None:
            self._spool_write(flow, lambda spool: spool.append_pending(flow_state(flow)))

    def tls_failed_client(self, data: tls.TlsData) -> None:
        self._tls_failed(data, "client", "certificate pinning, or a client that does not trust the proxy's CA")

    def tls_failed_server(self, data: tls.TlsData) -> None:
        self._tls_failed(data, "server", "the server's certificate is not trusted here (self-signed, expired, "
                                         "another name) or the server refused TLS")

    def _tls_failed(self, data: tls.TlsData, side: str, likely: str) -> None:
        """A TLS handshake that failed, on the app's side of the proxy or the server's: what it was for
        (SNI, host, port), when, and the error, as an event; nothing of it was decrypted."""
        client = data.context.client
        server = data.context.server
        connection = server if side == "server" else client
        # After a completed handshake the moment is the handshake's end: the app had the proxy's chain then.
        moment = client.timestamp_tls_setup if side == "client-closed-after-handshake" else None
        self.tls_failures += 1
        self._append_event({
            "source": "net", "kind": KIND_TLS_FAILED, "ts": ns(moment or connection.timestamp_start or client.timestamp_start) or 0,
            "api": "tls_handshake", "category": "tls",
            "payload": {"side": side, "sni": client.sni or server.sni,
                        "host": server.address[0] if server.address else None,
                        "port": server.address[1] if server.address else None, "client": client_address(client),
                        "error": connection.error, "likely": likely},
        })

    def finish(self) -> None:
        """Record what is still open, then turn the spool into flows.mitm and flows.jsonl (through the sink)
        before the run is sealed. Idempotent. Not mitmproxy's `done` hook: the proxy calls it once mitmproxy
        has stopped, so no flow is still changing."""
        for flow in list(self._open_websockets.values()):
            # Still open when the proxy stopped (a push or IM connection lives as long as the app): recorded
            # with the messages so far, as mitmproxy would write it now.
            self._open_websockets.pop(flow.id, None)
            self._record(flow)
        for client_id, data in list(self._handshaken.items()):
            # A client that closed its side with no request while mitmproxy still held the connection (it waits
            # for the upstream it opened to learn the server's ALPN): the same refusal, seen when the capture
            # stops. One still open both ways is an idle connection, not a failure.
            if not data.context.client.state & ConnectionState.CAN_READ:
                self._handshaken.pop(client_id, None)
                self._closed_after_handshake(data)
        for flow, _ in list(self._waiting.values()):
            self._answered(flow)
            if flow.response is None and flow.error is None:
                flow.error = Error(UNANSWERED)
            self._record(flow)
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._spool.close()
        try:
            # A frame cut short cannot happen while this process wrote every frame whole; said if it does.
            _, problem = unspool(self._spool.path, self._run_dir / MITM_FILE, self.sink.append_flow,
                                 self.sink.append_many, self.body_cap)
        except (OSError, CaptureError, ValueError) as exc:
            problem = str(exc)
        if problem is not None:
            kept = self._spool.path.exists()  # unspool deletes the spool only once its flows are written out
            self.failure = self.failure or CaptureError(
                f"cannot turn {self._spool.path} into {MITM_FILE}, flows.jsonl and the flow events: {problem}",
                hint=f"every recorded flow is still in {SPOOL_FILE}; `consentmon recover {self._run_dir}` retries" if kept else None)

    # ---- recording -------------------------------------------------------------------------------
    def _record(self, flow: http.HTTPFlow) -> None:
        # Only the state, spooled: its event and flows.jsonl record are derived from the spool at the end, off
        # the loop that every request waits on.
        if self._spool_write(flow, lambda spool: spool.append(flow_state(flow))):
            self.flows_recorded += 1

    def _spool_write(self, flow: http.HTTPFlow, write: Any) -> bool:
        """Run `write(spool)` for `flow`; if it fails, the flow is killed and the failure kept (False)."""
        try:
            with self._lock:
                if self._finished:
                    raise CaptureError("the capture has finished")
                write(self._spool)
        except (OSError, CaptureError, ValueError, TypeError) as exc:
            self._fail(CaptureError(f"cannot record flow {flow.id} to the run: {exc}"), flow)
            return False
        return True

    def _append_event(self, event: dict[str, Any]) -> None:
        try:
            self.sink.append(event)
        except CaptureError as exc:
            self._fail(exc, None)

    def _fail(self, error: CaptureError, flow: http.HTTPFlow | None) -> None:
        self.failure = self.failure or error
        if flow is not None and flow.killable:
            flow.kill()
