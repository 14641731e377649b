"""Schema of policy_words.yaml: the words a privacy policy uses, for the policy parser (monitor.policy).

- `pi`: words naming personal information → the catalogue's / app types' category names;
- `fields`: the labels of an SDK list's columns and fields (SDK名称, 使用目的, 收集个人信息类型…) → a role;
- `none_words`: what a row says when it collects nothing (无, 未收集…);
- `list_headings`: words of a heading or sentence that introduces an SDK list;
- `companies`: company names written in SDK lists → the SDK id (monitor/data/sdks.yaml) they usually mean.
Every entry says where its words come from (`source`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


Strict = ConfigDict(extra="forbid", frozen=True)

POLICY_WORDS_FILE = Path(__file__).parent / "policy_words.yaml"

FieldRole = Literal["name", "company", "purpose", "pi", "permissions", "link", "package", "group", "number", "platform", "other", "feature"]


class PiWords(BaseModel):
    """Words that name one kind of PI. `categories` empty: PI the catalogue has no category for (kept as text)."""

    model_config = Strict
    categories: list[str] = Field(default_factory=list)
    words: list[str] = Field(min_length=1)
    # A broad word (设备信息) names a group; it maps to the group's usual members and says so.
    broad: bool = False
    source: str = Field(min_length=8)


class FieldWords(BaseModel):
    model_config = Strict
    role: FieldRole
    words: list[str] = Field(min_length=1)
    source: str = Field(min_length=8)


class WordList(BaseModel):
    model_config = Strict
    words: list[str] = Field(min_length=1)
    source: str = Field(min_length=8)


class CharacterPairs(BaseModel):
    model_config = Strict
    pairs: str = Field(min_length=2)
    source: str = Field(min_length=8)

    @model_validator(mode="after")
    def _even(self) -> "CharacterPairs":
        if len(self.pairs) % 2:
            raise ValueError("pairs must hold an even number of characters (traditional, simplified, …)")
        return self

    def table(self) -> dict[int, str]:
        return {ord(self.pairs[index]): self.pairs[index + 1] for index in range(0, len(self.pairs), 2)}


class CompanyWords(BaseModel):
    model_config = Strict
    sdk: str
    names: list[str] = Field(min_length=1)
    source: str = Field(min_length=8)


class PolicyWords(BaseModel):
    model_config = Strict
    version: str
    pi: list[PiWords]
    fields: list[FieldWords]
    none_words: WordList
    list_headings: WordList
    companies: list[CompanyWords] = Field(default_factory=list)
    traditional: CharacterPairs | None = None

    @model_validator(mode="after")
    def _one_role_per_label(self) -> "PolicyWords":
        seen: dict[str, str] = {}
        for entry in self.fields:
            for word in entry.words:
                key = word.casefold()
                if key in seen and seen[key] != entry.role:
                    raise ValueError(f"field label {word!r} is given two roles: {seen[key]} and {entry.role}")
                seen[key] = entry.role
        return self

    def categories(self) -> set[str]:
        return {category for entry in self.pi for category in entry.categories}


def load_policy_words(path: Path | None = None) -> PolicyWords:
    from monitor.data import load_data  # the one loader (it imports this module for the schema)

    return load_data("policy_words", path)
