"""Connections the proxy did not see.

Findings about traffic rest on what passed through the capture proxy. An app that opens a socket straight
to a server — push SDKs keep their own long TCP connections, some SDKs set no-proxy on their HTTP client,
others speak their own protocol — sends data the proxy never sees, and a report that says nothing about
it would read as if nothing was sent. The agent records every Java socket connect with its host and port
(catalogue: java.net.Socket.connect); here each one that did not go to the proxy is listed with who opened
it and the consent state at that moment, so a reader knows where the traffic evidence ends. Each names its
transport (Java sockets are TCP; a native connect says what the socket is) and, for a well-known port, what
it most likely carried and what the lab can do (monitor/data/protocols.yaml): a UDP connect to port 443 is
QUIC, which no HTTP proxy sees until UDP 443 is blocked on the device.

TLS handshakes the proxy could not complete are the other edge: nothing of them was decrypted. Each is
listed with its host and SNI, which side refused (the app: likely certificate pinning, seen with
`run --unpin-tls`; the server: an untrusted upstream certificate), the consent state then, and the code
that opened the connection when a URL connect explains it (the same host/port/window join as flows).

Not listed: connects to the proxy itself (run.json `proxy.listen`; on a phone that is 127.0.0.1 through
adb reverse), to loopback addresses (local IPC never leaves the device), and those with only the runtime
on the stack (the platform's own, e.g. a Linux JVM's DNS lookups), as PI reads of the platform are not
judged as the app's.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pandas as pd

from monitor.analysis.consent import iso
from monitor.data import load_platform, load_protocols
from monitor.analysis.senders import net_senders, port_number
from monitor.events import KIND_CONNECT, KIND_TLS_FAILED

# Which hooked connects are socket-level, and their transport: monitor/data/platform.yaml socket_connects.


def proxy_endpoint(run_info: dict[str, Any]) -> tuple[str, int] | None:
    """(host, port) the capture proxy listened on, from run.json, or None if the run does not say."""
    proxy = run_info.get("proxy")
    listen = proxy.get("listen") if isinstance(proxy, dict) else None
    if not isinstance(listen, str) or ":" not in listen:
        return None
    host, _, port = listen.rpartition(":")
    return (host.strip("[]").lower(), int(port)) if port.isdigit() else None


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def socket_endpoint(payload: Any) -> tuple[str, int | None] | None:
    """(host, port) a socket connect event names (payload host and port, as the agent records them)."""
    if not isinstance(payload, dict) or not payload.get("host"):
        return None
    return str(payload["host"]).strip().lower(), port_number(payload.get("port"))


def socket_transport(api: Any, payload: Any) -> str | None:
    """tcp or udp: what the agent read from the socket (native connect), or what the Java class is."""
    transport = payload.get("transport") if isinstance(payload, dict) else None
    if isinstance(transport, str) and transport:
        return transport
    return load_platform().java_transport(api)


def leaves_device(host: str, port: int | None, proxy: tuple[str, int] | None) -> bool:
    """Whether a connection goes out: not to loopback (local IPC) and not the hop to the capture proxy."""
    return not (is_loopback(host) or (proxy is not None and (host, port) == proxy))


def unseen_connections(timeline: pd.DataFrame, run_info: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per (host, port, opener) that the app connected to around the proxy, first seen first.
    Needs the attribution columns on connect rows (attribute_events with kind "connect")."""
    connects = timeline[((timeline["source"] == "hook") & (timeline["kind"] == KIND_CONNECT)
                         & timeline["api"].isin(load_platform().socket_connect_apis())).to_numpy(dtype=bool)]
    if connects.empty:
        return []
    proxy = proxy_endpoint(run_info)
    protocols = load_protocols()
    groups: dict[tuple[str, int | None, str | None, str], list[tuple[int, int, Any, Any, Any, Any, bool]]] = {}
    columns = zip(connects["api"].tolist(), connects["payload"].tolist(), connects["ts"].tolist(), connects["seq"].tolist(),
                  connects["owner"].tolist(), connects["sdk_id"].tolist(), connects["sdk_frame"].tolist(),
                  connects["consent_state"].tolist())
    for api, payload, ts, seq, owner, sdk_id, frame, consent_state in columns:
        endpoint = socket_endpoint(payload)
        if endpoint is None or owner == "platform" or not leaves_device(*endpoint, proxy):
            continue
        host, port = endpoint
        opener = str(sdk_id) if isinstance(sdk_id, str) and sdk_id else str(owner or "unknown")
        groups.setdefault((host, port, socket_transport(api, payload), opener), []).append(
            (int(ts), int(seq), owner, sdk_id, frame, consent_state, bool(payload.get("threw"))))
    unseen = []
    for (host, port, transport, opener), rows in groups.items():
        rows.sort(key=lambda row: (row[0], row[1]))
        first_ts, _, owner, sdk_id, frame, consent_state, _ = rows[0]
        protocol = protocols.lookup(transport, port)
        unseen.append({
            "host": host, "port": port, "transport": transport,
            "likely_protocol": protocol.name if protocol else None, "note": protocol.note if protocol else None,
            "opened_by": opener, "owner": owner if isinstance(owner, str) else None,
            "sdk_id": sdk_id if isinstance(sdk_id, str) else None, "frame": frame if isinstance(frame, str) else None,
            "first_seen_ns": first_ts, "first_seen": iso(first_ts),
            "consent_state_at_first": consent_state if isinstance(consent_state, str) else None,
            "count": len(rows), "failed": sum(1 for row in rows if row[6]), "event_seqs": [row[1] for row in rows[:20]]})
    return sorted(unseen, key=lambda item: (item["first_seen_ns"], item["host"], item["port"] or 0,
                                            item["transport"] or "", item["opened_by"]))


def tls_failures(timeline: pd.DataFrame, *, window_ns: int) -> list[dict[str, Any]]:
    """One entry per (host, port, SNI, side) whose TLS handshake failed at the proxy, first seen first, with who
    opened the connection when a connect event explains the first one. Needs the attribution columns on
    connect rows."""
    rows = timeline[((timeline["source"] == "net") & (timeline["kind"] == KIND_TLS_FAILED)).to_numpy(dtype=bool)]
    if rows.empty:
        return []
    rows = rows.reset_index(drop=True)
    senders = net_senders(timeline, rows, window_ns=window_ns).set_index("row")
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, payload in enumerate(rows["payload"].tolist()):
        payload = payload if isinstance(payload, dict) else {}
        key = (str(payload.get("host") or "").lower() or None, port_number(payload.get("port")),
               payload.get("sni") or None, payload.get("side") or "client")
        groups.setdefault(key, []).append(index)
    failures = []
    for (host, port, sni, side), indexes in groups.items():
        indexes.sort(key=lambda index: (int(rows.at[index, "ts"]), int(rows.at[index, "seq"])))
        first = indexes[0]
        payload = rows.at[first, "payload"] if isinstance(rows.at[first, "payload"], dict) else {}
        sender = senders.loc[first] if first in senders.index else None
        consent_state = rows.at[first, "consent_state"] if "consent_state" in rows.columns else None
        failures.append({
            "host": host, "port": port, "sni": sni, "side": side, "error": payload.get("error"),
            "likely": payload.get("likely"), "count": len(indexes),
            "first_seen_ns": int(rows.at[first, "ts"]), "first_seen": iso(int(rows.at[first, "ts"])),
            "consent_state_at_first": consent_state if isinstance(consent_state, str) else None,
            "opened_by": None if sender is None else next(
                (who for who in (sender["sender_sdk_id"], sender["sender_owner"]) if isinstance(who, str) and who), None),
            "frame": None if sender is None or not isinstance(sender["sender_frame"], str) else sender["sender_frame"],
            "event_seqs": [int(rows.at[index, "seq"]) for index in indexes[:20]]})
    return sorted(failures, key=lambda item: (item["first_seen_ns"], item["host"] or "", item["port"] or 0, item["side"]))
