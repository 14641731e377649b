"""What a recorded flow becomes on disk: its flows.mitm record and its flows.jsonl record."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from mitmproxy import http
from mitmproxy.connection import Client
from mitmproxy.io import compat, tnetstring

from monitor.errors import CaptureError
from monitor.store import FLOWS_FILE, MITM_FILE, SPOOL_FILE
from monitor.store.writer import dump_line

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
    so flows.mitm stays mitmproxy's own format. mitmproxy's encoder is generic pure Python and took about
    twice as long; this one dispatches on the exact type and joins all pieces once at the end, so a large
    body is copied once. Anything but the plain builtin types goes to mitmproxy's encoder."""
    return b"".join(record_pieces(value))


def record_pieces(value: Any) -> list[bytes]:
    """The same record as pieces to write one after the other: a large body is written from its own bytes
    object, never copied into a joined record."""
    pieces: list[bytes] = []
    _encode(value, pieces)
    return pieces


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


def request_parts(request: http.Request) -> tuple[str, str, str, str, int, str]:
    """(host, url, method, scheme, port, path) of a request, each read once: the pretty forms parse headers
    again on every access, and a flow is recorded under one host and URL."""
    return request.pretty_host, request.pretty_url, request.method, request.scheme, request.port, request.path


def flow_record(flow: http.HTTPFlow, body_cap: int = DEFAULT_BODY_CAP) -> dict[str, Any]:
    """The flows.jsonl record of one exchange: decoded, bodies capped, for reading and reports."""
    request = flow.request
    response = flow.response
    host, url, method, scheme, port, path = request_parts(request)
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


class SpoolCutShort(CaptureError):
    """The spool's last frame is incomplete: the capture was killed while writing it."""


class FlowSpool:
    """Appends flow states to flows.spool, each flushed before `append` returns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._file: BinaryIO = open(self.path, "ab")
        except OSError as exc:
            raise CaptureError(f"cannot open {self.path}: {exc}", hint="choose a writable --out directory") from exc

    def append(self, state: dict[str, Any]) -> None:
        if _body_bytes(state) > LARGE_BODY:
            # A large body would be copied whole into the msgpack buffer; as tnetstring pieces it is written
            # straight from the flow's own bytes object, and the Python encoding of the rest is small beside it.
            pieces = record_pieces(state)
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


def spooled_states(path: Path) -> Iterator[dict[str, Any] | bytes]:
    """Each spooled flow in order: its state, or its finished tnetstring record ("t" frames). A frame cut
    short (the capture was killed while writing it) raises SpoolCutShort after the complete ones."""
    with open(path, "rb") as handle:
        offset = 0
        while True:
            head = handle.read(_FRAME.size)
            if not head:
                return
            if len(head) < _FRAME.size:
                raise SpoolCutShort(f"{path}: the last flow (at byte {offset}) was cut short while it was written")
            tag, size = _FRAME.unpack(head)
            payload = handle.read(size)
            if len(payload) < size:
                raise SpoolCutShort(f"{path}: the last flow (at byte {offset}) was cut short while it was written")
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
                    out.writelines(record_pieces(item))
                    flow = http.HTTPFlow.from_state(item)  # consumes the state: after its record is written
                append_flow(flow_record(flow, body_cap))
                count += 1
        except SpoolCutShort as exc:
            cut_short = f"{exc}; the {count} flows before it were written out"
        out.flush()
        os.fsync(out.fileno())
    spool.unlink()
    return count, cut_short


def io_flow_from_record(record: bytes) -> http.HTTPFlow:
    state = tnetstring.loads(record)
    return http.HTTPFlow.from_state(compat.migrate_flow(state))  # type: ignore[arg-type]


def recover(run_dir: Path, body_cap: int = DEFAULT_BODY_CAP) -> tuple[int, str | None]:
    """Write out the flows a killed capture left in flows.spool: flows.mitm records and flows.jsonl lines.
    Returns how many, and what was lost if the last one was cut short while it was written."""
    run_dir = Path(run_dir)
    spool = run_dir / SPOOL_FILE
    if not spool.exists():
        raise CaptureError(f"{spool} does not exist: nothing to recover", hint="this run's flows were already written out")
    with open(run_dir / FLOWS_FILE, "wb") as jsonl:  # derived from the spool only: afresh, like flows.mitm
        outcome = unspool(spool, run_dir / MITM_FILE, lambda record: jsonl.write(dump_line(record)), body_cap)
        jsonl.flush()
        os.fsync(jsonl.fileno())
    return outcome

