"""What leaves the phone in one flow, cut into named parts the matcher searches.

Parts are named so a finding can say where a value travelled: `url`, `path`, `query:<name>`,
`header:<name>`, `cookie:<name>`, `body`, `body.json:<json.path>`, `form:<name>`, `multipart:<name>`,
`ws:<index>:<client|server>`. A part nested in another is named after it: a JSON document inside the
form field `data` is `form:data.json:<json.path>`; a body that the app gzipped itself (not through
Content-Encoding) is `body.gunzip`. `parent_fields` gives that nesting, so the matcher can report a
value once, in the most specific part that carries it.

Bodies are read in full from flows.mitm (monitor.store.flows.load_flows), after Content-Encoding is undone:
matching is never capped.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mitmproxy import http

# A string inside JSON that is itself JSON ('{"data": "{\"imei\": ...}"}') is parsed again, this deep.
MAX_NESTING = 4
# An app-level compressed body is inflated at most to this size, so a decompression bomb in captured
# traffic cannot exhaust memory; the compressed bytes themselves are still searched in full.
MAX_INFLATED = 256 << 20

GZIP_MAGIC = b"\x1f\x8b"
ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")


@dataclass(frozen=True)
class FlowPart:
    flow_id: str
    field: str
    data: bytes


FoundIn = Callable[[FlowPart], bool]


def parent_fields(field: str) -> list[str]:
    """The parts that contain `field`, innermost first: `form:d.json:a` → [`form:d`, `body`]."""
    parents: list[str] = []
    current = field
    while True:
        cut = max(current.rfind(".json:"), current.rfind(".gunzip"), current.rfind(".inflate"))
        if cut > 0:
            current = current[:cut]
            parents.append(current)
            continue
        if current.startswith(("form:", "multipart:", "body.")):
            parents.append("body")
        elif current.startswith(("query:", "path")) and current != "url":
            parents.append("url")
        elif current.startswith("cookie:"):
            parents.append("header:cookie")
        return parents


def _json_leaves(value: Any, path: str, depth: int) -> Iterator[tuple[str, bytes]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_leaves(item, f"{path}.{key}" if path else str(key), depth)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_leaves(item, f"{path}[{index}]", depth)
    elif isinstance(value, str):
        yield path, value.encode("utf-8", "surrogatepass")
        if depth < MAX_NESTING:
            nested = _parse_json(value.encode("utf-8", "surrogatepass"))
            if nested is not None:
                for inner_path, data in _json_leaves(nested, "", depth + 1):
                    yield f"{path}.json:{inner_path}", data
    elif isinstance(value, bool) or value is None:
        return
    else:
        # Numbers keep the text the sender wrote (json keeps ints exact, floats via repr).
        yield path, json.dumps(value).encode()


def _parse_json(data: bytes) -> Any | None:
    stripped = data.strip()
    if not stripped or stripped[:1] not in (b"{", b"["):
        return None
    try:
        parsed = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def _inflate(data: bytes) -> tuple[str, bytes] | None:
    if data.startswith(GZIP_MAGIC):
        how = "gunzip"
    elif data[:2] in ZLIB_HEADERS:
        how = "inflate"
    else:
        return None
    try:
        # wbits 47: accept a gzip or a zlib header, whichever the bytes carry.
        return how, zlib.decompressobj(47).decompress(data, MAX_INFLATED)
    except zlib.error:
        return None


# A number in exponent form whose plain digits form a run long enough to be an identifier: Java's
# Double.toString (Gson, org.json, Jackson) writes every double from 10^7 up so, with a capital E, and
# parsing gives the digits back up to 10^15 (json.dumps of a larger float is in exponent form again).
# Smaller exponents reveal nothing; JavaScript and Dart write plain digits in that range.
JSON_EXPONENT = re.compile(rb"(?<![0-9A-Za-z_.])[0-9]+(?:\.[0-9]+)?[eE]\+?(?:[7-9]|1[0-5])(?![0-9A-Za-z])")


def may_hide(data: bytes, how: str) -> bool:
    """Whether decoding `data` as `how` (a decoding_between kind) can produce bytes that `data` does not
    contain as they are.
    JSON without a backslash holds every string value verbatim, and without a large number in exponent form
    (8.67530912345675E14: JSON_EXPONENT, looked for only where an E or an e+ is) every number's digits; a
    form or query without % and + holds every value verbatim; a multipart field is a slice of the body;
    anything inflated is new bytes."""
    if how == "json":
        return b"\\" in data or ((b"E" in data or b"e+" in data) and JSON_EXPONENT.search(data) is not None)
    if how == "form":
        return b"%" in data or b"+" in data
    return how not in ("multipart", "verbatim")


def decoding_between(parent: str, child: str) -> str:
    """How iter_flow_parts cut part `child` out of part `parent` (its parent_fields()[0]): "json" (a leaf),
    "inflate" (gzip or zlib), "form" (a form or query value), "multipart" or "verbatim" (a path, a cookie)."""
    rest = child[len(parent):] if child.startswith(parent) else ""
    if rest.startswith(".json:"):
        return "json"
    if rest.startswith((".gunzip", ".inflate")):
        return "inflate"
    if child.startswith(("form:", "query:")):
        return "form"
    if child.startswith("multipart:"):
        return "multipart"
    return "verbatim"


def _wanted(part: FlowPart, how: str, found_in: FoundIn | None) -> bool:
    return found_in is None or found_in(part) or may_hide(part.data, how)


def _content_parts(flow_id: str, field: str, data: bytes, found_in: FoundIn | None = None, depth: int = 0) -> Iterator[FlowPart]:
    """A payload and what it decodes to: JSON leaves, app-level gzip/zlib."""
    part = FlowPart(flow_id, field, data)
    yield part
    if data[:64].lstrip()[:1] in (b"{", b"["):
        if not _wanted(part, "json", found_in):
            return
        parsed = _parse_json(data)
        if parsed is not None:
            for path, leaf in _json_leaves(parsed, "", depth):
                yield FlowPart(flow_id, f"{field}.json:{path}", leaf)
            return
    if depth < MAX_NESTING:
        inflated = _inflate(data)
        if inflated is not None:
            how, plain = inflated
            yield from _content_parts(flow_id, f"{field}.{how}", plain, found_in, depth + 1)


def _request_body(request: http.Request) -> bytes:
    content = request.get_content(strict=False)
    if content is None:
        return b""
    return content


def iter_flow_parts(flow: http.HTTPFlow, *, found_in: FoundIn | None = None) -> Iterator[FlowPart]:
    """What the app sent in `flow`: the request and every WebSocket message (both directions, since a
    server message may echo what the phone sent earlier and the finding says which way it went).

    `found_in`, for a matcher of literal byte strings, saves decoding work: called on a part right after
    it is yielded, and when it says nothing was found there, the part's JSON leaves, form and multipart
    fields are skipped unless decoding could reveal bytes the raw part lacks (escapes, %-encoding,
    compression). Such a matcher then finds exactly what it would find in every part."""
    request = flow.request
    flow_id = flow.id
    yield FlowPart(flow_id, "url", request.pretty_url.encode("utf-8", "surrogateescape"))
    raw_path = request.path.split("?", 1)[0]
    yield FlowPart(flow_id, "path", raw_path.encode("utf-8", "surrogateescape"))
    for name, value in request.query.items(multi=True):
        yield from _content_parts(flow_id, f"query:{name}", value.encode("utf-8", "surrogateescape"))
    for name, value in request.headers.fields:
        header = name.decode("latin-1").lower()
        yield from _content_parts(flow_id, f"header:{header}", value)
    for name, value in request.cookies.items(multi=True):
        yield from _content_parts(flow_id, f"cookie:{name}", value.encode("utf-8", "surrogateescape"))

    body = _request_body(request)
    if body:
        body_part = FlowPart(flow_id, "body", body)
        yield body_part
        content_type = request.headers.get("content-type", "").lower()
        if "x-www-form-urlencoded" in content_type and _wanted(body_part, "form", found_in):
            for name, value in request.urlencoded_form.items(multi=True):
                yield from _content_parts(flow_id, f"form:{name}", value.encode("utf-8", "surrogateescape"), found_in)
        elif "multipart/form-data" in content_type and _wanted(body_part, "multipart", found_in):
            for name, value in request.multipart_form.items(multi=True):
                yield from _content_parts(flow_id, f"multipart:{name.decode('utf-8', 'replace')}", value, found_in)
        elif "x-www-form-urlencoded" not in content_type and "multipart/form-data" not in content_type:
            parts = _content_parts(flow_id, "body", body, found_in)
            next(parts)  # the body itself, already yielded
            yield from parts

    if flow.websocket is not None:
        for index, message in enumerate(flow.websocket.messages):
            side = "client" if message.from_client else "server"
            yield from _content_parts(flow_id, f"ws:{index}:{side}", message.content, found_in)
