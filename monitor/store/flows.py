"""The run directory's traffic files: what a recorded flow becomes on disk (its flows.mitm record, its
flows.jsonl record, its `net`/`flow` event), the spool a capture writes while it runs, and reading
flows.mitm back. The capture addon hands flows here; analysis reads them from here."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from mitmproxy import http
from mitmproxy.connection import Client
from mitmproxy.flow import Error
from mitmproxy import io as mitm_io
from mitmproxy.exceptions import FlowReadException
from mitmproxy.io import compat, tnetstring

from monitor.errors import CaptureError, RunDirError
from monitor.events import KIND_FLOW
from monitor.store import MITM_FILE

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


def flow_event(flow: http.HTTPFlow) -> dict[str, Any]:
    """The `net`/`flow` event of one exchange in events.jsonl: on the run's clock at the request's start."""
    request = flow.request
    response = flow.response
    host, url, method, scheme, port, path = request_parts(request)
    return {
        "source": "net", "kind": KIND_FLOW, "ts": ns(request.timestamp_start) or 0, "flow_id": flow.id,
        "api": f"{method} {scheme}://{host}{path.split('?')[0]}",
        "payload": {"method": method, "url": url, "host": host,
                    "port": port, "scheme": scheme, "status": response.status_code if response else None,
                    "error": flow.error.msg if flow.error else None, "http_version": request.http_version,
                    # As sent, before any content-encoding is undone (flows.jsonl has the decoded body).
                    "request_body_bytes": len(request.raw_content or b""),
                    "websocket_messages": len(flow.websocket.messages) if flow.websocket else 0},
    }


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
# msgpack (msgspec, C) takes ~2 µs. So while capturing, each state goes to flows.spool as a frame: a tag byte,
# the payload's length (8 bytes, little-endian), the payload. Tags:
#   "m"  msgpack of the state;
#   "b"  a state with large bodies: the head's length (8 bytes), the head (msgpack of [the state with each
#        large body's content set to None, [[message, length], ...]]), then the bodies' bytes as they are,
#        written from the flow's own bytes objects: never copied into an encoder's buffer;
#   "t"  the state already as tnetstring, for a value msgpack cannot hold;
#   "s"  msgpack of a WebSocket flow's state when its handshake completed (no messages yet);
#   "w"  msgpack of [flow id, one WebSocket message's state], as each message passes;
#   "q"  a request still unanswered a while after it was read (a long poll, a slow server): a whole "m", "b" or
#        "t" frame of its state so far, nested. Superseded by the flow's own record when it ends; if the capture
#        is killed first, it is recorded with the error KILLED_UNANSWERED (its request went out all the same).
# A WebSocket is recorded whole ("m"/"b"/"t") when it ends, or when the capture finishes with it still open;
# its "s" and "w" frames are what is left of it if the capture is killed first, and they are put together
# into its record then (its messages so far, as mitmproxy would write the flow at that moment).
# msgpack has no tuples, but neither has tnetstring: both write a tuple as a list, so the flows.mitm record
# made from the spooled state is byte for byte the one made from the live state. Unlike pickle, reading a
# spool someone handed over runs no code.

_FRAME = struct.Struct("<cQ")
_HEAD = struct.Struct("<Q")
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder().decode

# A message body at least this large is written as it is ("b" frame) rather than copied into msgpack.
LARGE_BODY = 64 * 1024
_MESSAGES = ("request", "response")


class SpoolCutShort(CaptureError):
    """The spool's last frame is incomplete: the capture was killed while writing it."""


def _large_bodies(state: dict[str, Any]) -> list[tuple[str, bytes]]:
    found = []
    for part in _MESSAGES:
        message = state.get(part)
        if type(message) is dict:
            content = message.get("content")
            if type(content) is bytes and len(content) >= LARGE_BODY:
                found.append((part, content))
    return found


def spool_frame(state: dict[str, Any]) -> list[bytes]:
    """One flow's spool frame, as pieces to write one after the other (a large body is its own piece)."""
    large = _large_bodies(state)
    try:
        if large:
            stripped = dict(state)
            for part, _ in large:
                stripped[part] = {**state[part], "content": None}  # same key order: set back when read
            head = _pack([stripped, [[part, len(content)] for part, content in large]])
            size = _HEAD.size + len(head) + sum(len(content) for _, content in large)
            return [_FRAME.pack(b"b", size), _HEAD.pack(len(head)), head, *(content for _, content in large)]
        payload = _pack(state)
        return [_FRAME.pack(b"m", len(payload)), payload]
    except (TypeError, OverflowError, ValueError):
        pieces = record_pieces(state)
        return [_FRAME.pack(b"t", sum(map(len, pieces))), *pieces]


def _unframe_bodies(payload: bytes) -> dict[str, Any]:
    """The state a "b" frame holds, its bodies set back in place."""
    (head_size,) = _HEAD.unpack_from(payload)
    at = _HEAD.size + head_size
    state, bodies = _unpack(payload[_HEAD.size:at])
    for part, length in bodies:
        state[part]["content"] = payload[at:at + length]
        at += length
    if at != len(payload):
        raise ValueError(f"a large-body frame holds {len(payload) - at} bytes more than its bodies")
    return state


class FlowSpool:
    """Appends flow states to flows.spool, each in the kernel's hands before `append` returns (one writev
    per flow, no buffer of ours). A failed write is cut off again, so the frames on disk stay whole."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise CaptureError(f"cannot open {self.path}: {exc}", hint="choose a writable --out directory") from exc
        self._end = os.fstat(self._fd).st_size

    def append(self, state: dict[str, Any]) -> None:
        self._write(spool_frame(state))

    def append_websocket_start(self, state: dict[str, Any]) -> None:
        """Spool an open WebSocket's state. Nothing is written for a state msgpack cannot hold: its whole
        record, written when it ends or the capture finishes, falls back to tnetstring like any flow's."""
        try:
            payload = _pack(state)
        except (TypeError, OverflowError, ValueError):
            return
        self._write([_FRAME.pack(b"s", len(payload)), payload])

    def append_pending(self, state: dict[str, Any]) -> None:
        """Spool a request still waiting for its answer: its whole frame, nested in a "q" frame."""
        pieces = spool_frame(state)
        self._write([_FRAME.pack(b"q", sum(map(len, pieces))), *pieces])

    def append_websocket_message(self, flow_id: str, message: Any) -> None:
        payload = _pack([flow_id, message])
        self._write([_FRAME.pack(b"w", len(payload)), payload])

    def _write(self, pieces: list[bytes]) -> None:
        if self._fd is None:
            raise CaptureError(f"{self.path} is closed")
        total = sum(map(len, pieces))
        try:
            written = os.writev(self._fd, pieces)
            if written < total:  # a regular file takes a short write only when it is about to fail
                rest = memoryview(b"".join(pieces))[written:]
                while rest:
                    rest = rest[os.write(self._fd, rest):]
        except OSError:
            try:
                os.ftruncate(self._fd, self._end)  # no partial frame before the next flow's
            except OSError:
                pass  # then the frame is cut short, which the reader reports
            raise
        self._end += total

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# The error a request whose pending frame outlived the capture is recorded with.
KILLED_UNANSWERED = "the capture was killed while this request waited for its answer"


def _decode(tag: bytes, payload: bytes) -> tuple[bytes, Any]:
    """(tag, item) of one frame's payload: "b" comes out as its state tagged "m"; "q" as its nested frame's
    item, tagged "q". Raises ValueError, TypeError, KeyError or struct.error on a frame that is not ours."""
    if tag in (b"m", b"s", b"w"):
        item: Any = _unpack(payload)
    elif tag == b"b":
        tag, item = b"m", _unframe_bodies(payload)
    elif tag == b"t":
        item = payload
    elif tag == b"q":
        inner, size = _FRAME.unpack_from(payload)
        if inner not in (b"m", b"b", b"t") or size != len(payload) - _FRAME.size:
            raise ValueError("a pending-request frame does not hold one whole flow frame")
        _, item = _decode(inner, payload[_FRAME.size:])
    else:
        raise ValueError(f"unknown frame {tag!r}")
    if tag in (b"m", b"s") and type(item) is not dict:
        raise ValueError("a flow frame does not hold a flow's state")
    if tag == b"w" and not (type(item) is list and len(item) == 2 and type(item[0]) is str):
        raise ValueError("a WebSocket message frame is not [flow id, message]")
    return tag, item


def _spool_frames(path: Path) -> Iterator[tuple[bytes, Any]]:
    """(tag, decoded payload) of each frame in order (see _decode). A frame cut short (the capture was killed
    while writing it) raises SpoolCutShort after the complete ones."""
    with open(path, "rb") as handle:
        offset = 0
        file_size = os.fstat(handle.fileno()).st_size
        while True:
            head = handle.read(_FRAME.size)
            if not head:
                return
            if len(head) < _FRAME.size:
                raise SpoolCutShort(f"{path}: the last flow (at byte {offset}) was cut short while it was written")
            tag, size = _FRAME.unpack(head)
            if offset + _FRAME.size + size > file_size:  # never ask for more than the file holds (a damaged length)
                raise SpoolCutShort(f"{path}: the last flow (at byte {offset}) was cut short while it was written")
            payload = handle.read(size)
            if len(payload) < size:
                raise SpoolCutShort(f"{path}: the last flow (at byte {offset}) was cut short while it was written")
            try:
                yield _decode(tag, payload)
            except (ValueError, TypeError, KeyError, struct.error) as exc:
                raise CaptureError(f"{path}: the flow at byte {offset} cannot be read: {exc}",
                                   hint="the file is not a consentmon flow spool, or it was damaged") from exc
            offset += _FRAME.size + size


def _flow_id(item: dict[str, Any] | bytes) -> str:
    return str(item.get("id")) if type(item) is dict else io_flow_from_record(item).id  # type: ignore[union-attr]


def _unanswered(item: dict[str, Any] | bytes, when: float) -> dict[str, Any]:
    """A pending request's state with the error saying the capture was killed while it waited."""
    state = item if type(item) is dict else io_flow_from_record(item).get_state()  # type: ignore[arg-type]
    if state.get("error") is None and state.get("response") is None:
        state["error"] = Error(KILLED_UNANSWERED, when).get_state()
    return state  # type: ignore[return-value]


def spooled_states(path: Path) -> Iterator[dict[str, Any] | bytes]:
    """Each spooled flow in order: its state, or its finished tnetstring record ("t" frames); then each
    WebSocket that never ended (the capture was killed), put together from its start and its messages; then
    each request that was still waiting for its answer, with the error KILLED_UNANSWERED timed at the spool's
    last write (the capture was alive until then). A frame cut short raises SpoolCutShort after all of those."""
    open_sockets: dict[str, dict[str, Any]] = {}
    pending: dict[str, dict[str, Any] | bytes] = {}
    cut_short: SpoolCutShort | None = None
    try:
        for tag, item in _spool_frames(path):
            if tag == b"s":
                flow_id = str(item.get("id"))
                open_sockets[flow_id] = item
                pending.pop(flow_id, None)  # its handshake was answered: a WebSocket now
            elif tag == b"w":
                started = open_sockets.get(item[0])
                if started is not None and type(started.get("websocket")) is dict:
                    started["websocket"]["messages"].append(item[1])
            elif tag == b"q":
                pending[_flow_id(item)] = item
            else:
                if open_sockets or pending:  # a flow's full record supersedes what was spooled while it was open
                    flow_id = _flow_id(item)
                    open_sockets.pop(flow_id, None)
                    pending.pop(flow_id, None)
                yield item
    except SpoolCutShort as exc:
        cut_short = exc
    yield from open_sockets.values()
    if pending:
        last_write = os.stat(path).st_mtime
        for item in pending.values():
            yield _unanswered(item, last_write)
    if cut_short is not None:
        raise cut_short


# Events are written in batches of this many flows at the end: one flush per batch.
EVENT_BATCH = 512


def unspool(spool: Path, mitm: Path, append_flow: Any, append_events: Any, body_cap: int = DEFAULT_BODY_CAP,
            *, evented: frozenset[str] = frozenset()) -> tuple[int, str | None]:
    """Turn flows.spool into flows.mitm (written afresh, synced), flows.jsonl records (through `append_flow`)
    and each flow's event (through `append_events`, a list at a time; none for a flow id in `evented`, whose
    event is already in events.jsonl), then delete the spool. Returns how many flows, and what was lost if
    the last frame was cut short (a capture killed while writing it: that flow was never whole on disk)."""
    count = 0
    cut_short: str | None = None
    events: list[dict[str, Any]] = []
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
                if flow.id not in evented:
                    events.append(flow_event(flow))
                    if len(events) >= EVENT_BATCH:
                        append_events(events)
                        events = []
                count += 1
        except SpoolCutShort as exc:
            cut_short = f"{exc}; the {count} flows before it were written out"
        if events:
            append_events(events)
        out.flush()
        os.fsync(out.fileno())
    spool.unlink()
    return count, cut_short


def io_flow_from_record(record: bytes) -> http.HTTPFlow:
    state = tnetstring.loads(record)
    return http.HTTPFlow.from_state(compat.migrate_flow(state))  # type: ignore[arg-type]


def load_flows(run_root: Path) -> list[http.HTTPFlow]:
    """Every HTTP flow (WebSocket ones included) in a run's flows.mitm, in capture order."""
    path = Path(run_root) / MITM_FILE
    if not path.exists():
        raise RunDirError(f"{path} is missing: the run holds no captured traffic",
                          hint="capture with the proxy on (`consentmon run` starts it), or analyse without network evidence")
    if path.is_symlink() or not path.is_file():
        raise RunDirError(f"{path} is not a regular file (a symbolic link, a device or a pipe)",
                          hint="a run directory holds plain files only: re-capture, or restore it from the sealed copy")
    flows: list[http.HTTPFlow] = []
    try:
        with open(path, "rb") as handle:
            for flow in mitm_io.FlowReader(_FileBound(handle)).stream():  # type: ignore[arg-type]
                if isinstance(flow, http.HTTPFlow):
                    flows.append(flow)
    except (FlowReadException, ValueError, KeyError, TypeError) as exc:
        raise RunDirError(f"{path}: unreadable after {len(flows)} flows ({exc})",
                          hint="the file was truncated or edited; restore it from the sealed copy or re-capture") from exc
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc})") from exc
    return flows


class _FileBound:
    """A file whose reads never ask for more than it holds: a record's length prefix is read from the file, and
    a damaged one (up to 12 digits) would otherwise make the reader allocate that much before finding out."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._size = os.fstat(handle.fileno()).st_size

    def read(self, size: int = -1) -> bytes:
        left = max(0, self._size - self._handle.tell())
        return self._handle.read(left if size is None or size < 0 else min(size, left))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def has_traffic(run_root: Path) -> bool:
    """Whether the run holds a flows.mitm (a run captured without the proxy has none)."""
    return (Path(run_root) / MITM_FILE).exists()


def ensure_mitm_writable(run_root: Path) -> None:
    """Open flows.mitm for appending once, so a capture that could not write it fails at its start."""
    path = Path(run_root) / MITM_FILE
    try:
        open(path, "ab").close()
    except OSError as exc:
        raise CaptureError(f"cannot open {path}: {exc}", hint="choose a writable --out directory") from exc
