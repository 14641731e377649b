"""Connections the proxy did not see: every socket the app opened around the proxy, and nothing else."""

from __future__ import annotations

import pandas as pd

from monitor.analysis.coverage import is_loopback, proxy_endpoint, unseen_connections

RUN_INFO = {"proxy": {"listen": "127.0.0.1:38633"}}


def connect(seq: int, host: str | None, port: object, *, sdk: str | None = "getui", threw: str | None = None,
            api: str = "java.net.Socket.connect", state: str = "none") -> dict:
    payload = {"host": host, "port": port} if host is not None else None
    if payload is not None and threw:
        payload["threw"] = threw
    return {"source": "hook", "kind": "connect", "api": api, "payload": payload, "ts": 1_767_225_600_000_000_000 + seq * 1000,
            "seq": seq, "owner": "sdk" if sdk else "app", "sdk_id": sdk, "sdk_frame": "com.igexin.push.Conn.open(Conn.java:3)",
            "consent_state": state}


def test_sockets_around_the_proxy_are_grouped_by_destination_and_opener() -> None:
    timeline = pd.DataFrame([
        connect(1, "127.0.0.1", "38633"),                                   # the proxy: proxied traffic
        connect(2, "sdk.open.phone.igexin.com", "5224", threw="java.net.ConnectException"),
        connect(3, "SDK.open.phone.igexin.com", 5224, state="agreed"),     # same destination, later
        connect(4, "localhost", "8080"), connect(5, "::1", "9000"), connect(6, "127.0.0.2", "1"),  # loopback
        connect(7, "203.0.113.9", "443", sdk=None),                         # the app itself, by address
        connect(8, None, None),                                             # connect(null): nothing to list
        connect(9, "tracker.example.com", "443", api="java.net.URL.openConnection"),  # not a socket connect
        {**connect(10, "203.0.113.9", "443"), "source": "net"},
    ])
    unseen = unseen_connections(timeline, RUN_INFO)
    assert [(item["host"], item["port"], item["opened_by"], item["count"], item["failed"], item["event_seqs"],
             item["consent_state_at_first"]) for item in unseen] == [
        ("sdk.open.phone.igexin.com", 5224, "getui", 2, 1, [2, 3], "none"),
        ("203.0.113.9", 443, "app", 1, 0, [7], "none"),
    ]
    # The same list whatever order the rows come in (the timeline is in time order; findings are deterministic).
    reordered = unseen_connections(timeline.sort_values("seq", ascending=False).reset_index(drop=True), RUN_INFO)
    assert [(item["host"], item["first_seen_ns"]) for item in reordered] == [(item["host"], item["first_seen_ns"]) for item in unseen]


def test_native_connects_count_unless_only_the_runtime_made_them() -> None:
    native = {**connect(1, "198.51.100.7", "8883", sdk=None, api="libc.so.connect"), "owner": "unknown",
              "sdk_frame": "0x7f00 libgetuiext3.so!0x1234"}
    dns = {**connect(2, "10.0.0.53", "53", sdk=None, api="libc.so.connect"), "owner": "platform"}
    unseen = unseen_connections(pd.DataFrame([native, dns]), RUN_INFO)
    assert [(item["host"], item["port"], item["opened_by"], item["frame"]) for item in unseen] == \
        [("198.51.100.7", 8883, "unknown", "0x7f00 libgetuiext3.so!0x1234")]


def test_a_run_without_a_recorded_proxy_still_skips_loopback() -> None:
    timeline = pd.DataFrame([connect(1, "127.0.0.1", "38633"), connect(2, "push.example.com", "80")])
    assert [item["host"] for item in unseen_connections(timeline, {})] == ["push.example.com"]
    assert unseen_connections(timeline.iloc[0:0], RUN_INFO) == []


def test_proxy_endpoint_and_loopback_forms() -> None:
    assert proxy_endpoint(RUN_INFO) == ("127.0.0.1", 38633)
    assert proxy_endpoint({"proxy": {"listen": "[::1]:8080"}}) == ("::1", 8080)
    assert proxy_endpoint({"proxy": {"listen": "nonsense"}}) is None and proxy_endpoint({}) is None
    assert all(is_loopback(host) for host in ("localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "app.localhost"))
    assert not any(is_loopback(host) for host in ("10.0.2.2", "192.168.1.4", "example.com", "128.0.0.1"))


def test_each_connection_says_its_transport_and_what_a_well_known_port_likely_carried() -> None:
    quic = {**connect(1, "203.0.113.20", "443", sdk=None, api="libc.so.connect"), "owner": "app"}
    quic["payload"]["transport"] = "udp"
    tcp_same_port = {**connect(2, "203.0.113.20", "443", sdk=None, api="libc.so.connect"), "owner": "app"}
    tcp_same_port["payload"]["transport"] = "tcp"
    mqtt = connect(3, "push.example.com", "8883")                    # Java socket: TCP
    private = connect(4, "push.example.com", "4711")                 # no well-known protocol
    unseen = unseen_connections(pd.DataFrame([quic, tcp_same_port, mqtt, private]), RUN_INFO)
    assert [(item["port"], item["transport"], item["likely_protocol"]) for item in unseen] == [
        (443, "udp", "QUIC / HTTP/3"), (443, "tcp", "HTTPS around the proxy"), (8883, "tcp", "MQTT over TLS"),
        (4711, "tcp", None)]
    assert "--block-quic" in unseen[0]["note"] and unseen[3]["note"] is None
    # The same in Chinese beside the English, for the report's first language.
    assert unseen[0]["likely_protocol_zh"] == "QUIC / HTTP/3" and "--block-quic" in unseen[0]["note_zh"]
    assert unseen[1]["likely_protocol_zh"] == "绕过代理的 HTTPS" and unseen[3]["note_zh"] is None
    # A native connect recorded before transports were (an older run): listed, transport unknown.
    old = {**connect(5, "198.51.100.7", "443", sdk=None, api="libc.so.connect"), "owner": "app"}
    (item,) = unseen_connections(pd.DataFrame([old]), RUN_INFO)
    assert item["transport"] is None and item["likely_protocol"] is None


def test_the_protocol_table_is_one_entry_per_port_each_with_a_source() -> None:
    import pytest
    from pydantic import ValidationError

    from monitor.data import load_protocols
    from monitor.data.models import ProtocolTable

    table = load_protocols()
    assert table.lookup("udp", 443) is not None and table.lookup("tcp", 443) is not None
    assert table.lookup("udp", 443) is not table.lookup("tcp", 443)
    assert all(entry.source.startswith("https://") for entry in table.entries)
    assert all(entry.name_zh and entry.note_zh for entry in table.entries)   # the report's first language
    entry = {"transport": "udp", "port": 443, "name": "QUIC", "note": "HTTPS over UDP", "name_zh": "QUIC",
             "note_zh": "基于 UDP 的 HTTPS", "source": "https://example.org/x"}
    with pytest.raises(ValidationError, match="listed twice"):
        ProtocolTable.model_validate({"version": "1", "entries": [entry, entry]})
    english_only = {key: value for key, value in entry.items() if not key.endswith("_zh")}
    with pytest.raises(ValidationError, match="note_zh"):
        ProtocolTable.model_validate({"version": "1", "entries": [english_only]})


def tls_failed(seq: int, host: str, port: int, *, side: str = "client", sni: str | None = None,
               state: str = "no_notice") -> dict:
    return {"source": "net", "kind": "tls_failed", "api": "tls_handshake", "ts": 1_767_225_600_000_000_000 + seq * 1000,
            "seq": seq, "payload": {"side": side, "host": host, "port": port, "sni": sni or host,
                                    "error": "certificate unknown", "likely": "certificate pinning"},
            "value": None, "args": None, "owner": None, "sdk_id": None, "sdk_frame": None,
            "attribution_confidence": None, "consent_state": state}


def test_tls_failures_are_grouped_per_host_and_side_and_attributed_to_the_code_that_opened_them() -> None:
    from monitor.analysis.coverage import tls_failures

    opened = {**connect(1, None, None, api="okhttp3.OkHttpClient.newCall", sdk="umeng-analytics"),
              "value": "Request{method=POST, url=https://pinned.example.com/log}", "args": [],
              "attribution_confidence": 0.9}
    timeline = pd.DataFrame([
        opened,
        tls_failed(2, "pinned.example.com", 443),                       # the SDK's pinned call: attributed
        tls_failed(3, "pinned.example.com", 443, state="accepted"),    # again later: counted, first state kept
        tls_failed(4, "pinned.example.com", 8443),                     # another port: no connect explains it
        tls_failed(5, "self-signed.example.net", 443, side="server"),
    ])
    failures = tls_failures(timeline, window_ns=10_000_000_000)
    assert [(item["host"], item["port"], item["side"], item["count"], item["consent_state_at_first"], item["opened_by"])
            for item in failures] == [
        ("pinned.example.com", 443, "client", 2, "no_notice", "umeng-analytics"),
        ("pinned.example.com", 8443, "client", 1, "no_notice", None),
        ("self-signed.example.net", 443, "server", 1, "no_notice", None)]
    assert failures[0]["frame"] == "com.igexin.push.Conn.open(Conn.java:3)" and failures[0]["event_seqs"] == [2, 3]
    assert tls_failures(timeline.iloc[0:1], window_ns=10_000_000_000) == []


def test_pinning_after_the_handshake_is_listed_from_both_sides() -> None:
    """OkHttp's CertificatePinner: the proxy sees a handshake and then the client closing with no request; the
    app's pin check throws. Both are TLS failures, the app's attributed by its own stack."""
    from monitor.analysis.coverage import tls_failures

    closed = tls_failed(2, "api.pinned.example", 443, side="client-closed-after-handshake")
    closed["payload"].update(error=None, likely="pinning checked after the handshake")
    check = {"source": "hook", "kind": "tls_failed", "api": "okhttp3.CertificatePinner.check",
             "ts": 1_767_225_600_000_000_000 + 3 * 1000, "seq": 3, "value": "api.pinned.example", "args": None,
             "payload": {"side": "app-pin-check", "host": "api.pinned.example",
                         "threw": "javax.net.ssl.SSLPeerUnverifiedException: Certificate pinning failure!"},
             "owner": "sdk", "sdk_id": "bugly", "sdk_frame": "com.tencent.bugly.Upload.send(Upload.java:9)",
             "attribution_confidence": 0.9, "consent_state": "accepted"}
    failures = tls_failures(pd.DataFrame([closed, check]), window_ns=10_000_000_000)
    assert [(item["host"], item["port"], item["side"], item["seen_by"], item["opened_by"]) for item in failures] == [
        ("api.pinned.example", 443, "client-closed-after-handshake", "proxy", None),
        ("api.pinned.example", None, "app-pin-check", "app", "bugly")]
    assert failures[1]["frame"] == "com.tencent.bugly.Upload.send(Upload.java:9)"
    assert failures[1]["error"].startswith("javax.net.ssl.SSLPeerUnverifiedException")
