"""Which code sent each flow: the flow joined to the connection the app opened for it.

The agent records `connect` events (URL.openConnection, OkHttpClient.newCall) with the Java stack of the
code that opened the connection. A flow is joined to the latest connect event for the same host and port
(the URL's, or its scheme's default) that happened at most `window_ns` before the proxy saw the request;
the window is recorded with the join.
The proxy cannot see the stack, and the device cannot see the decrypted body: this join is what lets
a flow be attributed to the SDK that sent it even when it goes to a first-party or unknown host.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from monitor.events import KIND_CONNECT, KIND_FLOW

URL_HOST = re.compile(r"\b(https?|wss?)://(?:[^@/\s]*@)?(\[[0-9a-fA-F:]+\]|[^/:?#\s,}\]]+)(?::(\d{1,5}))?", re.IGNORECASE)
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

SENDER_COLUMNS = ["flow_id", "sender_seq", "sender_sdk_id", "sender_owner", "sender_frame", "sender_confidence",
                  "sender_gap_ms", "sender_window_ms"]


def connect_url_endpoint(payload: Any, value: Any, args: Any) -> tuple[str, int] | None:
    """(host, port) a connect event opened: from payload.url, else the first URL in its value or arguments;
    the port is the URL's own, or its scheme's default."""
    texts = []
    if isinstance(payload, dict) and payload.get("url"):
        texts.append(str(payload["url"]))
    if isinstance(value, str):
        texts.append(value)
    if isinstance(args, list):
        texts.extend(str(arg) for arg in args)
    for text in texts:
        found = URL_HOST.search(text)
        if found:
            scheme, host, port = found.group(1).lower(), found.group(2).strip("[]").lower(), found.group(3)
            return host, int(port) if port else DEFAULT_PORTS[scheme]
    return None


def connect_host(payload: Any, value: Any, args: Any) -> str | None:
    """The host a connect event opened (connect_url_endpoint without the port)."""
    endpoint = connect_url_endpoint(payload, value, args)
    return endpoint[0] if endpoint else None


def _endpoint_key(host: Any, port: Any) -> str | None:
    if not host or port is None or pd.isna(port):
        return None
    return f"{str(host).lower()}|{int(port)}"


def flow_senders(timeline: pd.DataFrame, *, window_ns: int) -> pd.DataFrame:
    """One row per flow that a connect event explains (SENDER_COLUMNS). Needs the attribution columns
    (owner, sdk_id, sdk_frame, attribution_confidence) on connect rows: run attribute_events with
    kind "connect" first."""
    flow_rows = timeline[((timeline["source"] == "net") & (timeline["kind"] == KIND_FLOW)).to_numpy(dtype=bool)]
    joined = net_senders(timeline, flow_rows, window_ns=window_ns)
    flow_ids = flow_rows["flow_id"].astype(str).to_numpy()
    joined["flow_id"] = flow_ids[joined["row"].to_numpy(dtype=np.int64)] if len(joined) else pd.Series(dtype=object)
    return joined[SENDER_COLUMNS].sort_values("flow_id", kind="stable").reset_index(drop=True)


def net_senders(timeline: pd.DataFrame, rows: pd.DataFrame, *, window_ns: int) -> pd.DataFrame:
    """For proxy events `rows` (flows, TLS failures: payload host and port), the connect event that explains
    each: `row` (position in `rows`) and the sender columns, for the rows that one explains."""
    columns = ["row", *SENDER_COLUMNS[1:]]
    connect_rows = timeline[((timeline["source"] == "hook") & (timeline["kind"] == KIND_CONNECT)).to_numpy(dtype=bool)]
    if connect_rows.empty or rows.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    endpoints = [connect_url_endpoint(p, v, a) for p, v, a in zip(connect_rows["payload"].tolist(),
                                                                 connect_rows["value"].tolist(), connect_rows["args"].tolist())]
    connects = pd.DataFrame({
        "endpoint": [_endpoint_key(*endpoint) if endpoint else None for endpoint in endpoints],
        "ts": connect_rows["ts"].to_numpy(dtype=np.int64),
        "sender_seq": connect_rows["seq"].to_numpy(dtype=np.int64),
        "sender_sdk_id": connect_rows["sdk_id"].tolist(),
        "sender_owner": connect_rows["owner"].tolist(),
        "sender_frame": connect_rows["sdk_frame"].tolist(),
        "sender_confidence": connect_rows["attribution_confidence"].to_numpy(dtype=float),
    }).dropna(subset=["endpoint"])
    targets = pd.DataFrame({
        "row": np.arange(len(rows), dtype=np.int64),
        "endpoint": [(_endpoint_key(p.get("host"), port_number(p.get("port"))) if isinstance(p, dict) else None) or ""
                     for p in rows["payload"].tolist()],
        "ts": rows["ts"].to_numpy(dtype=np.int64),
    })
    if connects.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    joined = pd.merge_asof(targets.sort_values("ts", kind="stable"), connects.sort_values("ts", kind="stable"),
                           on="ts", by="endpoint", direction="backward", tolerance=window_ns,
                           suffixes=("", "_connect"))
    joined = joined.dropna(subset=["sender_seq"])
    if joined.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    connect_ts = connects.set_index("sender_seq")["ts"]
    joined["sender_seq"] = joined["sender_seq"].astype(np.int64)
    joined["sender_gap_ms"] = (joined["ts"] - connect_ts.loc[joined["sender_seq"]].to_numpy()) / 1e6
    joined["sender_window_ms"] = window_ns / 1e6
    return joined[columns].sort_values("row", kind="stable").reset_index(drop=True)


def port_number(value: Any) -> int | None:
    """A port as events carry it (a number, or its text as the agent sends it), or None."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None
