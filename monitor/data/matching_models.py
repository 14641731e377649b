"""Schema of monitor/data/matching.yaml: which hook values are too weak to search for in traffic,
and the knobs of the encodings the matcher derives from a value."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from monitor.data.models import Strict


class StopValue(BaseModel):
    """A value a hook may return that is not personal: searching for it would only find noise."""

    model_config = Strict
    value: str
    why: str = Field(min_length=8)
    source: str = Field(min_length=8)


class CoordinateRule(BaseModel):
    """Coordinates are sent rounded or cut; which precisions to derive from a hook's full value."""

    model_config = Strict
    categories: list[str] = Field(min_length=1)
    decimals: list[int] = Field(min_length=1)
    source: str = Field(min_length=8)

    @model_validator(mode="after")
    def _sane(self) -> "CoordinateRule":
        bad = [d for d in self.decimals if not 1 <= d <= 12]
        if bad:
            raise ValueError(f"decimals must be between 1 and 12, got {bad}")
        return self


class GenericLabels(BaseModel):
    model_config = Strict
    labels: list[str] = Field(min_length=1)
    why: str = Field(min_length=8)
    source: str = Field(min_length=8)


class MatchingRules(BaseModel):
    """Thresholds of the value matcher. `min_bytes` counts UTF-8 bytes so that a two-character
    Chinese name (6 bytes) is searched while a three-letter Latin word is not."""

    model_config = Strict
    version: str
    min_bytes: int = Field(ge=1)
    min_bytes_why: str = Field(min_length=8)
    min_derived_chars: int = Field(ge=1)
    min_derived_chars_why: str = Field(min_length=8)
    skip_single_repeated_char: bool
    skip_single_repeated_char_why: str = Field(min_length=8)
    stop_values: list[StopValue]
    coordinates: CoordinateRule
    generic_package_labels: GenericLabels
    patterns: "PatternRules"

    @model_validator(mode="after")
    def _unique(self) -> "MatchingRules":
        seen: set[str] = set()
        for stop in self.stop_values:
            key = stop.value.casefold()
            if key in seen:
                raise ValueError(f"stop value '{stop.value}' is listed twice")
            seen.add(key)
        return self

    def stop_set(self) -> frozenset[str]:
        return frozenset(stop.value.casefold() for stop in self.stop_values)

    def generic_labels(self) -> frozenset[str]:
        return frozenset(label.casefold() for label in self.generic_package_labels.labels)


class CodeList(BaseModel):
    model_config = Strict
    codes: list[str] = Field(min_length=1)
    why: str = Field(min_length=8)
    source: str = Field(min_length=8)


class SuffixList(BaseModel):
    model_config = Strict
    suffixes: list[str] = Field(min_length=1)
    why: str = Field(min_length=8)
    source: str = Field(min_length=8)


class GeoBox(BaseModel):
    model_config = Strict
    lat_min: float = Field(ge=-90, le=90)
    lat_max: float = Field(ge=-90, le=90)
    lng_min: float = Field(ge=-180, le=180)
    lng_max: float = Field(ge=-180, le=180)
    min_decimals: int = Field(ge=1, le=12)
    why: str = Field(min_length=8)
    source: str = Field(min_length=8)

    def contains(self, lat: float, lng: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and self.lng_min <= lng <= self.lng_max


class DetectorCategory(BaseModel):
    """Which PI category a value found by its shape alone (no hook read it) is reported under."""

    model_config = Strict
    detector: Literal["imei", "mac", "cn_mobile", "cn_id", "email", "coord"]
    category: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    why: str = Field(min_length=8)
    source: str = Field(min_length=8)


class PatternRules(BaseModel):
    model_config = Strict
    detector_categories: list[DetectorCategory]
    imei_reporting_bodies: CodeList
    email_excluded_suffixes: SuffixList
    china_box: GeoBox
    min_world_decimals: int = Field(ge=1, le=12)

    @model_validator(mode="after")
    def _every_detector_once(self) -> "PatternRules":
        named = [entry.detector for entry in self.detector_categories]
        missing = sorted(set(DetectorCategory.model_fields["detector"].annotation.__args__) - set(named))
        if missing or len(named) != len(set(named)):
            raise ValueError(f"detector_categories must name each detector once (missing {missing}, given {named})")
        return self

    def category_of(self) -> dict[str, str]:
        return self._categories

    def model_post_init(self, context: object) -> None:
        # Frozen model: the lookup is built once, not per pattern hit.
        object.__setattr__(self, "_categories", {entry.detector: entry.category for entry in self.detector_categories})


MatchingRules.model_rebuild()
