"""PI recognised by its shape when no hook saw the value: IMEI, MAC, Chinese mobile and ID-card numbers,
e-mail addresses, coordinates. These are weaker evidence than a hook's exact value (confidence
"pattern"), so every detector checks what the shape alone allows — Luhn and the reporting body of an
IMEI, the GB 11643 check character and birth date of an ID number, the range of a coordinate pair —
and refuses a match glued to more digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from monitor.data.matching_models import PatternRules

MAC = re.compile(rb"(?<![0-9A-Fa-f:-])([0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2})(?![0-9A-Fa-f:-])")
CN_MOBILE = re.compile(rb"(?<![0-9A-Za-z])((?:\+86|0086|%2[Bb]86)?[ -]?(1[3-9][0-9]{9}))(?![0-9A-Za-z])")
CN_ID = re.compile(rb"(?<![0-9A-Za-z])([1-8][0-9]{5}(?:19|20)[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
EMAIL = re.compile(rb"(?<![\w.+%-])([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24})(?![\w-])")
COORD_PAIR = re.compile(rb"(?<![0-9.])(-?[0-9]{1,3}\.([0-9]+))\s*,\s*(-?[0-9]{1,3}\.([0-9]+))(?![0-9.])")
LAT_KEY = re.compile(rb"(?i)[\"']?\b(?:lat|latitude)[\"']?\s*[:=]\s*[\"']?(-?[0-9]{1,2}\.([0-9]+))(?![0-9])")
LNG_KEY = re.compile(rb"(?i)[\"']?\b(?:lng|lon|long|longitude)[\"']?\s*[:=]\s*[\"']?(-?[0-9]{1,3}\.([0-9]+))(?![0-9])")

# Prefilters: Python's regex engine scans fast only for a literal, so the data is first mapped to
# character classes (digits → "0", hex digits → "h") and candidates are found as literals there; the
# precise patterns above then run only at those places.
DIGIT_CLASSES = bytes(ord("0") if chr(c).isdigit() and c < 128 else c if c in b".,- " else ord("_") for c in range(256))
HEX_CLASSES = bytes(ord("h") if chr(c) in "0123456789abcdefABCDEF" else c if c in b":-" else ord("_") for c in range(256))
# bytes.find (a C substring search) is several times faster than a regex scan; the regexes then run only
# where the literal was found. A digit run is searched as 11 digits (the shortest number a detector
# wants) and extended; a MAC as its class shape with one separator throughout, as MAC demands.
DIGIT_RUN_START = b"0" * 11
DIGIT_RUN_REST = re.compile(rb"0*")
MAC_SHAPES = (b"hh:hh:hh:hh:hh:hh", b"hh-hh-hh-hh-hh-hh")
ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
LOCAL_CLASSES = bytes(ord("a") if c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-" else ord("_") for c in range(256))
LOCAL_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
DOMAIN_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

# GB 11643-1999: weights 2^(17-i) mod 11 of the first 17 digits; the sum mod 11 indexes this table.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class PatternHit:
    detector: str   # "imei" | "mac" | "cn_mobile" | "cn_id" | "email" | "coord"
    value: str      # normalised: digits only, lower-case MAC with colons, "lat,lng"
    offset: int
    length: int


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = int(char)
        if position % 2 == 1:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def cn_id_valid(text: str) -> bool:
    """An 18-character resident ID number whose check character and birth date are right."""
    if len(text) != 18 or not text[:17].isdigit():
        return False
    expected = ID_CHECK[sum(int(d) * w for d, w in zip(text[:17], ID_WEIGHTS)) % 11]
    if text[17].upper() != expected:
        return False
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _glued(data: bytes, start: int, end: int) -> bool:
    """A digit run touching a letter or digit is part of a token (a hash, a hex id), not a number."""
    return (start > 0 and data[start - 1] in ALNUM) or (end < len(data) and data[end] in ALNUM)


def _imei(data: bytes, runs: list[tuple[int, int]], rules: PatternRules) -> list[PatternHit]:
    bodies = set(rules.imei_reporting_bodies.codes)
    hits = []
    for start, end in runs:
        if end - start != 15 or _glued(data, start, end):
            continue
        digits = data[start:end].decode()
        if digits[:2] in bodies and len(set(digits)) > 1 and luhn_valid(digits):
            hits.append(PatternHit("imei", digits, start, 15))
    return hits


def _mac(data: bytes, stop: frozenset[str]) -> list[PatternHit]:
    hits: list[PatternHit] = []
    if b":" not in data and b"-" not in data:
        return hits
    classes = data.translate(HEX_CLASSES)
    for shape in MAC_SHAPES:
        # Every start is tried: MAC's own look-behind refuses a start inside a longer run of hex pairs.
        at = classes.find(shape)
        while at >= 0:
            match = MAC.match(data, at, min(len(data), at + len(shape) + 1))
            if match is not None:
                text = match.group(1).decode().lower().replace("-", ":")
                if text not in stop:
                    hits.append(PatternHit("mac", text, match.start(1), len(match.group(1))))
            at = classes.find(shape, at + 1)
    hits.sort(key=lambda hit: hit.offset)
    return hits


def _mobile(data: bytes, runs: list[tuple[int, int]]) -> list[PatternHit]:
    hits = []
    for start, end in runs:
        length = end - start
        # A country code is the only thing that may stand before the 11 digits inside a digit run.
        if not (length == 11 or (length == 13 and data[start:start + 2] == b"86")
                or (length == 15 and data[start:start + 4] == b"0086")):
            continue
        if data[end - 11] != 0x31 or data[end - 10] < 0x33:
            continue
        # The 11 digits end the run; "+86", "0086", "%2B86" and a space or dash may precede them.
        match = CN_MOBILE.search(data, max(0, end - 11 - 6), min(len(data), end + 1))
        if match is not None and match.end(2) == end:
            hits.append(PatternHit("cn_mobile", match.group(2).decode(), match.start(1), len(match.group(1))))
    return hits


def _cn_id(data: bytes, runs: list[tuple[int, int]]) -> list[PatternHit]:
    hits = []
    for start, end in runs:
        length = end - start
        if length == 17 and end < len(data) and data[end] in b"Xx":
            end += 1
        elif length != 18:
            continue
        match = CN_ID.match(data, start, min(len(data), end + 1))
        if match is not None:
            text = match.group(1).decode().upper()
            if cn_id_valid(text):
                hits.append(PatternHit("cn_id", text, start, 18))
    return hits


def _email(data: bytes, rules: PatternRules) -> list[PatternHit]:
    hits: list[PatternHit] = []
    seen: set[int] = set()
    at = data.find(b"@")
    if at < 0:
        return hits
    excluded = tuple(s.lower() for s in rules.email_excluded_suffixes.suffixes)
    while at > 0:
        if data[at - 1] in LOCAL_CHARS and at + 1 < len(data) and data[at + 1] in DOMAIN_CHARS:
            before = data[max(0, at - 64):at].translate(LOCAL_CLASSES)
            start = at - len(before) + before.rfind(b"_") + 1
            match = EMAIL.match(data, start, min(len(data), at + 256))
            if match is not None and match.start(1) not in seen:
                seen.add(match.start(1))
                text = match.group(1).decode()
                if not text.lower().endswith(excluded):
                    hits.append(PatternHit("email", text, match.start(1), len(match.group(1))))
        at = data.find(b"@", at + 1)
    return hits


def _plausible_pair(lat_text: bytes, lat_places: int, lng_text: bytes, lng_places: int, rules: PatternRules) -> bool:
    lat, lng = float(lat_text), float(lng_text)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return False
    places = min(lat_places, lng_places)
    if rules.china_box.contains(lat, lng):
        return places >= rules.china_box.min_decimals
    return places >= rules.min_world_decimals


def _coordinates(data: bytes, classes: bytes, rules: PatternRules) -> list[PatternHit]:
    hits: list[PatternHit] = []
    fewest = min(rules.china_box.min_decimals, rules.min_world_decimals)
    if b"0." + b"0" * fewest not in classes:
        # Every coordinate reported (a pair, or keyed lat/lng) has a number with at least `fewest` decimals.
        return hits
    for candidate in _candidate_pairs(classes, fewest):
        match = COORD_PAIR.search(data, max(0, candidate.start() - 4), min(len(data), candidate.end() + 64))
        if match is None or match.start(1) > candidate.start():
            continue
        first, first_places, second, second_places = match.group(1), len(match.group(2)), match.group(3), len(match.group(4))
        # Both orders are in use: "lat,lng" (most SDKs) and "lng,lat" (GeoJSON, AMap/Baidu APIs).
        for lat, lat_places, lng, lng_places in ((first, first_places, second, second_places),
                                                 (second, second_places, first, first_places)):
            if _plausible_pair(lat, lat_places, lng, lng_places, rules):
                hits.append(PatternHit("coord", f"{lat.decode()},{lng.decode()}", match.start(1), match.end(3) - match.start(1)))
                break
    if b"at" not in data and b"AT" not in data:
        return hits
    lowered = data.lower()
    lat_match = _keyed(data, lowered, LAT_KEY, (b"lat",))
    lng_match = _keyed(data, lowered, LNG_KEY, (b"lng", b"lon")) if lat_match else None
    if lat_match and lng_match:
        lat, lng = lat_match.group(1), lng_match.group(1)
        if _plausible_pair(lat, len(lat_match.group(2)), lng, len(lng_match.group(2)), rules):
            start = min(lat_match.start(1), lng_match.start(1))
            end = max(lat_match.end(1), lng_match.end(1))
            hits.append(PatternHit("coord", f"{lat.decode()},{lng.decode()}", start, end - start))
    return hits


@lru_cache(maxsize=8)
def _candidate_pair(decimals: int) -> re.Pattern[bytes]:
    return re.compile(rb"0\." + b"0" * decimals + rb"0*[ ]*,[ ]*-?0{1,3}\." + b"0" * decimals)


def _candidate_pairs(classes: bytes, decimals: int) -> list[re.Match[bytes]]:
    """What `_candidate_pair(decimals).finditer(classes)` yields: every candidate starts with its literal
    "0.000…", so only the places bytes.find gives are tried."""
    pattern = _candidate_pair(decimals)
    literal = b"0." + b"0" * decimals
    found = []
    at = classes.find(literal)
    while at >= 0:
        match = pattern.match(classes, at)
        if match is not None:
            found.append(match)
            at = classes.find(literal, match.end())
        else:
            at = classes.find(literal, at + 1)
    return found


def _keyed(data: bytes, lowered: bytes, pattern: re.Pattern[bytes], words: tuple[bytes, ...]) -> re.Match[bytes] | None:
    """The first `pattern` match that starts at one of `words` (found case-insensitively)."""
    best: re.Match[bytes] | None = None
    for word in words:
        at = lowered.find(word)
        while at >= 0 and (best is None or at < best.start()):
            match = pattern.match(data, max(0, at - 1), min(len(data), at + 48))
            if match is None:
                match = pattern.match(data, at, min(len(data), at + 48))
            if match is not None:
                best = match if best is None or match.start() < best.start() else best
                break
            at = lowered.find(word, at + 1)
    return best


def detect(data: bytes, rules: PatternRules, *, stop_values: frozenset[str] = frozenset()) -> list[PatternHit]:
    """Every shape-recognised PI in `data`, ordered by offset."""
    if len(data) < 6:
        return []
    classes = data.translate(DIGIT_CLASSES)
    runs = []
    at = classes.find(DIGIT_RUN_START)
    while at >= 0:
        end = DIGIT_RUN_REST.match(classes, at).end()  # type: ignore[union-attr]  # "0*" always matches
        runs.append((at, end))
        at = classes.find(DIGIT_RUN_START, end)
    # Most parts are short JSON leaves and headers: a detector that cannot find anything there (no digit run,
    # no separator, no '@') is not called at all.
    hits: list[PatternHit] = []
    if runs:
        hits += _imei(data, runs, rules)
    if len(data) >= len(MAC_SHAPES[0]) and (b":" in data or b"-" in data):
        hits += _mac(data, stop_values)
    if runs:
        hits += _mobile(data, runs) + _cn_id(data, runs)
    if b"@" in data:
        hits += _email(data, rules)
    hits += _coordinates(data, classes, rules)
    return sorted(hits, key=lambda hit: (hit.offset, hit.detector))
