"""A batch plan: which apps, which scenarios, on what kind of device, how many times.

    jobs:
      - name: shop
        apk: apks/shop.apk            # or  package: com.example.shop  (installed)  or  host: [java, -jar, app.jar]
        scenario: agree               # built-in name or a scenario YAML file
        device: {android: ">=10,<15", abi: x86_64, root: true}
        repeat: 2

A plan is read whole, but judged job by job: a missing APK or an unknown scenario makes that job
invalid (with one line saying why) and leaves every other job to run. Each job (each repeat of an entry)
gets a stable id from its entry, so the same plan submitted again names the same jobs, and a job whose
result is already in the results root is never run into it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.data.yamlfile import load_model
from monitor.errors import DataFileError, MonitorError

Strict = ConfigDict(extra="forbid", frozen=True)
_CLAUSE = re.compile(r"^\s*(>=|<=|==|>|<|=)?\s*(\d+(?:\.\d+)*)\s*$")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def version_matches(spec: str, release: str) -> bool:
    """`release` (an Android release such as "14" or "7.1.1") against a spec like ">=10,<15" or "13".
    A bare number matches that major version and every point release of it."""
    have = _version(release)
    for clause in spec.split(","):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"not a version clause: {clause!r}")
        op, number = match.group(1) or "==", _version(match.group(2))
        head = have[:len(number)] if op in ("==", "=") else have
        compare = (head > number) - (head < number)
        if not {">=": compare >= 0, "<=": compare <= 0, ">": compare > 0, "<": compare < 0,
                "==": compare == 0, "=": compare == 0}[op]:
            return False
    return True


class DeviceNeeds(BaseModel):
    """What a job needs of a device. Every field is optional; a job without them runs on any device."""

    model_config = Strict
    android: str | None = Field(default=None, description='release range, e.g. ">=10,<15" or "13"')
    abi: str | None = None   # matched against the device's ABI list (ro.product.cpu.abilist)
    root: bool | None = None
    serial: str | None = None

    @model_validator(mode="after")
    def _spec_parses(self) -> "DeviceNeeds":
        if self.android is not None:
            version_matches(self.android, "1")   # raises ValueError on a malformed range
        return self


class PlanEntry(BaseModel):
    model_config = Strict
    name: str = Field(min_length=1)
    apk: str | None = None
    package: str | None = None
    host: list[str] | None = None
    scenario: str | None = None
    device: DeviceNeeds = Field(default_factory=DeviceNeeds)
    repeat: int = Field(default=1, ge=1, le=1000)
    duration: float | None = Field(default=None, gt=0)   # stop the run after this many seconds
    app_package: str | None = None    # host jobs: the program's own package (its code is "the app itself")

    @model_validator(mode="after")
    def _one_target(self) -> "PlanEntry":
        given = [name for name in ("apk", "package", "host") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of apk, package, host (got {', '.join(given) or 'none'})")
        return self


class PlanFile(BaseModel):
    model_config = Strict
    jobs: list[PlanEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> "PlanFile":
        seen: set[str] = set()
        for entry in self.jobs:
            if entry.name in seen:
                raise ValueError(f"two jobs are named {entry.name!r}: names identify jobs, so they must differ")
            seen.add(entry.name)
        return self


@dataclass(frozen=True)
class Job:
    """One run to make: one repeat of one plan entry. `spec` is everything a worker anywhere needs (JSON)."""

    id: str
    name: str
    kind: str                  # host | device
    spec: dict[str, Any]
    problem: str | None = None  # set: the job cannot run (missing APK, unknown scenario); said once, never tried

    @property
    def needs(self) -> DeviceNeeds:
        return DeviceNeeds.model_validate(self.spec.get("device") or {})

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "spec": self.spec, "problem": self.problem}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        return cls(id=data["id"], name=data["name"], kind=data["kind"], spec=data["spec"], problem=data.get("problem"))


@dataclass
class Plan:
    path: Path
    jobs: list[Job] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:40] or "job"


def _check_scenario(name: str) -> str | None:
    from monitor.scenario.model import load_scenario

    try:
        load_scenario(name)
    except MonitorError as exc:
        return f"scenario {name!r}: {exc.message}"
    return None


def expand(entry: PlanEntry, base: Path) -> list[Job]:
    """The jobs of one entry: its repeats, each with a stable id (entry content + repeat number)."""
    spec: dict[str, Any] = entry.model_dump(mode="json", exclude={"repeat"})
    problem: str | None = None
    if entry.apk is not None:
        apk = Path(entry.apk) if Path(entry.apk).is_absolute() else (base / entry.apk)
        spec["apk"] = str(apk.resolve())
        if not apk.is_file():
            problem = f"APK {apk} does not exist"
    kind = "host" if entry.host else "device"
    if entry.scenario is not None and problem is None:
        scenario = Path(entry.scenario)
        if scenario.suffix in (".yaml", ".yml") or "/" in entry.scenario:
            # A scenario file is named relative to the plan, wherever the batch or a worker runs.
            spec["scenario"] = str((scenario if scenario.is_absolute() else base / scenario).resolve())
        problem = _check_scenario(spec["scenario"])
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return [Job(id=f"{_slug(entry.name)}-{digest}-{number}", name=entry.name if entry.repeat == 1 else f"{entry.name} #{number}",
                kind=kind, spec=spec, problem=problem)
            for number in range(1, entry.repeat + 1)]


def load_plan(path: Path) -> Plan:
    """Read PLAN.yaml. A plan that is not YAML or breaks the schema is refused whole (file:line); a job
    whose APK or scenario is missing is kept, marked with its problem."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"plan {path} does not exist", hint="give the path of a plan YAML file (see docs/lab-tutorial.md)")
    plan_file = load_model(path, PlanFile)
    base = path.resolve().parent
    jobs = [job for entry in plan_file.jobs for job in expand(entry, base)]
    return Plan(path=path, jobs=jobs)
