"""A value a hook read is found in the flow that carries it, in the encodings SDKs use, and only there."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tflow
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from monitor.analysis.matching import COLUMNS, match_flows, needles_from_events, unsearchable_reason, load_matching_rules

IMEI = "864398046598172"
IMSI = "460001234567890"
ANDROID_ID = "a1b2c3d4e5f60718"
OAID = "7f3e9c2a-41b8-4d6e-9a0f-2c5b8d1e6a37"
MAC = "3c:28:6d:4a:91:0f"
SERIAL = "R58M42ABCDE"
PHONE = "+8613912345678"
SSID = '"HomeNet-5G"'
LATITUDE = "39.908823"
PACKAGE = "com.tencent.mm"
CLIP = "my secret note 2024"

# (category, value as the hook read it)
READS = [
    ("device_id", IMEI), ("device_id", IMSI), ("device_id", ANDROID_ID), ("oaid", OAID),
    ("wifi", MAC), ("device_id", SERIAL), ("phone_number", PHONE), ("wifi", SSID),
    ("location", LATITUDE), ("installed_apps", PACKAGE), ("clipboard", CLIP),
]


def needles_of(*reads: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame([(seq, category, "api.Test.get", value) for seq, (category, value) in enumerate(reads, 1)],
                        columns=["seq", "category", "api", "value"])


def post(body: bytes, *, url: str = "https://api.example.com/collect", content_type: str = "application/octet-stream",
         headers: dict[str, str] | None = None) -> http.HTTPFlow:
    request = http.Request.make("POST", url, body, {"content-type": content_type, **(headers or {})})
    return tflow.tflow(req=request)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def b64_inside(text: str, prefix: bytes = b"", urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(prefix + text.encode() + b"&tail=1").decode()


# How an SDK writes a value → the encoding the matcher must report.
ENCODERS = {
    "plain": lambda v: v,
    "lower": lambda v: v.lower(),
    "upper": lambda v: v.upper(),
    "urlencoded": lambda v: quote(v, safe=""),
    "hex": lambda v: v.encode().hex(),
    "HEX": lambda v: v.encode().hex().upper(),
    "base64": lambda v: b64_inside(v),
    "md5": md5,
    "MD5": lambda v: md5(v).upper(),
    "sha1": lambda v: hashlib.sha1(v.encode()).hexdigest(),
    "sha256": lambda v: hashlib.sha256(v.encode()).hexdigest(),
    "SHA256": lambda v: hashlib.sha256(v.encode()).hexdigest().upper(),
    # Java's Base64.encodeToString(MessageDigest.getInstance(…).digest(value)): the digest's bytes, not its hex.
    "base64(md5:bytes)": lambda v: base64.b64encode(hashlib.md5(v.encode()).digest()).decode(),
    "base64(sha1:bytes)": lambda v: base64.b64encode(hashlib.sha1(v.encode()).digest()).decode(),
    "base64url(sha256:bytes)": lambda v: base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).decode(),
}


def expected_encodings(value: str, written: str) -> set[str]:
    """The names under which `written` may be reported: a digit-only value's lower case is itself."""
    if written in ("lower", "upper") and getattr(value, written)() == value:
        return {"plain"}
    if written == "HEX" and value.encode().hex().upper() == value.encode().hex():
        return {"hex"}
    if written == "urlencoded" and quote(value, safe="") == value:
        return {"plain"}
    if written.startswith("base64url("):  # a base64 without '+' and '/' is both: reported as plain base64
        return {written, written.replace("base64url(", "base64(", 1)}
    return {written}


@pytest.mark.parametrize("written", sorted(ENCODERS))
@pytest.mark.parametrize("category,value", READS, ids=[value for _, value in READS])
def test_value_found_in_each_encoding(category: str, value: str, written: str) -> None:
    carried = ENCODERS[written](value)
    flow = post(f"v=1&x={carried}&y=2".encode())
    found = match_flows(needles_of((category, value)), [flow], patterns=False)
    assert list(found.columns) == COLUMNS
    assert len(found) == 1, found
    row = found.iloc[0]
    assert row["value"] == value and row["category"] == category and row["event_seq"] == 1
    assert row["flow_id"] == flow.id and row["field"] == "body" and row["confidence"] == "exact"
    assert row["encoding"] in expected_encodings(value, written)
    assert f"v=1&x={carried}".find(carried) <= row["offset"] < len(f"v=1&x={carried}")


@pytest.mark.parametrize("shift", [0, 1, 2])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_base64_found_at_each_alignment(shift: int, urlsafe: bool) -> None:
    value = "a?b>c~d" + OAID  # bytes that give '+' and '/' in base64, so the URL-safe alphabet differs
    blob = b64_inside(value, prefix=b"{\"k\":1,\"x\":\""[: 9 + shift], urlsafe=urlsafe)
    found = match_flows(needles_of(("oaid", value)), [post(blob.encode())], patterns=False)
    assert len(found) == 1
    assert found.iloc[0]["encoding"] in ({"base64url"} if urlsafe else {"base64"}) | {"base64"}


@pytest.mark.parametrize("value", ["000001", "张三", "zhangs1"])
def test_a_short_value_in_base64_is_found_when_aligned(value: str) -> None:
    blob = base64.b64encode(b"abc" + value.encode() + b"xyz")
    found = match_flows(needles_of(("contacts", value)), [post(blob)], patterns=False)
    assert value in set(found["value"])


@settings(max_examples=60, deadline=None)
@given(value=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x7ff), min_size=6, max_size=40),
       before=st.binary(max_size=20), after=st.binary(max_size=20), urlsafe=st.booleans())
def test_base64_of_value_inside_any_bytes_is_found(value: str, before: bytes, after: bytes, urlsafe: bool) -> None:
    # At an unaligned offset only the value's inner base64 core is fixed: ⌊(n-2)/3⌋·4 characters for n bytes.
    # matching.yaml searches no derived needle under 8 characters, so the promise "at any alignment" holds
    # from 8 bytes on (every device identifier); 6-7 byte values are found aligned (test below).
    assume(len(value.encode()) >= 8)
    if unsearchable_reason(value, load_matching_rules()) is not None:
        return
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode(before + value.encode() + after)
    found = match_flows(needles_of(("clipboard", value)), [post(blob)], patterns=False)
    assert value in set(found["value"]), (before, after)


def test_mac_without_separators_and_ssid_without_quotes() -> None:
    flow = post(json.dumps({"bssid": "3C286D4A910F", "ssid": "HomeNet-5G"}).encode(), content_type="application/json")
    found = match_flows(needles_of(("wifi", MAC), ("wifi", SSID)), [flow], patterns=False)
    by_value = dict(zip(found["value"], zip(found["field"], found["encoding"])))
    assert by_value[MAC] == ("body.json:bssid", "upper(no-separators)")
    assert by_value[SSID] == ("body.json:ssid", "unquoted")


def test_phone_number_found_without_country_code() -> None:
    flow = post(b"mobile=13912345678&ok=1", content_type="application/x-www-form-urlencoded")
    found = match_flows(needles_of(("phone_number", PHONE)), [flow], patterns=False)
    assert list(zip(found["field"], found["encoding"])) == [("form:mobile", "national")]


@pytest.mark.parametrize("sent,encoding", [("39.909", "coord:3dp"), ("39.908", "coord:3dp-cut"), ("39.9088", "coord:4dp"),
                                           ("39.90882", "coord:5dp"), ("39.908823", "plain"), ("39.9088230001", "plain")])
def test_coordinates_found_rounded_or_cut(sent: str, encoding: str) -> None:
    flow = post(json.dumps({"lat": float(sent)}).encode(), content_type="application/json")
    found = match_flows(needles_of(("location", LATITUDE)), [flow], patterns=False)
    assert list(zip(found["field"], found["encoding"])) == [("body.json:lat", encoding)]


@pytest.mark.parametrize("body", [
    b"id=864398046598173",             # another IMEI (last digit differs)
    b"n=12864398046598172",            # the IMEI inside a longer number
    b"n=8643980465981721",             # the IMEI followed by one more digit
    md5("864398046598173").encode(),   # MD5 of a different IMEI
    b"lat=139.908823",                 # the latitude inside a larger number
    b"x=86439804659817",               # one digit short
], ids=["other-imei", "inside-longer-run", "digit-after", "hash-of-other", "lat-prefixed", "truncated"])
def test_near_misses_are_not_matches(body: bytes) -> None:
    found = match_flows(needles_of(("device_id", IMEI), ("location", LATITUDE)), [post(body)], patterns=False)
    assert found.empty, found


@pytest.mark.parametrize("value", ["0", "gps", "unknown", "02:00:00:00:00:00", "", "000000000000000", '"<unknown ssid>"', "46000"])
def test_weak_values_are_not_searched(value: str) -> None:
    events = pd.DataFrame([{"source": "hook", "kind": "pi_read", "seq": 4, "category": "device_id", "api": "a.B.c",
                            "value": value, "payload": None}])
    assert needles_from_events(events).empty
    assert unsearchable_reason(value, load_matching_rules()) is not None


def test_needles_cover_list_items_and_object_fields() -> None:
    events = pd.DataFrame([
        {"source": "hook", "kind": "pi_read", "seq": 3, "category": "installed_apps", "api": "p.M.getInstalledPackages",
         "value": "3 items", "payload": {"count": 3, "items": ["com.tencent.mm", "com.eg.android.AlipayGphone", "android"], "sha256": "x"}},
        {"source": "hook", "kind": "pi_read", "seq": 5, "category": "location", "api": "l.M.getLastKnownLocation",
         "value": "getLatitude=39.908823,getLongitude=116.39747",
         "payload": {"fields": {"getLatitude": "39.908823", "getLongitude": "116.39747", "getProvider": "gps"}}},
        {"source": "hook", "kind": "pi_read", "seq": 6, "category": "device_id", "api": "t.M.getImei", "value": IMEI, "payload": None},
        {"source": "net", "kind": "flow", "seq": 7, "category": None, "api": None, "value": "https://x.y/zzzzzz", "payload": {}},
        {"source": "hook", "kind": "click", "seq": 8, "category": "ui", "api": "v.View.performClick", "value": "Agree and continue", "payload": None},
    ])
    needles = needles_from_events(events)
    assert list(needles.columns) == ["seq", "category", "api", "value", "ts"]  # ts: <NA> where events carry none
    assert list(zip(needles["seq"], needles["value"])) == [
        (3, "com.tencent.mm"), (3, "com.eg.android.AlipayGphone"), (5, "39.908823"), (5, "116.39747"), (6, IMEI)]


def test_a_websocket_message_names_the_latest_read_before_the_message_itself() -> None:
    flow = tflow.tflow(ws=True)
    flow.websocket.messages = [WebSocketMessage(Opcode.TEXT, True, f"imei={IMEI}".encode(), timestamp=1_000.0),
                               WebSocketMessage(Opcode.TEXT, True, f"again {IMEI}".encode(), timestamp=2_000.0)]
    needles = pd.DataFrame([(10, "device_id", "t.M.getImei", IMEI, 500 * 10**9),      # before both messages
                            (20, "device_id", "t.M.getImei", IMEI, 1_500 * 10**9)],   # between them
                           columns=["seq", "category", "api", "value", "ts"])
    found = match_flows(needles, [flow], flow_seq={flow.id: 5}, patterns=False)
    assert list(zip(found["field"], found["event_seq"], found["part_ts"])) == [
        ("ws:0:client", 10, 1_000 * 10**9), ("ws:1:client", 20, 2_000 * 10**9)]


def test_match_names_the_latest_read_before_the_flow() -> None:
    needles = needles_of(("device_id", IMEI), ("device_id", IMEI), ("device_id", IMEI))  # seqs 1, 2, 3
    flow = post(f"imei={IMEI}".encode())
    assert match_flows(needles, [flow], flow_seq={flow.id: 2}, patterns=False)["event_seq"].tolist() == [2]
    assert match_flows(needles, [flow], patterns=False)["event_seq"].tolist() == [1]


def test_match_names_the_latest_read_before_the_request_by_time_not_by_where_it_was_written() -> None:
    flow = post(f"imei={IMEI}".encode())
    flow.request.timestamp_start = 200.0
    needles = pd.DataFrame([(1, "device_id", "t.M.getImei", IMEI, 100 * 10**9),    # before the request
                            (2, "device_id", "t.M.getImei", IMEI, 300 * 10**9),    # after it
                            (50, "device_id", "t.M.getImei", IMEI, 150 * 10**9)],  # before it, written late (a batch)
                           columns=["seq", "category", "api", "value", "ts"])
    # The flow's own event is written when the capture finishes: after every read in events.jsonl.
    found = match_flows(needles, [flow], flow_seq={flow.id: 99}, patterns=False)
    assert found["event_seq"].tolist() == [50]
    flow.request.timestamp_start = 120.0
    assert match_flows(needles, [flow], flow_seq={flow.id: 99}, patterns=False)["event_seq"].tolist() == [1]


def test_value_reported_once_in_the_innermost_part() -> None:
    inner = json.dumps({"imei": IMEI})
    flow = post(json.dumps({"data": inner, "aid": md5(ANDROID_ID)}).encode(), content_type="application/json",
                url=f"https://api.example.com/r?imei={IMEI}")
    found = match_flows(needles_of(("device_id", IMEI), ("device_id", ANDROID_ID)), [flow], patterns=False)
    assert sorted(zip(found["value"], found["field"], found["encoding"])) == [
        (IMEI, "body.json:data.json:imei", "plain"),
        (IMEI, "query:imei", "plain"),
        (ANDROID_ID, "body.json:aid", "md5"),
    ]


def test_value_found_in_header_cookie_and_websocket() -> None:
    flow = tflow.tflow(ws=True)
    flow.request.headers["x-device"] = ANDROID_ID
    flow.request.headers["cookie"] = f"sid=1; did={md5(IMEI)}"
    flow.websocket.messages.append(WebSocketMessage(Opcode.TEXT, True, f"hello {IMSI}".encode()))
    found = match_flows(needles_of(("device_id", IMEI), ("device_id", ANDROID_ID), ("device_id", IMSI)), [flow], patterns=False)
    fields = dict(zip(found["value"], found["field"]))
    assert fields[ANDROID_ID] == "header:x-device"
    assert fields[IMEI] == "cookie:did"
    assert fields[IMSI].startswith("ws:") and fields[IMSI].endswith(":client")


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_compressed_body_is_decoded_before_matching(coding: str) -> None:
    request = http.Request.make("POST", "https://api.example.com/up", b"", {"content-type": "application/json", "content-encoding": coding})
    body = json.dumps({"m": md5(ANDROID_ID)}).encode()
    request.content = body  # compressed by mitmproxy, as the app sent it
    assert request.raw_content != body  # (a short text may still stand literally inside the compressed bytes)
    found = match_flows(needles_of(("device_id", ANDROID_ID)), [tflow.tflow(req=request)], patterns=False)
    # A JSON field of the body: only there once the body was decompressed and parsed.
    assert list(zip(found["field"], found["encoding"])) == [("body.json:m", "md5")]


def test_output_sorted_and_typed() -> None:
    flows = [post(f"a={IMEI}&b={md5(IMEI)}".encode()) for _ in range(3)]
    found = match_flows(needles_of(("device_id", IMEI)), flows)
    assert str(found["event_seq"].dtype) == "Int64" and str(found["offset"].dtype) == "int64"
    keys = list(zip(found["flow_id"], found["field"], found["offset"], found["encoding"]))
    assert keys == sorted(keys) and len(found) == 6


def test_no_needles_and_no_flows_give_an_empty_frame_with_the_columns() -> None:
    empty = match_flows(needles_of(), [])
    assert list(empty.columns) == COLUMNS and empty.empty


EXPONENT_IMEI = f"{IMEI[0]}.{IMEI[1:]}E14"  # the IMEI as a double in Java's notation: 8.64398046598172E14
SHAPED_IMEI = "867530912345673"  # Luhn-valid: found by its shape alone


def test_a_number_sent_in_exponent_form_is_found_in_its_json_field() -> None:
    # Gson and org.json write a large double so: the digits stand only in the parsed number, not in the body.
    flow = post(f'{{"d": {EXPONENT_IMEI}, "t": 1}}'.encode(), content_type="application/json")
    found = match_flows(needles_of(("device_id", IMEI)), [flow], patterns=False)
    assert list(zip(found["field"], found["encoding"])) == [("body.json:d", "plain")]


def _shape_bodies() -> list[http.HTTPFlow]:
    """Flows with PI shapes in every kind of part, plainly and behind each decoding iter_flow_parts undoes."""
    escaped = json.dumps({"mail": "ops@example.org"}).replace("@", "\\u0040")
    return [
        post(json.dumps({"user": {"phone": "13912345678", "id": "110101199003074514"}, "n": 3,
                         "aid": md5(ANDROID_ID)}).encode(), content_type="application/json"),
        post(escaped.encode(), content_type="application/json"),                       # '@' only once decoded
        post(json.dumps({"wrapped": json.dumps({"mac": MAC, "imei": SHAPED_IMEI})}).encode(), content_type="application/json"),
        post(f"lat=39.908823&lng=116.397470&mail={quote('a.b@example.org')}&x=1".encode(),
             content_type="application/x-www-form-urlencoded"),
        post(b"plain body", url=f"https://api.example.com/c?who={quote('c@example.org')}&imei={SHAPED_IMEI}&loc=39.9088,116.3975"),
        post(f'{{"d": {SHAPED_IMEI[0]}.{SHAPED_IMEI[1:]}E14}}'.encode(), content_type="application/json"),
        post(b'{"coords": "31.230416,121.473701", "k": "v"}', content_type="application/json",
             headers={"cookie": f"m={MAC}; p=13812345678"}),
    ]


def test_shapes_are_found_exactly_as_by_scanning_every_part(monkeypatch) -> None:
    # Shapes are looked for in a part cut out of another only when decoding could reveal something or the
    # outer part had a shape (monitor.analysis.matching._shapes_possible): the rows must be the same as
    # when every part is scanned.
    import monitor.analysis.matching as matching

    flows = _shape_bodies()
    needles = needles_of(("device_id", ANDROID_ID))
    found = match_flows(needles, flows)
    monkeypatch.setattr(matching, "_shapes_possible", lambda field, shaped, seen, reveals: True)
    every_part = match_flows(needles, flows)
    pd.testing.assert_frame_equal(found, every_part)
    detected = set(zip(found["detector"].dropna(), found["field"][found["detector"].notna()]))
    assert {("cn_mobile", "body.json:user.phone"), ("cn_id", "body.json:user.id"), ("email", "body.json:mail"),
            ("mac", "body.json:wrapped.json:mac"), ("imei", "body.json:wrapped.json:imei"), ("email", "form:mail"),
            ("email", "query:who"), ("imei", "body.json:d"), ("mac", "cookie:m")} <= detected


@pytest.mark.parametrize("hash_name", ["md5", "sha1", "sha256"])
def test_a_digest_sent_as_its_own_bytes_in_a_binary_body_is_found(hash_name: str) -> None:
    digest = hashlib.new(hash_name, ANDROID_ID.encode()).digest()
    # A protobuf message: field 1 (varint 1), field 2 (the digest's bytes), field 3 (a string).
    body = b"\x08\x01\x12" + bytes([len(digest)]) + digest + b"\x1a\x04demo"
    found = match_flows(needles_of(("device_id", ANDROID_ID)), [post(body)], patterns=False)
    assert list(zip(found["field"], found["encoding"], found["offset"])) == [("body", f"{hash_name}:bytes", 4)]
    other = hashlib.new(hash_name, (ANDROID_ID[:-1] + "0").encode()).digest()  # a near miss: another id's digest
    assert match_flows(needles_of(("device_id", ANDROID_ID)), [post(body.replace(digest, other))], patterns=False).empty


def test_a_base64_digest_is_found_as_a_whole_json_field_and_not_inside_a_longer_token() -> None:
    token = base64.b64encode(hashlib.md5(IMEI.encode()).digest()).decode()
    flow = post(json.dumps({"did": token, "n": 1}).encode(), content_type="application/json")
    found = match_flows(needles_of(("device_id", IMEI)), [flow], patterns=False)
    assert list(zip(found["field"], found["encoding"])) == [("body.json:did", "base64(md5:bytes)")]
    glued = post(json.dumps({"did": "QQ" + token}).encode(), content_type="application/json")
    assert match_flows(needles_of(("device_id", IMEI)), [glued], patterns=False).empty
