"""PI recognised by its shape: found when the shape is right, not when it is only close."""

from __future__ import annotations

import pytest

from monitor.analysis.matching import load_matching_rules
from monitor.analysis.patterns import cn_id_valid, detect, luhn_valid

RULES = load_matching_rules()
STOP = RULES.stop_set()

# Published examples: the IMEI from the GSMA/Wikipedia IMEI article and the ID number printed in GB 11643-1999.
IMEI = "490154203237518"
CN_ID = "11010519491231002X"


def found(text: str) -> list[tuple[str, str, int]]:
    return [(hit.detector, hit.value, hit.offset) for hit in detect(text.encode(), RULES.patterns, stop_values=STOP)]


def test_checks_on_published_examples() -> None:
    assert luhn_valid(IMEI) and not luhn_valid("490154203237517")
    assert cn_id_valid(CN_ID) and cn_id_valid(CN_ID.lower())
    assert not cn_id_valid("110105194912310021")      # wrong check character
    assert not cn_id_valid("11010519491331002X")      # month 13 (check recomputed would still not save it)


@pytest.mark.parametrize("text,expected", [
    (f"imei={IMEI}&x=1", [("imei", IMEI, 5)]),
    ('{"mac":"3C:28:6D:4A:91:0F"}', [("mac", "3c:28:6d:4a:91:0f", 8)]),
    ("m=3c-28-6d-4a-91-0f", [("mac", "3c:28:6d:4a:91:0f", 2)]),
    ("tel=13912345678;", [("cn_mobile", "13912345678", 4)]),
    ("tel=+8613912345678;", [("cn_mobile", "13912345678", 4)]),
    ("tel=0086 13912345678;", [("cn_mobile", "13912345678", 4)]),
    ("tel=%2B8613912345678", [("cn_mobile", "13912345678", 4)]),
    (f"idcard={CN_ID}&", [("cn_id", CN_ID, 7)]),
    ("from: zhang.san+tag@mail.example.cn;", [("email", "zhang.san+tag@mail.example.cn", 6)]),
    ("loc=39.9088,116.3975&", [("coord", "39.9088,116.3975", 4)]),
    ("[116.397470,39.908823]", [("coord", "39.908823,116.397470", 1)]),
    ('{"latitude": 31.230416, "x": 1, "longitude": 121.473701}', [("coord", "31.230416,121.473701", 13)]),
    ("p=48.858370,2.294481", [("coord", "48.858370,2.294481", 2)]),
], ids=["imei", "mac-colon", "mac-dash", "mobile", "mobile+86", "mobile0086", "mobile%2B86", "cn-id", "email",
        "coord-cn", "coord-lnglat", "coord-keyed", "coord-world"])
def test_shapes_found(text: str, expected: list[tuple[str, str, int]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "imei=490154203237517",            # Luhn fails
    "n=12490154203237518",             # inside a longer number
    "id=000000000000000",              # repeated digit
    "order=123456789012347",           # Luhn-valid but no IMEI reporting body (12)
    "mac=02:00:00:00:00:00",           # Android's placeholder MAC
    "mac=3c:28:6d:4a:91",              # five octets
    "ts=1391234567890",                # a millisecond timestamp, not a phone number
    "tel=23912345678",                 # not a mobile prefix
    "idcard=110105194912310021",       # wrong check character
    "img=icon@2x.png",                 # density-suffixed image name
    "price=12.50,13.75",               # a pair with too few decimals
    "size=1.0000,2.0000",              # outside China, too few decimals for elsewhere
    "v=239.9088,116.3975",             # latitude out of range
    "h=d41d8c13708210194e98009",       # digits inside a hex digest, not a phone number
    "h=f490154203237518a",             # an IMEI-shaped run inside a hex token
], ids=["luhn", "longer-run", "repeated", "no-rbi", "placeholder-mac", "short-mac", "timestamp", "not-mobile",
        "id-check", "image", "price", "small-pair", "lat-range",
        "hex-mobile", "hex-imei"])
def test_near_shapes_not_found(text: str) -> None:
    assert found(text) == []
