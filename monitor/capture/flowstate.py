"""A flow's state exactly as mitmproxy's `get_state()` builds it, in a fraction of the time.

flows.mitm is mitmproxy's own format: each record is `flow.get_state()` as tnetstring. Taking that state
is the one part of recording a flow that must happen on mitmproxy's event loop (the flow is live and
changes once the loop moves on), and most of it went into the two connections: mitmproxy serialises each
of their ~18 dataclass fields through a generic function that inspects the field's type hint on every
call. Here each dataclass's fields are turned into converters once, from the same type hints and with the
same rules (`mitmproxy.coretypes.serializable._process`), so a field only pays for its own value. Any
value outside the common exact types is handed to mitmproxy's own function, and any error makes the
whole flow fall back to `flow.get_state()`, which then raises mitmproxy's own error.

`flow_state` checks itself once against `get_state()` on sample flows (tnetstring bytes, key order
included) and uses `get_state()` for good if they differ: another mitmproxy version may serialise
differently, and flows.mitm must stay byte-for-byte what mitmproxy writes.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import enum
import typing
from collections import OrderedDict
from collections.abc import Callable
from types import NoneType, UnionType
from typing import Any

from mitmproxy import certs, connection, http, version
from mitmproxy.coretypes import serializable

Converter = Callable[[Any], Any]


class _Unsupported(Exception):
    """A type hint this module does not compile: the class keeps mitmproxy's own get_state."""


def _delegate(attr_type: Any, name: str) -> Converter:
    to_state = serializable._to_state  # noqa: SLF001 - mitmproxy's own rules, for everything uncommon

    def convert(value: Any) -> Any:
        return to_state(value, attr_type, name)
    return convert


def _compile(attr_type: Any, name: str) -> Converter:
    """A converter with the result of `serializable._to_state(value, attr_type, name)` for every value."""
    origin = typing.get_origin(attr_type)
    if origin is typing.Literal:
        allowed = frozenset(typing.get_args(attr_type))
        slow = _delegate(attr_type, name)
        return lambda value: value if value in allowed else slow(value)
    if origin in (UnionType, typing.Union):
        inner_type, none_type = typing.get_args(attr_type)
        if none_type is not NoneType:
            raise _Unsupported(f"{name}: {attr_type}")
        inner = _compile(inner_type, name)
        return lambda value: None if value is None else inner(value)
    slow = _delegate(attr_type, name)
    if attr_type is certs.Cert:
        return lambda value: slow(value) if value is None else _pem(value)
    if hasattr(attr_type, "get_state"):
        return lambda value: slow(value) if value is None else value.get_state()
    if origin in (list, collections.abc.Sequence):
        (item_type,) = typing.get_args(attr_type)
        item = _compile(item_type, name)
        return lambda value: [item(part) for part in value]
    if origin is tuple:
        # mitmproxy reads addresses as (str, int, int, int) whatever the hint says, of any length.
        address = name in ("peername", "sockname")
        item_types = [str, int, int, int] if address else list(typing.get_args(attr_type))
        if not address and ... in item_types:
            raise _Unsupported(f"{name}: {attr_type}")
        items = [_compile(item_type, name) for item_type in item_types]

        def convert_tuple(value: Any) -> Any:
            if not address and len(value) != len(items):
                return slow(value)  # mitmproxy's error
            return tuple(convert(part) for convert, part in zip(items, value))
        return convert_tuple
    if origin is dict:
        key_type, value_type = typing.get_args(attr_type)
        keys, values = _compile(key_type, name), _compile(value_type, name)
        return lambda value: {keys(key): values(item) for key, item in value.items()}
    if attr_type is float:
        # float(int) is what mitmproxy stores for a whole-second time (bool is not an int here: slow path).
        return lambda value: value if type(value) is float else float(value) if type(value) is int else slow(value)
    if attr_type in (int, str, bytes, bool):
        # The exact type converts to itself (str(s) is s); anything else gets mitmproxy's check and conversion.
        return lambda value: value if type(value) is attr_type else slow(value)
    if isinstance(attr_type, type) and issubclass(attr_type, enum.Enum):
        return lambda value: value.value if isinstance(value, attr_type) else slow(value)
    raise _Unsupported(f"{name}: {attr_type!r}")


# Every HTTPS flow carries the proxy's certificate for the host and the upstream's chain, and get_state
# writes each as PEM (a serialisation in cryptography, ~25 µs each). The same few certificates recur on
# every flow to a host, so each one's PEM is kept, keyed by the immutable x509 object it wraps (held here,
# so its id cannot be reused by another object).
_PEMS: OrderedDict[int, tuple[Any, bytes]] = OrderedDict()
_PEMS_KEPT = 256


def _pem(cert: certs.Cert) -> bytes:
    inner = cert._cert  # noqa: SLF001 - the x509 object Cert wraps and serialises
    kept = _PEMS.get(id(inner))
    if kept is not None and kept[0] is inner:
        return kept[1]
    pem = cert.get_state()
    _PEMS[id(inner)] = (inner, pem)
    if len(_PEMS) > _PEMS_KEPT:
        _PEMS.popitem(last=False)
    return pem


_compiled: dict[type, tuple[tuple[str, Converter], ...] | None] = {}


def _fields_of(cls: type) -> tuple[tuple[str, Converter], ...] | None:
    """(field name, converter) in the order mitmproxy writes them, or None if some hint is not compiled."""
    if cls in _compiled:
        return _compiled[cls]
    try:
        hints = typing.get_type_hints(cls)
        fields = tuple((field.name, _compile(hints[field.name], field.name))
                       for field in dataclasses.fields(cls) if field.metadata.get("serialize", True) is not False)
    except (_Unsupported, TypeError, ValueError, KeyError, NameError):
        fields = None
    _compiled[cls] = fields
    return fields


def dataclass_state(obj: serializable.SerializableDataclass) -> Any:
    fields = _fields_of(type(obj))
    if fields is None:
        return obj.get_state()
    return {name: convert(getattr(obj, name)) for name, convert in fields}


def _fast_state(flow: http.HTTPFlow) -> dict[str, Any]:
    # Flow.get_state, then HTTPFlow's additions: the same keys in the same order.
    state: dict[str, Any] = {
        "version": version.FLOW_FORMAT_VERSION,
        "type": flow.type,
        "id": flow.id,
        "error": flow.error.get_state() if flow.error else None,
        "client_conn": dataclass_state(flow.client_conn),
        "server_conn": dataclass_state(flow.server_conn),
        "intercepted": flow.intercepted,
        "is_replay": flow.is_replay,
        "marked": flow.marked,
        "metadata": copy.deepcopy(flow.metadata) if flow.metadata else {},
        "comment": flow.comment,
        "timestamp_created": flow.timestamp_created,
    }
    backup = flow._backup  # noqa: SLF001 - part of the state mitmproxy writes
    state["backup"] = copy.deepcopy(backup) if backup != state else None
    state["request"] = flow.request.get_state()
    state["response"] = flow.response.get_state() if flow.response else None
    state["websocket"] = flow.websocket.get_state() if flow.websocket else None
    return state


_agrees: bool | None = None


def _check_agreement() -> bool:
    """Whether the fast path gives the very bytes get_state gives, on flows with every optional part."""
    from mitmproxy.test import tflow

    from monitor.store.flows import flow_record_bytes

    samples = [tflow.tflow(resp=True), tflow.tflow(err=True), tflow.twebsocketflow(), tflow.tflow(resp=True)]
    samples[3].metadata["note"] = {"nested": [1, 2]}
    samples[3].marked = ":star:"
    samples[3].comment = "sample"
    try:
        return all(flow_record_bytes(_fast_state(flow)) == flow_record_bytes(flow.get_state()) for flow in samples)
    except Exception:  # noqa: BLE001 - whatever went wrong, mitmproxy's own get_state stays in use
        return False


def fast_path_in_use() -> bool:
    global _agrees
    if _agrees is None:
        _agrees = _check_agreement()
    return _agrees


def flow_state(flow: Any) -> dict[str, Any]:
    """`flow.get_state()`, the same value with the same key order, taken faster for HTTP flows."""
    if type(flow) is not http.HTTPFlow or not fast_path_in_use() \
            or type(flow.client_conn) is not connection.Client or type(flow.server_conn) is not connection.Server:
        return flow.get_state()
    try:
        return _fast_state(flow)
    except Exception:  # noqa: BLE001 - an unexpected value: mitmproxy's get_state decides, and raises its own error
        return flow.get_state()
