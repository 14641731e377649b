"""The 39 app types of 《常见类型移动互联网应用程序必要个人信息范围规定》 and the PI each may require.

The rule engine asks one question of this table: for an app of type T, is PI category C necessary for
its basic function? Anything else the app reads before consent, or after a refusal, or that blocks the
basic function when refused, is beyond the necessary scope. Categories split in two:
- hookable: the agent sees a read of it on the device (names shared with monitor/data/catalogue.yaml);
- entered: the user types it into a form (phone number at registration, consignee address…); no hook
  sees it, it is listed so a report can quote the regulation completely.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.errors import DataFileError

Strict = ConfigDict(extra="forbid", frozen=True)


CATEGORY_NAME = r"^[a-z][a-z0-9_]*$"


class PiCategory(BaseModel):
    """A kind of personal information named by the regulation, in our vocabulary."""

    model_config = Strict
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    hookable: bool
    notes: str | None = None


class AppType(BaseModel):
    model_config = Strict
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=2)
    name_en: str = Field(min_length=2)
    basic_function_zh: str = Field(min_length=2)
    basic_function_en: str = Field(min_length=2)
    # The numbered items of the regulation's list, worded as the regulation words them.
    necessary_zh: list[str] = Field(default_factory=list)
    necessary: list[str] = Field(default_factory=list)
    verified: bool
    source: str = Field(min_length=8)

    @model_validator(mode="after")
    def _both_or_neither(self) -> "AppType":
        if bool(self.necessary_zh) != bool(self.necessary):
            raise ValueError("necessary_zh and necessary must both be empty (no PI needed) or both be filled")
        if len(set(self.necessary)) != len(self.necessary):
            raise ValueError(f"a category is listed twice in necessary: {self.necessary}")
        return self

    def requires(self, category: str) -> bool:
        """True when the regulation counts `category` as necessary for this type's basic function."""
        return category in self.necessary


def _fold_name(text: str) -> str:
    # Users type "地图导航", "地图导航类" or a full-width variant; all name the same type.
    text = unicodedata.normalize("NFKC", text).strip().casefold()
    text = re.sub(r"\s+", "", text)
    return text[:-1] if text.endswith("类") else text


class AppTypeTable(BaseModel):
    model_config = Strict
    version: str
    regulation: str = Field(min_length=8)
    categories: dict[str, PiCategory]
    types: list[AppType]

    @model_validator(mode="after")
    def _consistent(self) -> "AppTypeTable":
        bad_names = sorted(name for name in self.categories if not re.match(CATEGORY_NAME, name))
        if bad_names:
            raise ValueError(f"category names must be lower_snake_case: {bad_names}")
        for field in ("id", "name_zh"):
            values = [getattr(app_type, field) for app_type in self.types]
            dupes = sorted({value for value in values if values.count(value) > 1})
            if dupes:
                raise ValueError(f"duplicate app type {field}: {dupes}")
        for app_type in self.types:
            undeclared = [name for name in app_type.necessary if name not in self.categories]
            if undeclared:
                raise ValueError(f"app type {app_type.id} uses categories not declared under categories: {undeclared}")
        return self

    def ids(self) -> list[str]:
        return [app_type.id for app_type in self.types]

    def get(self, id_or_name: str) -> AppType:
        """The type with this id (map_navigation) or Chinese name (地图导航 / 地图导航类)."""
        wanted = _fold_name(id_or_name)
        for app_type in self.types:
            if wanted in (app_type.id, _fold_name(app_type.name_zh)):
                return app_type
        raise DataFileError(
            f"unknown app type '{id_or_name}'",
            hint="use one of: " + ", ".join(f"{t.id} ({t.name_zh})" for t in self.types),
        )

    def hookable_categories(self) -> list[str]:
        return sorted(name for name, category in self.categories.items() if category.hookable)

