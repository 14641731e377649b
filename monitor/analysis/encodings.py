"""The forms in which an app or SDK may send a value it read: the byte strings the matcher searches for.

A value goes through two stages. First its *text forms*: the value as read, its case variants, the
value without separators (MAC, UUID, spaced phone numbers), a phone number with or without +86, an
SSID without Android's quotes, a coordinate rounded or cut to fewer decimals. Then each text form is
*encoded* the ways SDKs do before sending: URL-encoding, hex, base64 (standard and URL-safe, at each of
the three byte alignments a value can have inside a longer base64 string), MD5/SHA-1/SHA-256 in lower
and upper hex. A digest's own bytes (Java's MessageDigest gives bytes), as they are in a binary body or
in base64, are `digest_byte_forms`: searched apart from these (monitor.analysis.matching says why).

Encoding names compose like function calls and leave out `plain`: `md5` is the MD5 (lower hex) of the
value as read, `MD5` the same digest in upper hex, `md5(upper)` the MD5 of the upper-cased value,
`md5:bytes` its 16 bytes as they are, `base64(md5:bytes)` those bytes in base64,
`base64url(no-separators)` the URL-safe base64 of the MAC without colons, `coord:4dp` a coordinate
rounded to 4 decimals and `coord:4dp-cut` one truncated to 4 decimals.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import quote, quote_plus

SEPARATORS = re.compile(r"[:\-\s]")
CN_PHONE = re.compile(r"^(?:\+86|0086|86)?[\s-]*(1[3-9]\d)[\s-]*(\d{4})[\s-]*(\d{4})$")
# Android's ClipData.toString(): `ClipData { text/plain "label" {T:the text} }`; the copied text is what
# an app would send, not the wrapper.
CLIP_TEXT = re.compile(r"\{T:(.*)\}\s*\}\s*$", re.DOTALL)
DECIMAL = re.compile(r"^-?\d{1,3}\.\d+$")

HASHES = (("md5", hashlib.md5), ("sha1", hashlib.sha1), ("sha256", hashlib.sha256))


@dataclass(frozen=True)
class Needle:
    """One byte string to search for. `textual` needles are the value itself (not a digest or a
    base64/hex rendering), so digit boundaries apply to them: an IMEI inside a longer digit run is a
    different number, not the IMEI."""

    data: bytes
    encoding: str
    textual: bool


def _name(outer: str, inner: str) -> str:
    return outer if inner == "plain" else f"{outer}({inner})"


def _coordinate_forms(value: str, decimals: tuple[int, ...]) -> list[tuple[str, str]]:
    if not DECIMAL.match(value):
        return []
    try:
        number = Decimal(value)
    except InvalidOperation:
        return []
    present = len(value.split(".", 1)[1])
    forms: list[tuple[str, str]] = []
    for places in sorted(decimals, reverse=True):
        if places >= present:
            continue
        step = Decimal(1).scaleb(-places)
        forms.append((f"coord:{places}dp", str(number.quantize(step, rounding=ROUND_HALF_UP))))
        forms.append((f"coord:{places}dp-cut", str(number.quantize(step, rounding=ROUND_DOWN))))
    return forms


def text_forms(value: str, *, coordinate_decimals: tuple[int, ...] = ()) -> list[tuple[str, str]]:
    """(form name, text) pairs, the value as read first, each text once."""
    bases: list[tuple[str, str]] = [("plain", value)]
    if len(value) > 2 and value[0] == value[-1] == '"':
        bases.append(("unquoted", value[1:-1]))
    clip = CLIP_TEXT.search(value)
    if clip:
        bases.append(("clip-text", clip.group(1)))
    phone = CN_PHONE.match(value.strip())
    if phone:
        national = "".join(phone.groups())
        bases += [("national", national), ("+86", "+86" + national), ("0086", "0086" + national)]
    forms: list[tuple[str, str]] = []
    for name, text in bases:
        forms.append((name, text))
        stripped = SEPARATORS.sub("", text)
        if stripped != text:
            forms.append((_name("no-separators", name), stripped))
    cased: list[tuple[str, str]] = []
    for name, text in forms:
        cased += [(name, text), (_name("lower", name), text.lower()), (_name("upper", name), text.upper())]
    if coordinate_decimals:
        cased += _coordinate_forms(value, coordinate_decimals)
    seen: set[str] = set()
    unique: list[tuple[str, str]] = []
    for name, text in cased:
        if text and text not in seen:
            seen.add(text)
            unique.append((name, text))
    return unique


def base64_cores(data: bytes) -> list[bytes]:
    """The parts of base64(… + data + …) that do not depend on the surrounding bytes, for each of the
    three offsets (mod 3) at which `data` can start. Character i of a base64 string carries bits
    [6i, 6i+6) of the input; with r unknown bytes in front, the characters that lie wholly inside
    `data` are those from ceil(8r/6) to floor(8(r+n)/6)."""
    cores: list[bytes] = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data)
        start = (8 * shift + 5) // 6
        end = (8 * (shift + len(data))) // 6
        core = encoded[start:end]
        if core and core not in cores:
            cores.append(core)
    return cores


def derive_needles(value: str, *, coordinate_decimals: tuple[int, ...] = (), min_derived_chars: int = 8) -> list[Needle]:
    """Every byte string under which `value` may travel, each once (first name wins)."""
    needles: dict[bytes, Needle] = {}

    def add(data: bytes, encoding: str, textual: bool) -> None:
        if not textual and len(data) < min_derived_chars:
            return
        needles.setdefault(data, Needle(data, encoding, textual))

    for form, text in text_forms(value, coordinate_decimals=coordinate_decimals):
        raw = text.encode("utf-8")
        add(raw, form, True)
        for quoted in (quote(text, safe=""), quote_plus(text, safe="")):
            if quoted != text:
                add(quoted.encode(), _name("urlencoded", form), True)
        if form.startswith("coord:"):
            continue  # a digest of a rounded coordinate is not something SDKs send
        hexed = raw.hex()
        add(hexed.encode(), _name("hex", form), False)
        add(hexed.upper().encode(), _name("HEX", form), False)
        for core in base64_cores(raw):
            add(core, _name("base64", form), False)
            urlsafe = core.translate(bytes.maketrans(b"+/", b"-_"))
            if urlsafe != core:
                add(urlsafe, _name("base64url", form), False)
        for hash_name, hash_function in HASHES:
            digest = hash_function(raw).hexdigest()
            add(digest.encode(), _name(hash_name, form), False)
            add(digest.upper().encode(), _name(hash_name.upper(), form), False)
    return list(needles.values())


def digest_byte_forms(value: str) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """(encoding name, digest bytes, [(name, whole padded base64 token)]) of every text form of `value`
    (coordinates aside, like the hex digests) under each hash: the bytes an app sends as they are, or in
    base64 (standard, and URL-safe where it differs), when it skips the hex."""
    forms: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []
    seen: set[bytes] = set()
    for form, text in text_forms(value):
        raw = text.encode("utf-8")
        for hash_name, hash_function in HASHES:
            digest = hash_function(raw).digest()
            if digest in seen:
                continue
            seen.add(digest)
            name = _name(f"{hash_name}:bytes", form)
            standard = base64.b64encode(digest)
            tokens = [(_name("base64", name), standard)]
            urlsafe = base64.urlsafe_b64encode(digest)
            if urlsafe != standard:
                tokens.append((_name("base64url", name), urlsafe))
            forms.append((name, digest, tokens))
    return forms
