"""An analysed run built from factories (fixed clock): Umeng reads and uploads before consent, the app's own
read, a screenshot at the consent dialog, the user agreeing, then a background read — every part of the
report has something to show, in a second."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from pathlib import Path

import pandas as pd
import pytest

from monitor.analysis import analyze
from monitor.analysis.findings import write_findings
from monitor.analysis.matching import COLUMNS
from monitor.store import FINDINGS_FILE
from monitor.store.reader import read_run
from monitor.testing.factories import (APP_FRAME, UMENG_FRAME, at, click, dialog, flow_event, lifecycle, mark,
                                       match_row, pi_read, run_info, write_run)

IMEI = "867530912345675"
ANDROID_ID = "5f2c8e1a9b3d47e6"
BSSID = "ac:bc:32:9f:21:07"
APP_ANDROID_ID = "9a8b7c6d5e4f3a2b"
LOCATION = "39.9087243"
VALUES = {IMEI: "device_id", ANDROID_ID: "device_id", BSSID: "wifi", APP_ANDROID_ID: "device_id", LOCATION: "location"}
SCREENSHOT = "screens/002-consent-before.png"


def png(width: int = 8, height: int = 12) -> bytes:
    raw = b"".join(b"\0" + b"\x30\x80\xd0" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def umeng_body() -> str:
    return json.dumps({"appkey": "5f1e2d3c4b5a69788796a5b4", "android_id": ANDROID_ID,
                       "imei_md5": hashlib.md5(IMEI.encode()).hexdigest(),
                       "bssid_b64": base64.b64encode(BSSID.encode()).decode()})


def flow_record(flow_id: str, host: str, path: str, body: str, ts: int) -> dict:
    return {"flow_id": flow_id, "host": host, "port": 443, "scheme": "https", "method": "POST", "path": path,
            "url": f"https://{host}{path}", "http_version": "HTTP/1.1", "status": 204, "error": None,
            "ts_request_ns": ts, "ts_response_ns": ts + 1_000_000, "client": "127.0.0.1:40000", "sni": host,
            "request": {"headers": [["Host", host], ["Content-Type", "application/json"]], "body": body,
                        "body_encoding": "utf-8", "content_type": "application/json", "decoded": True,
                        "size": len(body), "truncated": False},
            "response": {"headers": [], "body": "", "body_encoding": "utf-8", "content_type": None, "decoded": True,
                         "size": 0, "truncated": False},
            "websocket": []}


def build_run(root: Path, *, with_umeng: bool = True, screenshot: bool = True) -> Path:
    """Write and analyse the run; returns its directory (findings.json written)."""
    root.mkdir(parents=True)
    if screenshot:
        (root / "screens").mkdir()
        (root / SCREENSHOT).write_bytes(png())
    events = [lifecycle(ts=at(0.5), state="foreground")]
    if with_umeng:
        events += [
            pi_read(ts=at(1), value=IMEI, stack=[UMENG_FRAME, APP_FRAME]),
            pi_read(ts=at(1.1), api="android.provider.Settings$Secure.getString", value=ANDROID_ID,
                    args=["null", "android_id"], stack=[UMENG_FRAME, APP_FRAME]),
            pi_read(ts=at(1.2), api="android.net.wifi.WifiInfo.getBSSID", category="wifi", value=BSSID,
                    stack=[UMENG_FRAME, APP_FRAME]),
        ]
    events += [
        pi_read(ts=at(1.5), api="android.provider.Settings$Secure.getString", value=APP_ANDROID_ID,
                args=["null", "android_id"]),
        flow_event(ts=at(2), flow_id="f-umeng", host="ulogs.umeng.com", path="/unify_logs"),
        dialog(ts=at(3)),
        mark(ts=at(3.2), step="screenshot", screenshot=SCREENSHOT if screenshot else None),
        click(ts=at(4), text="同意"),
        lifecycle(ts=at(6), state="background"),
        pi_read(ts=at(9), api="android.location.LocationManager.getLastKnownLocation", category="location", value=LOCATION),
    ]
    flows = [flow_record("f-umeng", "ulogs.umeng.com", "/unify_logs", umeng_body() if with_umeng else "{}", at(2))]
    write_run(root, events, flows=flows, info=run_info(apk={"package": "com.example.demo", "version_name": "1.2.3",
                                                            "version_code": 123, "apk_sha256": "ab" * 32,
                                                            "signer_sha256": ["cd" * 32]}))
    run = read_run(root)
    seq = {event["value"]: int(event["seq"]) for event in run.events.to_dict("records") if event["kind"] == "pi_read"}
    rows = []
    if with_umeng:
        rows = [match_row(flow_id="f-umeng", event_seq=seq[IMEI], value=IMEI, field="body.json:imei_md5", encoding="md5"),
                match_row(flow_id="f-umeng", event_seq=seq[ANDROID_ID], value=ANDROID_ID, field="body.json:android_id"),
                match_row(flow_id="f-umeng", event_seq=seq[BSSID], category="wifi", value=BSSID, field="body.json:bssid_b64",
                          encoding="base64")]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["event_seq"] = frame["event_seq"].astype("Int64")
    frame["part_ts"] = frame["part_ts"].astype("Int64")
    findings = analyze(run, matches=frame)
    write_findings(findings, root / FINDINGS_FILE)
    return root


@pytest.fixture(scope="session")
def analysed_run(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("report") / "run")
