"""A flow is joined to the code that opened its connection: the latest connect to the same host and port
within the window before the proxy saw the request — and to nothing else."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.analysis.senders import connect_url_endpoint, flow_senders

MS = 1_000_000
T0 = 1_767_225_600_000_000_000
WINDOW = 2_000 * MS


def connect(seq: int, at_ms: int, url: str, sdk: str | None = "umeng-analytics") -> dict:
    return {"source": "hook", "kind": "connect", "api": "java.net.URL.openConnection", "payload": {}, "value": url,
            "args": [url], "ts": T0 + at_ms * MS, "seq": seq, "sdk_id": sdk, "owner": "sdk" if sdk else "app",
            "sdk_frame": f"frame{seq}", "attribution_confidence": 0.9, "flow_id": None}


def flow(flow_id: str, at_ms: int, host: str, port: int | str) -> dict:
    return {"source": "net", "kind": "flow", "api": "POST", "payload": {"host": host, "port": port}, "value": None,
            "args": None, "ts": T0 + at_ms * MS, "seq": 1000 + at_ms, "sdk_id": None, "owner": None, "sdk_frame": None,
            "attribution_confidence": None, "flow_id": flow_id}


def senders(*rows: dict) -> dict[str, tuple[int, float]]:
    joined = flow_senders(pd.DataFrame(list(rows)), window_ns=WINDOW)
    assert set(joined["sender_window_ms"]) <= {WINDOW / MS}
    return {row.flow_id: (row.sender_seq, row.sender_gap_ms) for row in joined.itertuples()}


def test_a_flow_is_joined_to_the_latest_connect_to_its_host_and_port_before_it() -> None:
    found = senders(connect(1, 0, "https://ulogs.umeng.com/a"), connect(2, 300, "https://ulogs.umeng.com/b"),
                    connect(3, 350, "https://other.example.com/"), flow("f", 400, "ulogs.umeng.com", 443))
    assert found == {"f": (2, 100.0)}


@pytest.mark.parametrize("url,host,port,joined", [
    ("https://api.example.com/x", "api.example.com", 443, True),
    ("http://api.example.com/x", "api.example.com", 80, True),             # the scheme's default port
    ("HTTPS://API.Example.com/x", "api.example.com", "443", True),         # case, and a port given as text
    ("https://api.example.com:8443/x", "api.example.com", 8443, True),
    ("https://[2001:db8::1]:8443/x", "2001:db8::1", 8443, True),
    ("wss://push.example.com/ws", "push.example.com", 443, True),
    ("https://api.example.com:8443/x", "api.example.com", 443, False),     # same host, another port
    ("http://api.example.com/x", "api.example.com", 443, False),
    ("https://api.example.com.evil.test/x", "api.example.com", 443, False),
    ("https://api.example.com/x", "example.com", 443, False),
])
def test_host_and_port_must_both_match(url: str, host: str, port: int | str, joined: bool) -> None:
    assert ("f" in senders(connect(1, 0, url), flow("f", 100, host, port))) is joined


def test_a_connect_after_the_flow_or_before_the_window_explains_nothing() -> None:
    assert senders(connect(1, 500, "https://a.example.com/"), flow("f", 400, "a.example.com", 443)) == {}
    assert senders(connect(1, 0, "https://a.example.com/"), flow("f", 2_001, "a.example.com", 443)) == {}
    assert senders(connect(1, 0, "https://a.example.com/"), flow("f", 2_000, "a.example.com", 443)) == {"f": (1, 2000.0)}


def test_connect_endpoint_reads_payload_url_first_then_value_then_arguments() -> None:
    assert connect_url_endpoint({"url": "https://p.example.com:444/"}, "https://v.example.com/", None) == ("p.example.com", 444)
    assert connect_url_endpoint({}, "okhttp3.Request{method=POST, url=http://v.example.com/x}", None) == ("v.example.com", 80)
    assert connect_url_endpoint(None, None, ["x", "ws://a.example.com:9000"]) == ("a.example.com", 9000)
    assert connect_url_endpoint({}, "no url here", ["ftp://f.example.com/"]) is None
