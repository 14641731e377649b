"""The capture addon: a plain mitmproxy addon class whose method names are the events it handles.

For every exchange it writes the flow to flows.mitm (mitmproxy's format, full bodies: the evidence),
a decoded and capped copy to flows.jsonl (for reading and reports), and a `net`/`flow` event to
events.jsonl. A TLS handshake the client refuses becomes a `tls_failed` event (likely certificate
pinning). If anything cannot be written, the flow is killed and the failure kept: traffic never
passes unrecorded.
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from typing import Any, BinaryIO

from mitmproxy import http, tls
from mitmproxy.connection import Client
from mitmproxy.io import tnetstring

from monitor.errors import CaptureError
from monitor.events import KIND_FLOW, KIND_TLS_FAILED
from monitor.store import MITM_FILE

DEFAULT_BODY_CAP = 256 * 1024


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1_000_000_000)


# flows.jsonl is for reading; flows.mitm keeps every byte. A binary body gets a short base64 preview only:
# encoding a large binary body as base64 JSON on the proxy's one event-loop thread was most of the cost
# of capturing it, and nobody reads 256 KiB of base64.
BINARY_PREVIEW = 16 * 1024


def _utf8_prefix(data: bytes, truncated: bool) -> str | None:
    """The text of `data`, or None if it is not UTF-8. A cut through the last character of a truncated
    body is not binary: the complete characters are kept."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if truncated and error.start >= len(data) - 3 and error.reason == "unexpected end of data":
            return data[: error.start].decode("utf-8")
        return None


def _body(message: http.Message | None, cap: int) -> dict[str, Any] | None:
    if message is None:
        return None
    try:
        raw = message.get_content(strict=False) or b""
        decoded = True
    except ValueError:
        raw, decoded = message.raw_content or b"", False
    text = _utf8_prefix(raw[:cap], len(raw) > cap)
    if text is not None:
        body, encoding, kept = text, "utf-8", len(text.encode())
    else:
        preview = raw[: min(cap, BINARY_PREVIEW)]
        body, encoding, kept = base64.b64encode(preview).decode(), "base64", len(preview)
    return {
        "headers": [[name, value] for name, value in message.headers.items(multi=True)],
        "content_type": message.headers.get("content-type"),
        "size": len(raw),
        "decoded": decoded,
        "body": body,
        "body_encoding": encoding,
        "truncated": len(raw) > kept,
    }


def flow_record_bytes(value: Any) -> bytes:
    """`value` (a flow's get_state()) as mitmproxy's FlowWriter writes it: byte for byte the same tnetstring,
    so flows.mitm stays mitmproxy's own format. mitmproxy's encoder is generic pure Python and was most of
    the addon's time per flow; this one dispatches on the exact type and joins all pieces once at the end,
    so a large body is copied once. Anything but the plain builtin types goes to mitmproxy's encoder."""
    pieces: list[bytes] = []
    _encode(value, pieces)
    return b"".join(pieces)


# Scalars as mitmproxy's encoder writes them, for the ones that recur in every flow's state.
_CONSTANTS: dict[Any, bytes] = {None: b"0:~", True: b"4:true!", False: b"5:false!"}


def _encode(value: Any, pieces: list[bytes]) -> int:
    """Append `value`'s tnetstring to `pieces`; return its length in bytes."""
    kind = type(value)
    if kind is bytes:
        head = b"%d:" % len(value)
        pieces += (head, value, b",")
        return len(head) + len(value) + 1
    if kind is str:
        data = value.encode("utf8")
        head = b"%d:" % len(data)
        pieces += (head, data, b";")
        return len(head) + len(data) + 1
    if kind is dict or kind is list or kind is tuple:
        at = len(pieces)
        pieces.append(b"")  # the length prefix, known once the items are written
        size = 0
        # mitmproxy's encoder writes a dict's items last to first.
        items = [part for pair in reversed(value.items()) for part in pair] if kind is dict else value
        for item in items:
            # Keys and most values are text: written here rather than through another call.
            if type(item) is str:
                data = item.encode("utf8")
                head = b"%d:" % len(data)
                pieces += (head, data, b";")
                size += len(head) + len(data) + 1
            else:
                size += _encode(item, pieces)
        pieces.append(b"}" if kind is dict else b"]")
        pieces[at] = head = b"%d:" % size
        return len(head) + size + 1
    if kind is bool or value is None:
        data = _CONSTANTS[value]
    elif kind is int:
        digits = b"%d" % value
        data = b"%d:%b#" % (len(digits), digits)
    elif kind is float:
        digits = repr(value).encode()
        data = b"%d:%b^" % (len(digits), digits)
    else:
        data = tnetstring.dumps(value)
    pieces.append(data)
    return len(data)


def _client_address(client: Client) -> str | None:
    return None if client.peername is None else f"{client.peername[0]}:{client.peername[1]}"


class CaptureAddon:
    """Records flows into a run. `sink` has `append(event)` and `append_flow(record)` (RunWriter)."""

    def __init__(self, sink: Any, run_dir: Path, *, body_cap: int = DEFAULT_BODY_CAP, block_upstream: bool = False) -> None:
        self.sink = sink
        self.body_cap = body_cap
        self.block_upstream = block_upstream
        self.failure: CaptureError | None = None
        self.flows_recorded = 0
        self.tls_failures = 0
        self._lock = threading.Lock()
        try:
            self._mitm: BinaryIO = open(Path(run_dir) / MITM_FILE, "ab")
        except OSError as exc:
            raise CaptureError(f"cannot open {Path(run_dir) / MITM_FILE}: {exc}") from exc

    # ---- mitmproxy events ------------------------------------------------------------------------
    def request(self, flow: http.HTTPFlow) -> None:
        if self.block_upstream and flow.response is None:
            # Offline labs and blocked trackers: answer locally, so nothing leaves this machine, yet the
            # request is decrypted and recorded exactly as the app sent it.
            flow.response = http.Response.make(204, b"", {"x-consentmon": "blocked-upstream"})

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            self._record(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        client = data.context.client
        server = data.context.server
        self.tls_failures += 1
        self._append_event({
            "source": "net", "kind": KIND_TLS_FAILED, "ts": _ns(client.timestamp_start) or 0,
            "api": "tls_handshake", "category": "tls",
            "payload": {"sni": client.sni, "host": server.address[0] if server.address else None,
                        "port": server.address[1] if server.address else None, "client": _client_address(client),
                        "error": client.error, "likely": "certificate pinning or a client that does not trust the CA"},
        }, kill=None)

    def done(self) -> None:
        with self._lock:
            if not self._mitm.closed:
                self._mitm.flush()
                self._mitm.close()

    # ---- recording -------------------------------------------------------------------------------
    def _record(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        response = flow.response
        error = flow.error.msg if flow.error else None
        ts_request = _ns(request.timestamp_start) or 0
        # Each of these parses headers again on every access; a flow is recorded under one host and URL.
        host, url, method, scheme, port, path = (request.pretty_host, request.pretty_url, request.method, request.scheme,
                                                 request.port, request.path)
        record = {
            "flow_id": flow.id,
            "ts_request_ns": ts_request,
            "ts_response_ns": _ns(response.timestamp_end) if response else None,
            "client": _client_address(flow.client_conn),
            "sni": flow.client_conn.sni,
            "method": method,
            "scheme": scheme,
            "host": host,
            "port": port,
            "path": path,
            "url": url,
            "http_version": request.http_version,
            "status": response.status_code if response else None,
            "error": error,
            "blocked_upstream": bool(response and response.headers.get("x-consentmon") == "blocked-upstream"),
            "request": _body(request, self.body_cap),
            "response": _body(response, self.body_cap),
            "websocket": [
                {"from_client": message.from_client, "ts_ns": _ns(message.timestamp), "is_text": message.is_text,
                 "content": message.text if message.is_text else base64.b64encode(message.content[: self.body_cap]).decode()}
                for message in (flow.websocket.messages if flow.websocket else [])
            ],
        }
        event = {
            "source": "net", "kind": KIND_FLOW, "ts": ts_request, "flow_id": flow.id,
            "api": f"{method} {scheme}://{host}{path.split('?')[0]}",
            "payload": {"method": method, "url": url, "host": host,
                        "port": port, "scheme": scheme, "status": record["status"],
                        "error": error, "http_version": request.http_version,
                        "request_size": record["request"]["size"] if record["request"] else 0,
                        "websocket_messages": len(record["websocket"])},
        }
        try:
            with self._lock:
                self._mitm.write(flow_record_bytes(flow.get_state()))
                self._mitm.flush()
            self.sink.append_flow(record)
        except (OSError, CaptureError) as exc:
            self._fail(CaptureError(f"cannot record flow {flow.id} to the run: {exc}"), flow)
            return
        self._append_event(event, kill=flow)
        self.flows_recorded += 1

    def _append_event(self, event: dict[str, Any], *, kill: http.HTTPFlow | None) -> None:
        try:
            self.sink.append(event)
        except CaptureError as exc:
            self._fail(exc, kill)

    def _fail(self, error: CaptureError, flow: http.HTTPFlow | None) -> None:
        self.failure = self.failure or error
        if flow is not None and flow.killable:
            flow.kill()
