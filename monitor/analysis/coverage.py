"""Connections the proxy did not see.

Findings about traffic rest on what passed through the capture proxy. An app that opens a socket straight
to a server — push SDKs keep their own long TCP connections, some SDKs set no-proxy on their HTTP client,
others speak their own protocol — sends data the proxy never sees, and a report that says nothing about
it would read as if nothing was sent. The agent records every Java socket connect with its host and port
(catalogue: java.net.Socket.connect); here each one that did not go to the proxy is listed with who opened
it and the consent state at that moment, so a reader knows where the traffic evidence ends. Each names its
transport (Java sockets are TCP; a native connect says what the socket is) and, for a well-known port, what
it most likely carried and what the lab can do (monitor/data/protocols.yaml, in English and Chinese: the
report says it in its own language): a UDP connect to port 443 is QUIC, which no HTTP proxy sees until UDP 443
is blocked on the device.

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
            "likely_protocol_zh": protocol.name_zh if protocol else None, "note_zh": protocol.note_zh if protocol else None,
            "opened_by": opener, "owner": owner if isinstance(owner, str) else None,
            "sdk_id": sdk_id if isinstance(sdk_id, str) else None, "frame": frame if isinstance(frame, str) else None,
            "first_seen_ns": first_ts, "first_seen": iso(first_ts),
            "consent_state_at_first": consent_state if isinstance(consent_state, str) else None,
            "count": len(rows), "failed": sum(1 for row in rows if row[6]), "event_seqs": [row[1] for row in rows[:20]]})
    return sorted(unseen, key=lambda item: (item["first_seen_ns"], item["host"], item["port"] or 0,
                                            item["transport"] or "", item["opened_by"]))


def tls_failures(timeline: pd.DataFrame, *, window_ns: int) -> list[dict[str, Any]]:
    """One entry per (host, port, SNI, side) whose TLS failed, first seen first, with who opened the connection.

    Seen at the proxy (source net): a handshake refused by the client or the server, and a handshake completed
    and then closed by the client with no request (side `client-closed-after-handshake`: pinning checked after
    the handshake, as OkHttp's CertificatePinner does). Seen in the app (source hook, side `app-pin-check`): the
    pin check that threw, its host from the check and its opener from the check's own stack. A proxy-side
    entry is attributed when a connect event explains the first one. Needs the attribution columns on connect
    and tls_failed hook rows."""
    failed = (timeline["kind"] == KIND_TLS_FAILED) & timeline["source"].isin(["net", "hook"])
    rows = timeline[failed.to_numpy(dtype=bool)]
    if rows.empty:
        return []
    rows = rows.reset_index(drop=True)
    at_proxy = rows[(rows["source"] == "net").to_numpy(dtype=bool)]
    senders = net_senders(timeline, at_proxy, window_ns=window_ns).set_index("row") if not at_proxy.empty else None
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
        consent_state = rows.at[first, "consent_state"] if "consent_state" in rows.columns else None
        opened_by, frame = _opener(rows, first, senders)
        failures.append({
            "host": host, "port": port, "sni": sni, "side": side,
            "error": payload.get("error") if rows.at[first, "source"] == "net" else payload.get("threw"),
            "likely": payload.get("likely") if rows.at[first, "source"] == "net" else
            "the app's certificate pinning refused the chain it was shown after the TLS handshake",
            "seen_by": "proxy" if rows.at[first, "source"] == "net" else "app", "count": len(indexes),
            "first_seen_ns": int(rows.at[first, "ts"]), "first_seen": iso(int(rows.at[first, "ts"])),
            "consent_state_at_first": consent_state if isinstance(consent_state, str) else None,
            "opened_by": opened_by, "frame": frame,
            "event_seqs": [int(rows.at[index, "seq"]) for index in indexes[:20]]})
    return sorted(failures, key=lambda item: (item["first_seen_ns"], item["host"] or "", item["port"] or 0, item["side"]))


def _opener(rows: pd.DataFrame, index: int, senders: pd.DataFrame | None) -> tuple[str | None, str | None]:
    """Who opened a failed TLS connection and the frame that says so: an app-side check by its own stack's
    attribution, a proxy-side failure by the connect event that explains it (net_senders)."""
    if rows.at[index, "source"] == "hook":
        who = next((value for value in (rows.at[index, "sdk_id"] if "sdk_id" in rows.columns else None,
                                        rows.at[index, "owner"] if "owner" in rows.columns else None)
                    if isinstance(value, str) and value), None)
        frame = rows.at[index, "sdk_frame"] if "sdk_frame" in rows.columns else None
        return who, frame if isinstance(frame, str) else None
    net_index = int((rows.iloc[:index + 1]["source"] == "net").sum()) - 1
    sender = senders.loc[net_index] if senders is not None and net_index in senders.index else None
    if sender is None:
        return None, None
    who = next((value for value in (sender["sender_sdk_id"], sender["sender_owner"]) if isinstance(value, str) and value), None)
    return who, sender["sender_frame"] if isinstance(sender["sender_frame"], str) else None
