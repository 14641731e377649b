"""Schemas of the knowledge files. A file that does not fit is refused with file, line and field."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Strict = ConfigDict(extra="forbid", frozen=True)

JAVA_NAME = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$")


class When(BaseModel):
    """A hook reports PI only when this holds for the call (the app's result is never touched).

    `arg` is the 0-based argument index whose string form is tested. `match`:
      equals / in / prefix / contains — on the string;
      authority_in — the argument is a URI; its authority is one of `values`;
      other_package — the argument is a package name other than the app's own.
    """

    model_config = Strict
    arg: int = Field(ge=0)
    match: Literal["equals", "in", "prefix", "contains", "authority_in", "other_package"]
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_needed(self) -> "When":
        if self.match != "other_package" and not self.values:
            raise ValueError(f"match '{self.match}' needs at least one entry in values")
        return self


class Record(BaseModel):
    """What to keep from a call.

    returns: value  — the return value as text (Strings as is, objects by toString), capped;
             list   — a collection or array: count, SHA-256 of the items and the first N items;
             fields — zero-argument methods or fields of the returned object (`fields`);
             none   — the call alone.
    item: for `list`, the method or field that names an item (e.g. packageName), else toString.
    this_as / this_fields: read members of the receiver, cast to `this_as` when it is one (e.g. the
             text of a clicked TextView); a receiver of another class records nothing extra.
    """

    model_config = Strict
    args: bool = True
    returns: Literal["value", "list", "fields", "none"] = "value"
    fields: list[str] = Field(default_factory=list)
    item: str | None = None
    this_as: str | None = None
    this_fields: list[str] = Field(default_factory=list)


class HookEntry(BaseModel):
    """One API the agent hooks. `api` is the public name reported; `impl` the class that really
    implements it on a device when the public class is abstract (hook the implementation, report
    the public name)."""

    model_config = Strict
    api: str
    impl: str | None = None
    overloads: Literal["all"] | list[list[str]] = "all"
    kind: Literal["pi_read", "click", "lifecycle", "dialog", "prefs", "permission", "app_start", "webview", "connect"] = "pi_read"
    category: str
    what: str | None = None
    permission: str = "-"
    record: Record = Field(default_factory=Record)
    when: When | None = None
    source: str = Field(min_length=8)

    @field_validator("api", "impl")
    @classmethod
    def _java_name(cls, value: str | None) -> str | None:
        if value is not None and not JAVA_NAME.match(value):
            raise ValueError(f"'{value}' is not a fully qualified Java name class.method")
        return value

    @property
    def class_name(self) -> str:
        return self.api.rsplit(".", 1)[0]

    @property
    def method(self) -> str:
        return self.api.rsplit(".", 1)[1]

    @property
    def hook_class(self) -> str:
        return self.impl or self.class_name


class Catalogue(BaseModel):
    model_config = Strict
    version: str
    hooks: list[HookEntry]

    @model_validator(mode="after")
    def _no_duplicates(self) -> "Catalogue":
        seen: set[tuple[str, str | None]] = set()
        for entry in self.hooks:
            key = (entry.api, entry.when.model_dump_json() if entry.when else None)
            if key in seen:
                raise ValueError(f"{entry.api} is listed twice with the same condition")
            seen.add(key)
        return self

    def categories(self) -> list[str]:
        return sorted({entry.category for entry in self.hooks if entry.kind == "pi_read"})


class LocalName(BaseModel):
    model_config = Strict
    en: str
    zh: str | None = None


class Sdk(BaseModel):
    model_config = Strict
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: LocalName
    vendor: str
    kind: str
    prefixes: list[str] = Field(min_length=1)
    domains: list[str] = Field(default_factory=list)
    source: str = Field(min_length=8)
    # Other names the SDK goes by in privacy policies' SDK lists (product renames, marketing names),
    # so a report can be matched against what an app declares.
    aliases: list[str] = Field(default_factory=list)
    # Why a prefix or domain is there when it is not obvious (e.g. a framework listed only so its
    # frames are not taken for its vendor's SDK).
    notes: str | None = None


class SdkTable(BaseModel):
    model_config = Strict
    version: str
    sdks: list[Sdk]

    @model_validator(mode="after")
    def _unique(self) -> "SdkTable":
        ids = [sdk.id for sdk in self.sdks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate sdk ids: {dupes}")
        owners: dict[str, str] = {}
        for sdk in self.sdks:
            for prefix in sdk.prefixes:
                if prefix in owners:
                    raise ValueError(f"package prefix {prefix} claimed by both {owners[prefix]} and {sdk.id}")
                owners[prefix] = sdk.id
        return self


def normalise_words(text: str) -> str:
    """Fold width, case and spacing so '同意 并继续', '同意并继续' and 'AGREE' compare equal to the list."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\u200b]+", "", text).strip("。.!！:：")


class ConsentWords(BaseModel):
    """Words on buttons that give or refuse consent. Matched on the whole button text, normalised."""

    model_config = Strict
    version: str
    agree: list[str] = Field(min_length=1)
    refuse: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _disjoint(self) -> "ConsentWords":
        both = {normalise_words(w) for w in self.agree} & {normalise_words(w) for w in self.refuse}
        if both:
            raise ValueError(f"words listed as both agree and refuse: {sorted(both)}")
        return self

    def classify(self, text: str | None) -> Literal["agree", "refuse"] | None:
        if not text:
            return None
        key = normalise_words(text)
        if key in {normalise_words(w) for w in self.refuse}:
            return "refuse"
        if key in {normalise_words(w) for w in self.agree}:
            return "agree"
        return None
