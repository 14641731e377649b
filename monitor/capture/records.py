"""What a recorded flow becomes on disk: its flows.mitm record and its flows.jsonl record."""

from __future__ import annotations

import base64
from collections import OrderedDict
from typing import Any

from mitmproxy import http
from mitmproxy.connection import Client
from mitmproxy.io import tnetstring

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


def flow_record(flow: http.HTTPFlow, body_cap: int = DEFAULT_BODY_CAP) -> dict[str, Any]:
    """The flows.jsonl record of one exchange: decoded, bodies capped, for reading and reports."""
    request = flow.request
    response = flow.response
    # Each of these parses headers again on every access; a flow is recorded under one host and URL.
    host, url, method, scheme, port, path = (request.pretty_host, request.pretty_url, request.method, request.scheme,
                                             request.port, request.path)
    return {
        "flow_id": flow.id,
        "ts_request_ns": _ns(request.timestamp_start) or 0,
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
        "error": flow.error.msg if flow.error else None,
        "blocked_upstream": bool(response and response.headers.get("x-consentmon") == "blocked-upstream"),
        "request": _body(request, body_cap),
        "response": _body(response, body_cap),
        "websocket": [
            {"from_client": message.from_client, "ts_ns": _ns(message.timestamp), "is_text": message.is_text,
             "content": message.text if message.is_text else base64.b64encode(message.content[:body_cap]).decode()}
            for message in (flow.websocket.messages if flow.websocket else [])
        ],
    }


class FlowRecordEncoder:
    """`flow_record_bytes` of flow states, remembering each connection's encoding.

    The two connections are most of a flow's state, and every flow on a keep-alive connection carries the
    same ones. A connection's encoding is reused only when its state is equal to the one it was made from
    (one C-level comparison); the converters that build the state give every field one type (a float field
    is always a float), so equal states encode to equal bytes."""

    CONNECTION_KEYS = ("client_conn", "server_conn")

    def __init__(self, remembered: int = 512) -> None:
        self._remembered = remembered
        self._connections: OrderedDict[Any, tuple[dict[str, Any], list[bytes], int]] = OrderedDict()

    def encode(self, state: dict[str, Any]) -> bytes:
        return b"".join(self.pieces(state))

    def pieces(self, state: dict[str, Any]) -> list[bytes]:
        """The record as pieces to write one after the other: a large body is not copied into a joined record."""
        if type(state) is not dict:
            return [flow_record_bytes(state)]
        pieces: list[bytes] = [b""]
        size = 0
        # As _encode writes a dict: its items last to first, then the length prefix and "}".
        for key, value in reversed(state.items()):
            if type(key) is not str:
                return [flow_record_bytes(state)]
            data = key.encode("utf8")
            head = b"%d:" % len(data)
            pieces += (head, data, b";")
            size += len(head) + len(data) + 1
            if key in self.CONNECTION_KEYS and type(value) is dict:
                size += self._connection(value, pieces)
            else:
                size += _encode(value, pieces)
        pieces.append(b"}")
        pieces[0] = b"%d:" % size
        return pieces

    def _connection(self, state: dict[str, Any], pieces: list[bytes]) -> int:
        key = state.get("id")
        cached = self._connections.get(key)
        if cached is not None and cached[0] == state:
            self._connections.move_to_end(key)
            pieces += cached[1]
            return cached[2]
        own: list[bytes] = []
        size = _encode(state, own)
        self._connections[key] = (state, own, size)
        if len(self._connections) > self._remembered:
            self._connections.popitem(last=False)
        pieces += own
        return size

