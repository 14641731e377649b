"""The baseline: cases a team accepts for now, each with a reason and, optionally, the day it stops.

`consentmon baseline RUN_DIR > consentmon-baseline.yaml` writes every case of an analysed run; with
`--baseline FILE` the gate fails only on cases the file does not accept. A case is known by its rule and
its subject (`app`, `sdk:<id>`, `unknown:<package>`: the same pair cases.py hashes into the case id, so
the key survives re-analysis and a new run); an entry also lists the PI types it accepts, and a case that
now collects a type not listed fails again (it widened).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.analysis.cases import Case, CaseSubject, case_id
from monitor.data.yamlfile import load_model, read_yaml
from monitor.errors import DataFileError

BASELINE_VERSION = 1
PLACEHOLDER_REASON = "TODO: say why this case is accepted"


class AcceptedCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str = Field(min_length=1)
    subject: str = Field(pattern=r"^(app|sdk:\S+|unknown:\S*)$")
    categories: list[str] = Field(default_factory=list)
    reason: str
    expires: date | None = None
    case: str | None = None        # the case id when it was written: informative (a reader can look it up)

    @field_validator("reason")
    @classmethod
    def _real_reason(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("give the reason this case is accepted")
        if value.startswith("TODO"):
            raise ValueError("still the placeholder: say why this case is accepted (or write the baseline with --reason)")
        return value

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.subject


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    accepted: list[AcceptedCase] = Field(default_factory=list)

    def entry(self, key: tuple[str, str]) -> AcceptedCase | None:
        return next((item for item in self.accepted if item.key == key), None)


def subject_key(subject: CaseSubject) -> str:
    """The subject as cases.py groups by it: `app`, `sdk:<group id>`, `unknown:<package>`."""
    if subject.kind == "sdk":
        return f"sdk:{subject.id}"
    if subject.kind == "app":
        return "app"
    return f"unknown:{subject.package or ''}"


def case_key(case: Case) -> tuple[str, str]:
    """(rule, subject key): a case's identity across analyses and runs; case.id is its SHA-1."""
    key = (case.rule, subject_key(case.subject))
    if case_id(*key) != case.id:  # cases.py changed how it keys a case: the baseline must follow it
        raise DataFileError(f"case {case.id} ({case.rule}) does not hash to its rule and subject {key[1]!r}",
                            hint="consentmon's cases and baseline disagree: report this as a bug")
    return key


def case_categories(case: Case) -> list[str]:
    return [pi.category for pi in case.pi]


def load_baseline(path: Path | str) -> Baseline:
    """Read a baseline file; a malformed one raises DataFileError naming file:line and the field."""
    path = Path(path)
    baseline = load_model(path, Baseline)   # an impossible date (2026-02-30) is named by line there too
    seen: dict[tuple[str, str], int] = {}
    for position, item in enumerate(baseline.accepted):
        if item.key in seen:
            _, index = read_yaml(path)
            line = index.get(("accepted", position), "?")
            first = index.get(("accepted", seen[item.key]), "?")
            raise DataFileError(f"{path}:{line}: accepted.{position}: {item.rule} × {item.subject} is already accepted at line {first}",
                                hint="keep one entry per rule and subject (list every PI type it accepts in its categories)")
        seen[item.key] = position
    return baseline


def _scalar(value: object) -> str:
    # JSON strings and lists are YAML flow scalars: quoting, Chinese and escapes come out right.
    return json.dumps(value, ensure_ascii=False)


def baseline_yaml(cases: Sequence[Case], *, reason: str | None = None, expires: date | None = None,
                  written_on: date | None = None, source: str | None = None, lang: str = "en",
                  keep: Iterable[AcceptedCase] = ()) -> str:
    """A baseline accepting `cases`, commented with each case's sentence. Entries of `keep` (an older
    baseline) keep their reason and expiry for the cases they still match."""
    kept = {item.key: item for item in keep}
    day = (written_on or date.today()).isoformat()
    lines = [
        "# consentmon baseline: cases accepted for now. With `--baseline FILE`, `consentmon run` and `consentmon analyze`",
        "# fail the --fail-on gate only on cases not listed here, cases that now collect a PI type not listed in their",
        "# categories, and entries past their `expires` day. Each entry needs a reason: why it is accepted, who decided.",
        f"# Written by `consentmon baseline` on {day}" + (f" from {source}" if source else "") + ".",
        f"version: {BASELINE_VERSION}",
        "accepted:" if cases else "accepted: []",
    ]
    for case in cases:
        key = case_key(case)
        old = kept.get(key)
        sentence = case.sentence.get(lang) or next(iter(case.sentence.values()), "")
        lines.append(f"  # {case.severity} · {' '.join(sentence.split())}")
        lines.append(f"  - rule: {_scalar(key[0])}")
        lines.append(f"    subject: {_scalar(key[1])}")
        categories = sorted(set(case_categories(case)) | set(old.categories if old else ()))
        lines.append(f"    categories: {_scalar(categories)}")
        lines.append(f"    case: {_scalar(case.id)}")
        lines.append(f"    reason: {_scalar(old.reason if old else (reason or PLACEHOLDER_REASON))}")
        until = old.expires if old else expires
        if until is not None:
            lines.append(f"    expires: {until.isoformat()}")
    return "\n".join(lines) + "\n"
