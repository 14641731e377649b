"""Redaction for reports handed to others: every PI value masked, in every form the matcher searches for.

A masked value keeps what a reader needs to compare cases — its PI type, its length and a salted hash —
and nothing else: `«device_id·15·3fa9c1d2»`, or `«device_id·15·3fa9c1d2·md5»` where the value was sent as
its MD5. The forms are the matcher's own (monitor.analysis.encodings: the value's text forms, URL-encoded,
hex, base64 at every alignment, digests in hex, a digest's bytes in base64), so whatever the analysis could
find in a flow, a redacted report no longer shows. The run directory is never touched: redaction applies
to what a report renders.

The salt comes from CONSENTMON_REDACT_SALT, else from ~/.consentmon/redact-salt (made once, random): the
same value hashes alike in every report made here (two runs stay comparable), and the hash of a short
identifier cannot be reversed by whoever reads the report without the salt.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ahocorasick_rs

from monitor.analysis.encodings import derive_needles, digest_byte_forms
from monitor.data import load_data

SALT_ENV = "CONSENTMON_REDACT_SALT"
SALT_FILE = Path.home() / ".consentmon" / "redact-salt"


def default_salt() -> bytes:
    if os.environ.get(SALT_ENV):
        return os.environ[SALT_ENV].encode()
    try:
        return SALT_FILE.read_bytes().strip()
    except FileNotFoundError:
        SALT_FILE.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_hex(16).encode()
        temporary = SALT_FILE.with_name(SALT_FILE.name + f".{os.getpid()}.tmp")
        temporary.write_bytes(salt)
        os.replace(temporary, SALT_FILE)
        return salt


def value_forms(value: str, category: str | None = None) -> list[tuple[str, str]]:
    """(text, encoding) of every form of `value` the matcher searches for that can appear in text, with the
    matcher's own settings (monitor/data/matching.yaml: rounded coordinates for location categories)."""
    rules = load_data("matching")
    decimals = tuple(rules.coordinates.decimals) if category in rules.coordinates.categories else ()
    forms: dict[str, str] = {}
    for needle in derive_needles(value, coordinate_decimals=decimals, min_derived_chars=rules.min_derived_chars):
        try:
            forms.setdefault(needle.data.decode("utf-8"), needle.encoding)
        except UnicodeDecodeError:
            continue
    for _, _, tokens in digest_byte_forms(value):
        for name, token in tokens:
            forms.setdefault(token.decode("ascii"), name)
    return list(forms.items())


class Redactor:
    """Masks the given PI values (value, category) wherever they appear in a string or a JSON-like tree."""

    def __init__(self, values: Iterable[tuple[str, str | None]], *, salt: bytes | None = None) -> None:
        self.salt = default_salt() if salt is None else salt
        self.masks: dict[str, str] = {}      # a form's text → its mask
        self.whole: dict[str, str] = {}      # a value as read → its mask
        for value, category in values:
            if not value or value in self.whole:
                continue
            digest = hashlib.sha256(self.salt + value.encode("utf-8")).hexdigest()[:8]
            kind = category or "pi"
            self.whole[value] = f"«{kind}·{len(value)}·{digest}»"
            for text, encoding in value_forms(value, category):
                if text and text not in self.masks:
                    suffix = "" if encoding == "plain" else f"·{encoding}"
                    self.masks[text] = f"«{kind}·{len(value)}·{digest}{suffix}»"
        patterns = sorted(self.masks, key=lambda text: (-len(text), text))
        self._patterns = patterns
        self._automaton = (ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
                           if patterns else None)

    def mask_value(self, value: str, category: str | None = None) -> str:
        """The mask of a value as read (what a report shows in place of a read's value)."""
        if value in self.whole:
            return self.whole[value]
        digest = hashlib.sha256(self.salt + value.encode("utf-8")).hexdigest()[:8]
        return f"«{category or 'pi'}·{len(value)}·{digest}»"

    def text(self, text: str) -> str:
        if self._automaton is None or not text:
            return text
        matches = self._automaton.find_matches_as_indexes(text)
        if not matches:
            return text
        pieces: list[str] = []
        last = 0
        for index, start, end in matches:
            pieces.append(text[last:start])
            pieces.append(self.masks[self._patterns[index]])
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def deep(self, tree: Any) -> Any:
        """The same tree with every string (and every dict key) redacted."""
        if isinstance(tree, str):
            return self.text(tree)
        if isinstance(tree, dict):
            return {self.text(key) if isinstance(key, str) else key: self.deep(item) for key, item in tree.items()}
        if isinstance(tree, (list, tuple)):
            return [self.deep(item) for item in tree]
        return tree
