"""A scenario: a named list of steps, each a one-key mapping (or a bare word for steps without
arguments), validated so that a typo names its file, line and field:

    name: agree
    on_error: stop            # or continue
    steps:
      - launch
      - wait: 3
      - consent: accept       # or refuse
      - tap: {text: 我的}
      - grant: CAMERA
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from monitor.data.yamlfile import load_model
from monitor.errors import DataFileError

Strict = ConfigDict(extra="forbid", frozen=True)


class TapArgs(BaseModel):
    """Exactly one way to say where: visible text, a resource id, or screen coordinates."""

    model_config = Strict
    text: str | None = None
    resource_id: str | None = None
    x: int | None = Field(default=None, ge=0)
    y: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_way(self) -> "TapArgs":
        ways = [self.text is not None, self.resource_id is not None, self.x is not None or self.y is not None]
        if sum(ways) != 1:
            raise ValueError("give exactly one of text, resource_id, or x and y")
        if (self.x is None) != (self.y is None):
            raise ValueError("coordinates need both x and y")
        return self


class SwipeArgs(BaseModel):
    model_config = Strict
    x1: int = Field(ge=0)
    y1: int = Field(ge=0)
    x2: int = Field(ge=0)
    y2: int = Field(ge=0)
    duration_ms: int = Field(default=300, ge=1, le=60_000)


def _permission(value: str) -> str:
    return value if "." in value else f"android.permission.{value}"


class _Step(BaseModel):
    model_config = Strict

    @property
    def name(self) -> str:
        return next(iter(type(self).model_fields))

    @property
    def argument(self) -> Any:
        return getattr(self, self.name)


class LaunchStep(_Step):
    launch: None = None


class RelaunchStep(_Step):
    relaunch: None = None


class BackStep(_Step):
    back: None = None


class HomeStep(_Step):
    home: None = None


class WaitStep(_Step):
    wait: float = Field(gt=0, le=86_400)


class TapStep(_Step):
    tap: TapArgs


class ConsentStep(_Step):
    consent: Literal["accept", "agree", "refuse"]

    @property
    def decision(self) -> Literal["agree", "refuse"]:
        return "refuse" if self.consent == "refuse" else "agree"


class GrantStep(_Step):
    grant: Annotated[str, Field(min_length=2)]

    @field_validator("grant")
    @classmethod
    def _full(cls, value: str) -> str:
        return _permission(value)


class RevokeStep(_Step):
    revoke: Annotated[str, Field(min_length=2)]

    @field_validator("revoke")
    @classmethod
    def _full(cls, value: str) -> str:
        return _permission(value)


class ScreenshotStep(_Step):
    screenshot: str | None = Field(default=None, pattern=r"^[\w.-]+$")


class MarkStep(_Step):
    mark: str = Field(min_length=1)


class SwipeStep(_Step):
    swipe: SwipeArgs


class InputStep(_Step):
    input: str


STEP_TYPES: dict[str, type[_Step]] = {
    "launch": LaunchStep, "relaunch": RelaunchStep, "back": BackStep, "home": HomeStep, "wait": WaitStep,
    "tap": TapStep, "consent": ConsentStep, "grant": GrantStep, "revoke": RevokeStep,
    "screenshot": ScreenshotStep, "mark": MarkStep, "swipe": SwipeStep, "input": InputStep,
}


def _step_tag(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value))
    if isinstance(value, _Step):
        return value.name
    return None


Step = Annotated[
    Union[tuple(Annotated[model, Tag(tag)] for tag, model in STEP_TYPES.items())],  # type: ignore[misc]
    Discriminator(_step_tag, custom_error_type="unknown_step",
                  custom_error_message=f"a step is one of: {', '.join(STEP_TYPES)} (one key per step)"),
]


class Scenario(BaseModel):
    model_config = Strict
    name: str = Field(pattern=r"^[\w.-]+$")
    description: str = ""
    on_error: Literal["stop", "continue"] = "stop"
    consent_timeout: float = Field(default=10, gt=0, le=600)
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps", mode="before")
    @classmethod
    def _bare_words(cls, value: Any) -> Any:
        # `- launch` is shorthand for `- launch: null`.
        if isinstance(value, list):
            return [{item: None} if isinstance(item, str) else item for item in value]
        return value


def builtin_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("CONSENTMON_SCENARIOS"):
        dirs.append(Path(os.environ["CONSENTMON_SCENARIOS"]))
    # The repository's scenarios/ folder (a source checkout or an editable install).
    dirs.append(Path(__file__).resolve().parents[2] / "scenarios")
    # Copies installed with the package, when packaging ships them.
    dirs.append(Path(__file__).resolve().parent / "builtin")
    return dirs


def builtin_names() -> list[str]:
    return sorted({p.stem for d in builtin_dirs() if d.is_dir() for p in d.glob("*.yaml")})


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name (`agree`), or a YAML file by path."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or "/" in text or path.is_file():
        return load_model(path, Scenario)
    for directory in builtin_dirs():
        candidate = directory / f"{text}.yaml"
        if candidate.is_file():
            return load_model(candidate, Scenario)
    raise DataFileError(f"no scenario named {text!r}",
                        hint=f"built in: {', '.join(builtin_names()) or '(none found)'}; or pass a path to a .yaml file")
