"""Schemas of the analyzer's knowledge: rules (rules.yaml), stack attribution (attribution.yaml) and the
user's declared scope (`consentmon analyze --scope FILE`).

Kept apart from models.py (the capture side's schemas) so the two evolve without stepping on each other;
every file still goes through `monitor.data.yamlfile.load_model`, so errors name file, line and field.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator


Strict = ConfigDict(extra="forbid", frozen=True)


RULE_ID = r"^[a-z0-9][a-z0-9-]*$"
Severity = Literal["high", "medium", "low", "info"]
SEVERITY_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2, "info": 3}


class Title(BaseModel):
    model_config = Strict
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Citation(BaseModel):
    """One article a rule relies on.

    `verified` follows shared/reference/regulations.md: only text read in a named source is verified.
    `quote` tells a verbatim quotation from a paraphrase. Reports print `wording`, never `text` alone, so
    an unverified item can never be shown as if it were the regulation's words.
    """

    model_config = Strict
    regulation: str = Field(min_length=2)
    article: str = Field(min_length=1)
    text: str = Field(min_length=2)
    # A paraphrase in Chinese for the reports' first language (our wording, never shown as a quotation).
    text_zh: str | None = Field(default=None, min_length=2)
    verified: bool
    quote: bool = False
    source: str = Field(min_length=8)

    @model_validator(mode="after")
    def _quotes_are_the_text(self) -> "Citation":
        if self.quote and self.text_zh is not None:
            raise ValueError("a quotation is its own text: text_zh is for paraphrases only")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wording(self) -> str:
        if not self.verified:
            return f"per common testing practice: {self.text}"
        if self.quote:
            return f"「{self.text}」"
        return f"in substance: {self.text}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wording_zh(self) -> str:
        """The Chinese report's wording: the quotation, or our Chinese paraphrase marked as one."""
        if self.quote:
            return f"「{self.text}」"
        text = self.text_zh or self.text
        return f"检测实践通常认为：{text}" if not self.verified else f"大意：{text}"


ThresholdValue = int | float | bool | str | list[str]


class RuleSpec(BaseModel):
    """The declared half of a rule; the other half is the function registered under `check`."""

    model_config = Strict
    id: str = Field(pattern=RULE_ID)
    check: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]*$")
    enabled: bool = True
    title: Title
    severity: Severity
    description: str = Field(min_length=8)
    cites: list[Citation] = Field(min_length=1)
    thresholds: dict[str, ThresholdValue] = Field(default_factory=dict)
    source: str = Field(min_length=8)

    @property
    def check_name(self) -> str:
        """The registered function; defaults to the id with dashes as underscores."""
        return self.check or self.id.replace("-", "_")


class ConsentConfidence(BaseModel):
    """How much each kind of consent signal is trusted (0..1). Reported with every finding."""

    model_config = Strict
    click_in_dialog: float = Field(ge=0, le=1)
    click: float = Field(ge=0, le=1)
    scenario: float = Field(ge=0, le=1)
    prefs: float = Field(ge=0, le=1)
    manual: float = Field(ge=0, le=1)
    no_decision: float = Field(ge=0, le=1)


class AnalysisSettings(BaseModel):
    model_config = Strict
    background_grace_s: float = Field(ge=0)
    home_steps: list[str] = Field(min_length=1)
    consent_confidence: ConsentConfidence
    prefs_agree_values: list[str] = Field(min_length=1)
    max_evidence: int = Field(ge=1)
    source: str = Field(min_length=8)


class RuleSet(BaseModel):
    model_config = Strict
    version: str
    settings: AnalysisSettings
    rules: list[RuleSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "RuleSet":
        ids = [rule.id for rule in self.rules]
        dupes = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {dupes}")
        return self

    def rule(self, rule_id: str) -> RuleSpec:
        for spec in self.rules:
            if spec.id == rule_id:
                return spec
        raise KeyError(rule_id)


PACKAGE_PREFIX = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*\.?$")


class AttributionTable(BaseModel):
    """Which stack frames are the platform (skipped) and how far an obfuscated stack is trusted."""

    model_config = Strict
    version: str
    framework_prefixes: list[str] = Field(min_length=1)
    # Native libraries of the runtime and libc: their frames are skipped like framework classes.
    platform_modules: list[str] = Field(default_factory=list)
    # A flow is joined to the latest connect event for its host at most this long before it.
    flow_sender_window_s: float = Field(default=30.0, gt=0, le=600)
    obfuscated_segment_max_len: int = Field(ge=1, le=3)
    confidence: dict[Literal["direct", "via_obfuscated", "unknown_code", "no_stack"], float]
    source: str = Field(min_length=8)

    @field_validator("framework_prefixes")
    @classmethod
    def _prefixes(cls, values: list[str]) -> list[str]:
        for value in values:
            if not PACKAGE_PREFIX.match(value):
                raise ValueError(f"'{value}' is not a Java package prefix like 'android.' or 'com.android.'")
        return values

    @field_validator("confidence")
    @classmethod
    def _all_levels(cls, values: dict[str, float]) -> dict[str, float]:
        missing = {"direct", "via_obfuscated", "unknown_code", "no_stack"} - set(values)
        if missing:
            raise ValueError(f"confidence needs a value for {sorted(missing)}")
        if any(not 0 <= v <= 1 for v in values.values()):
            raise ValueError("confidence values are between 0 and 1")
        return values


class ScopeFile(BaseModel):
    """What the privacy policy declares: PI categories the app itself collects, and per SDK id.

    ```yaml
    app: [location, phone_number]
    sdks:
      umeng: [device_id]
    source: https://example.com/privacy-policy (version 2024-05)
    ```
    An SDK absent from `sdks` is one the policy does not name, so none of its reads are in scope.
    """

    model_config = Strict
    app: list[str] = Field(default_factory=list)
    sdks: dict[str, list[str]] = Field(default_factory=dict)
    source: str | None = None

    def categories(self) -> set[str]:
        return set(self.app).union(*self.sdks.values()) if self.sdks else set(self.app)
