"""The policy vocabulary (monitor/data/policy_words.yaml) as fast matchers.

`fold` is the one normalisation every comparison uses: NFKC (full-width → half-width, the Kangxi radical ⽹ → 网),
casefold, and no whitespace, so '设备 MAC 地址' and '设备MAC地址' compare equal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ahocorasick_rs import AhoCorasick, MatchKind

from monitor.data.policy_models import PolicyWords, load_policy_words

_SPACE = re.compile(r"[\s\u200b\u3000]+")
_LATIN = re.compile(r"[a-z0-9]")


@lru_cache(maxsize=1)
def _variant_table() -> tuple[dict[int, str], re.Pattern[str] | None]:
    words = load_policy_words()
    table = words.traditional.table() if words.traditional else {}
    return table, (re.compile("[" + re.escape("".join(chr(code) for code in table)) + "]") if table else None)


def _simplified(text: str) -> str:
    """Traditional characters of the vocabulary's words as simplified ones (a search first: most text has none,
    and str.translate with a table walks every character in Python-level lookups)."""
    table, pattern = _variant_table()
    return text.translate(table) if pattern is not None and pattern.search(text) else text


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """NFKC, casefold, and no spaces — except one between two Latin words, so English stays word by word
    ('collects ip address' must not become 'collectsipaddress', where no word boundary is left)."""
    folded = _simplified(unicodedata.normalize("NFKC", text).casefold())

    def gap(match: re.Match[str]) -> str:
        start, end = match.start(), match.end()
        between_latin = 0 < start and end < len(folded) and _LATIN.match(folded[start - 1]) and _LATIN.match(folded[end])
        return " " if between_latin else ""

    return _SPACE.sub(gap, folded)


def _is_ascii_word(word: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9 _./+#-]+", word))


def _word_pattern(words: list[str]) -> re.Pattern[str]:
    """One alternation over folded words, longest first; Latin words only as whole words."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        escaped = re.escape(word)
        parts.append(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if _is_ascii_word(word) else escaped)
    return re.compile("|".join(parts)) if parts else re.compile(r"(?!x)x")


@dataclass(frozen=True)
class PiHit:
    word: str
    categories: tuple[str, ...]
    broad: bool


class Vocabulary:
    def __init__(self, words: PolicyWords) -> None:
        self.words = words
        self.pi_by_word: dict[str, PiHit] = {}
        for entry in words.pi:
            for word in entry.words:
                key = fold(word)
                hit = self.pi_by_word.get(key)
                if hit is None or (hit.broad and not entry.broad):
                    self.pi_by_word[key] = PiHit(word, tuple(entry.categories), entry.broad)
        # ahocorasick-rs (already the value matcher's scanner): one pass over a text for ~500 words, where a regex
        # alternation tries each word at each position and made a 300 KB policy take seconds.
        self._pi_keys = list(self.pi_by_word)
        self._pi_ascii = [_is_ascii_word(key) for key in self._pi_keys]
        self._pi_scanner = AhoCorasick(self._pi_keys, matchkind=MatchKind.LeftmostLongest)
        self.role_by_label: dict[str, str] = {}
        for field_words in words.fields:
            for word in field_words.words:
                self.role_by_label[fold(word)] = field_words.role
        self._labels_longest = sorted(self.role_by_label, key=len, reverse=True)
        self._role_cache: dict[tuple[str, bool], str | None] = {}
        self.none_words = {fold(word) for word in words.none_words.words}
        # 未收集个人敏感信息, 不获取您的任何信息…: a negated statement counts as "nothing" however it goes on.
        self._negations = tuple(word for word in self.none_words if len(word) >= 2 and ("不" in word or "未" in word))
        self.heading_pattern = _word_pattern([fold(word) for word in words.list_headings.words])
        self.company_sdk: dict[str, str] = {}
        for company in words.companies:
            for name in company.names:
                self.company_sdk[fold(name)] = company.sdk

    def _pi_matches(self, folded: str) -> list[tuple[int, int, PiHit]]:
        found = []
        for index, start, end in self._pi_scanner.find_matches_as_indexes(folded):
            if self._pi_ascii[index] and ((start > 0 and folded[start - 1].isascii() and folded[start - 1].isalnum())
                                          or (end < len(folded) and folded[end].isascii() and folded[end].isalnum())):
                continue  # a Latin word inside a longer token (IP in ZIP)
            found.append((start, end, self.pi_by_word[self._pi_keys[index]]))
        return found

    def pi_hits(self, text: str) -> list[PiHit]:
        """Every PI word in `text` (folded, longest match first, no overlaps)."""
        return [hit for _, _, hit in self._pi_matches(fold(text))]

    def pi_spans(self, text: str) -> list[tuple[int, int, PiHit]]:
        """PI words in raw `text` with their positions in it (for app-level PI quoted with offsets)."""
        quick = _simplified(unicodedata.normalize("NFKC", text).casefold())
        if len(quick) == len(text):
            # Width and case folded in place (the usual case): positions are the text's own. Spaces stay, so a
            # word written with a space inside is found only in its spaced spelling here.
            return self._pi_matches(quick)
        if "\n" in text:
            # Only the lines whose length folding changes (an ellipsis, a ligature) need the slow path.
            spans = []
            offset = 0
            for line in text.split("\n"):
                spans.extend((offset + start, offset + end, hit) for start, end, hit in self.pi_spans(line))
                offset += len(line) + 1
            return spans
        folded_chars: list[str] = []
        positions: list[int] = []
        for index, char in enumerate(text):
            folded = _simplified(unicodedata.normalize("NFKC", char).casefold())
            for piece in folded:
                folded_chars.append(piece)
                positions.append(index)
        folded_text = "".join(folded_chars)
        return [(positions[start], positions[end - 1] + 1, hit) for start, end, hit in self._pi_matches(folded_text)]

    def role(self, label: str, *, loose: bool = True) -> str | None:
        """The role of a column header or field label (SDK名称 → name), or None when it is not one."""
        cache_key = (label, loose)
        if cache_key not in self._role_cache:
            if len(self._role_cache) > 50_000:
                self._role_cache.clear()
            self._role_cache[cache_key] = self._role(label, loose=loose)
        return self._role_cache[cache_key]

    def _role(self, label: str, *, loose: bool) -> str | None:
        key = fold(label).strip(":：*#-|·•.")
        if "|" in key or "\t" in label.strip():
            return None  # several cells of a header line, not one label
        if loose and re.search(r"[，,(（]", key):
            # 第三方隐私政策链接，仅供参考 / 收集信息（可选）: the label is the part before the remark.
            key = re.split(r"[，,(（]", key, maxsplit=1)[0]
        if not key or len(key) > 32:
            return None
        if key in self.role_by_label:
            return self.role_by_label[key]
        if not loose or re.search(r"[。，,；;、]", key) or re.match(r"[\d(（一二三四五六七八九十]", key):
            return None
        for word in self._labels_longest:
            if word.isascii() and len(word) <= 4:
                continue  # SDK, Name, Type, URL only as whole labels: 神策分析SDK is a name, not the name column
            margin = 9 if key.isascii() else (3 if len(word) == 2 else 5)  # 功能 names a column; 基于存储的功能 does not
            if len(word) >= 2 and word in key and len(key) <= len(word) + margin:
                return self.role_by_label[word]
        # A qualified label ends with its field (第三方SDK提供方的公司名称), or else begins with it (使用目的及功能场景).
        for qualified in (key.endswith, key.startswith):
            for word in self._labels_longest:
                if len(word) >= 4 and not (word.isascii() and len(word) <= 4) and len(key) <= 24 and qualified(word):
                    return self.role_by_label[word]
        return None

    def is_none(self, text: str) -> bool:
        key = fold(text).strip("。.；;，,")
        if key in self.none_words:
            return True
        if len(key) > 60 or not key.startswith(self._negations):
            return False
        return any(key.startswith(word) and len(key) - len(word) <= 30 for word in self._negations)


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    return Vocabulary(load_policy_words())
