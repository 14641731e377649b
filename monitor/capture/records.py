"""What a recorded flow becomes on disk: its flows.mitm record and its flows.jsonl record."""

from __future__ import annotations

import base64
import os
import struct
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from mitmproxy import http
from mitmproxy.connection import Client
from mitmproxy.io import tnetstring

from monitor.errors import CaptureError

DEFAULT_BODY_CAP = 256 * 1024


def ns(seconds: float | None) -> int | None:
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


def client_address(client: Client) -> str | None:
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
        "ts_request_ns": ns(request.timestamp_start) or 0,
        "ts_response_ns": ns(response.timestamp_end) if response else None,
        "client": client_address(flow.client_conn),
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
            {"from_client": message.from_client, "ts_ns": ns(message.timestamp), "is_text": message.is_text,
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
        # A copy: the caller may hand the state on to from_state, which replaces its values in place.
        self._connections[key] = (dict(state), own, size)
        if len(self._connections) > self._remembered:
            self._connections.popitem(last=False)
        pieces += own
        return size


# ---- the spool: flow states as recorded, until the capture finishes ----------------------------------------
#
# Encoding a state as tnetstring is pure Python and cost ~0.1 ms per small flow on mitmproxy's one thread;
# msgpack (msgspec, C) takes ~2 µs. So while capturing, each state goes to flows.spool as a frame: a tag byte
# ("m": msgpack of the state; "t": the state already as tnetstring, for a value msgpack cannot hold), the
# payload's length (8 bytes, little-endian), the payload. msgpack has no tuples, but neither has tnetstring:
# both write a tuple as a list, so the flows.mitm record made from the spooled state is byte for byte the
# one made from the live state. Unlike pickle, reading a spool someone handed over runs no code.

_FRAME = struct.Struct("<cQ")
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder().decode


LARGE_BODY = 64 * 1024


def _body_bytes(state: dict[str, Any]) -> int:
    size = 0
    for part in ("request", "response"):
        message = state.get(part)
        if type(message) is dict and type(message.get("content")) is bytes:
            size += len(message["content"])
    return size


class FlowSpool:
    """Appends flow states to flows.spool, each flushed before `append` returns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._encoder = FlowRecordEncoder()
        try:
            self._file: BinaryIO = open(self.path, "ab")
        except OSError as exc:
            raise CaptureError(f"cannot open {self.path}: {exc}", hint="choose a writable --out directory") from exc

    def append(self, state: dict[str, Any]) -> None:
        if _body_bytes(state) > LARGE_BODY:
            # A large body would be copied whole into the msgpack buffer; as tnetstring pieces it is written
            # straight from the flow's own bytes object, and the Python encoding of the rest is small beside it.
            pieces = self._encoder.pieces(state)
            self._file.write(_FRAME.pack(b"t", sum(map(len, pieces))))
            self._file.writelines(pieces)
        else:
            try:
                tag, payload = b"m", _pack(state)
            except (TypeError, OverflowError, ValueError):
                tag, payload = b"t", flow_record_bytes(state)
            self._file.write(_FRAME.pack(tag, len(payload)))
            self._file.write(payload)
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


def spooled_states(path: Path) -> Iterator[dict[str, Any] | bytes]:
    """Each spooled flow in order: its state, or its finished tnetstring record ("t" frames). A frame cut
    short (the capture was killed while writing it) raises CaptureError after the complete ones."""
    with open(path, "rb") as handle:
        offset = 0
        while True:
            head = handle.read(_FRAME.size)
            if not head:
                return
            if len(head) < _FRAME.size:
                raise CaptureError(f"{path}: the last flow (at byte {offset}) was cut short while it was written")
            tag, size = _FRAME.unpack(head)
            payload = handle.read(size)
            if len(payload) < size:
                raise CaptureError(f"{path}: the last flow (at byte {offset}) was cut short while it was written")
            if tag == b"m":
                yield _unpack(payload)
            elif tag == b"t":
                yield payload
            else:
                raise CaptureError(f"{path}: unknown frame {tag!r} at byte {offset}",
                                   hint="the file is not a consentmon flow spool, or it was damaged")
            offset += _FRAME.size + size


def unspool(spool: Path, mitm: Path, append_flow: Any, body_cap: int = DEFAULT_BODY_CAP) -> tuple[int, str | None]:
    """Turn flows.spool into flows.mitm (written afresh, synced) and flows.jsonl records (through
    `append_flow`), then delete the spool. Returns how many flows, and what was lost if the last frame was
    cut short (a capture killed while writing it: that flow was never whole on disk)."""
    encoder = FlowRecordEncoder()
    count = 0
    cut_short: str | None = None
    # flows.mitm is only ever written from the spool: written afresh, so a retry after a failure is whole.
    with open(mitm, "wb") as out:
        try:
            for item in spooled_states(spool):
                if isinstance(item, bytes):
                    out.write(item)
                    flow = io_flow_from_record(item)
                else:
                    out.writelines(encoder.pieces(item))
                    flow = http.HTTPFlow.from_state(item)  # consumes the state: after its record is written
                append_flow(flow_record(flow, body_cap))
                count += 1
        except CaptureError as exc:
            if "cut short" not in str(exc):
                raise
            cut_short = f"{exc}; the {count} flows before it were written out"
        out.flush()
        os.fsync(out.fileno())
    spool.unlink()
    return count, cut_short


def io_flow_from_record(record: bytes) -> http.HTTPFlow:
    from mitmproxy.io import compat

    state = tnetstring.loads(record)
    return http.HTTPFlow.from_state(compat.migrate_flow(state))  # type: ignore[arg-type]


def recover(run_dir: Path, body_cap: int = DEFAULT_BODY_CAP) -> tuple[int, str | None]:
    """Write out the flows a killed capture left in flows.spool: flows.mitm records and flows.jsonl lines.
    Returns how many, and what was lost if the last one was cut short while it was written."""
    from monitor.store import FLOWS_FILE, MITM_FILE, SPOOL_FILE
    from monitor.store.writer import dump_line

    run_dir = Path(run_dir)
    spool = run_dir / SPOOL_FILE
    if not spool.exists():
        raise CaptureError(f"{spool} does not exist: nothing to recover", hint="this run's flows were already written out")
    with open(run_dir / FLOWS_FILE, "wb") as jsonl:  # derived from the spool only: afresh, like flows.mitm
        outcome = unspool(spool, run_dir / MITM_FILE, lambda record: jsonl.write(dump_line(record)), body_cap)
        jsonl.flush()
        os.fsync(jsonl.fileno())
    return outcome

