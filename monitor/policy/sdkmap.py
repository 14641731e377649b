"""An SDK row as written → an id of monitor/data/sdks.yaml, with the reason.

In order: a Java package written in the row (longest prefix of an SDK, as attribution matches stacks); the name
equal to an SDK's name or alias (zh or en, folded, without 'SDK'); the longest SDK name or alias the row's
name contains; the company (policy_words.yaml `companies`). Anything else stays unmapped: a row is never
forced onto a near miss, because a wrong id would wrongly put an SDK's reads in scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from monitor.data import load_sdks
from monitor.policy.words import Vocabulary, fold

_PACKAGE = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+\b", re.I)
_NOISE = re.compile(r"sdk|软件开发工具包|开发包|工具包|插件|组件|服务|\(.*?\)|（.*?）|[\s\-_/·.+]", re.I)


# Words SDK lists write either way: 小米push / 小米推送, QQ登陆 / QQ登录.
_SYNONYMS = (("push", "推送"), ("登陆", "登录"), ("帐号", "账号"), ("android", ""))


def sdk_key(text: str) -> str:
    """A name as SDK names are compared: folded, without 'SDK' and its like, parentheses or punctuation."""
    return _key(text)


def _key(text: str) -> str:
    key = _NOISE.sub("", fold(text))
    for written, meant in _SYNONYMS:
        key = key.replace(written, meant)
    return key


@dataclass(frozen=True)
class SdkMatch:
    sdk_id: str
    reason: str


class SdkIndex:
    def __init__(self, vocab: Vocabulary) -> None:
        table = load_sdks()
        self.table = table
        self.vocab = vocab
        self.prefixes: dict[str, str] = {}
        self.names: dict[str, tuple[str, str]] = {}  # key → (id, the name as written in sdks.yaml)
        for sdk in table.sdks:
            for prefix in sdk.prefixes:
                self.prefixes[prefix.lower()] = sdk.id
            # "JPush / JCore" names two products; "Qiniu cloud storage / player" does not name a "player" SDK.
            parts = [part for part in re.split(r"\s*/\s*", sdk.name.en) if len(part) >= 4 and part[0].isupper()]
            for written in (sdk.name.zh, sdk.name.en, *sdk.aliases, *parts):
                key = _key(written)
                if len(key) >= 2 and key not in self.names:
                    self.names[key] = (sdk.id, written)
        self._contained = sorted((key for key in self.names if len(key) >= 3 or not key.isascii()), key=len, reverse=True)

    def folded_names(self) -> set[str]:
        return {key for key in self.names if len(key) >= 2}

    # What a row's purpose says → the word an SDK's own name or kind uses for it.
    _KINDS = (("推送", ("推送", "push")), ("广告", ("广告", "ads")), ("统计", ("统计", "analytics")),
              ("定位", ("定位", "location")), ("地图", ("地图", "map")), ("登录", ("登录", "认证", "login")),
              ("支付", ("支付", "pay")), ("分享", ("分享", "share")))

    def by_vendor(self, name: str, purpose: str | None) -> SdkMatch | None:
        """A row named by its vendor only (华为, 小米, OPPO under 推送通知消息): the vendor's SDK whose name or kind is what
        the row's purpose says."""
        key = _key(name)
        if len(key) < 2 or not purpose:
            return None
        wanted = [words for said, words in self._KINDS if said in purpose]
        if not wanted:
            return None
        for sdk in self.table.sdks:
            zh = _key(sdk.name.zh)
            if not zh.startswith(key) or zh == key:
                continue
            described = f"{zh} {sdk.kind.lower()}"
            if any(word in described for words in wanted for word in words):
                return SdkMatch(sdk.id, f"name {name!r} is the vendor of {sdk.name.zh!r}, and the row's purpose says {purpose[:20]!r}")
        return None

    def match(self, name: str, company: str | None, row_text: str = "", purpose: str | None = None) -> SdkMatch | None:
        key = _key(name)
        if key in self.names:
            sdk_id, written = self.names[key]
            return SdkMatch(sdk_id, f"name {name!r} is {written!r}")
        for candidate in _PACKAGE.findall(f"{name} {row_text}"):
            parts = candidate.lower().split(".")
            for end in range(len(parts), 1, -1):
                prefix = ".".join(parts[:end])
                if prefix in self.prefixes:
                    return SdkMatch(self.prefixes[prefix], f"package {candidate} is under {prefix}")
        for known in self._contained:
            if known not in key:
                continue
            # A Latin name inside a longer one must be most of it (Face in MMFaceCertification is not Face++).
            if (len(known) * 2 >= len(key) or (known.isascii() and len(known) >= 6)
                    or (not known.isascii() and len(known) >= 3)):
                sdk_id, written = self.names[known]
                return SdkMatch(sdk_id, f"name {name!r} contains {written!r}")
        if (vendor := self.by_vendor(name, purpose)) is not None:
            return vendor
        if company:
            folded = fold(company)
            for written_company, sdk_id in self.vocab.company_sdk.items():
                if written_company and (written_company in folded or folded in written_company and len(folded) >= 4):
                    return SdkMatch(sdk_id, f"by company only: {company!r} operates {sdk_id}")
        return None


@lru_cache(maxsize=2)
def sdk_index(vocab: Vocabulary) -> SdkIndex:
    return SdkIndex(vocab)
