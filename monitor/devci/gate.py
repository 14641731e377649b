"""The CI gate: which cases make `--fail-on` fail, after the baseline has had its say.

`--fail-on` takes rule ids and severities, comma-separated or repeated: `before-consent,after-refusal`
selects those rules' cases, `medium` every case of severity medium or higher, `any` every case. A
selected case fails unless a baseline entry accepts it: same rule and subject, every PI type it collects
listed, and not past its `expires` day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from monitor.analysis.cases import SEVERITY_ORDER, Case
from monitor.devci.baseline import AcceptedCase, Baseline, case_categories, case_key
from monitor.devci.exitcodes import ExitCode, GateUsageError

ANY = "any"
Status = Literal["new", "accepted", "widened", "expired"]


@dataclass(frozen=True)
class FailOn:
    rules: frozenset[str] = frozenset()
    severity: str | None = None      # this severity or higher
    every: bool = False

    def selects(self, case: Case) -> bool:
        if self.every or case.rule in self.rules:
            return True
        if self.severity is None:
            return False
        return SEVERITY_ORDER.get(case.severity, 99) <= SEVERITY_ORDER[self.severity]

    def describe(self) -> str:
        parts = ["any case"] if self.every else []
        parts += sorted(self.rules)
        if self.severity:
            parts.append(f"severity {self.severity} or higher")
        return ", ".join(parts) or "nothing"


def parse_fail_on(values: str | Sequence[str], known_rules: Iterable[str]) -> FailOn:
    """`before-consent,high` → FailOn. Unknown words raise GateUsageError (exit 2) listing the known ones."""
    words = [word.strip() for value in ([values] if isinstance(values, str) else values) for word in value.split(",")]
    words = [word for word in words if word]
    known = set(known_rules)
    rules: set[str] = set()
    severities: list[str] = []
    every = False
    unknown = []
    for word in words:
        if word == ANY:
            every = True
        elif word in SEVERITY_ORDER:
            severities.append(word)
        elif word in known:
            rules.add(word)
        else:
            unknown.append(word)
    if unknown or not words:
        what = f"unknown in --fail-on: {', '.join(unknown)}" if unknown else "--fail-on is empty"
        raise GateUsageError(what, hint=f"give rule ids ({', '.join(sorted(known))}), a severity "
                                        f"({', '.join(SEVERITY_ORDER)}: that or higher) or `{ANY}`, comma-separated")
    # Several severities: the lowest named wins (`high,low` fails on low and up).
    severity = max(severities, key=lambda name: SEVERITY_ORDER[name]) if severities else None
    return FailOn(rules=frozenset(rules), severity=severity, every=every)


@dataclass(frozen=True)
class Verdict:
    case: Case
    key: tuple[str, str]
    selected: bool                    # --fail-on selects it
    status: Status
    entry: AcceptedCase | None = None
    new_categories: tuple[str, ...] = ()
    baselined: bool = False           # a baseline was given

    @property
    def failing(self) -> bool:
        return self.selected and self.status != "accepted"

    def explain(self) -> str:
        if self.status == "accepted":
            return f"accepted by the baseline: {self.entry.reason}" if self.entry else "accepted"
        if self.status == "expired" and self.entry is not None:
            return f"the baseline accepted it until {self.entry.expires}: expired ({self.entry.reason})"
        if self.status == "widened":
            return f"the baseline accepts it, but not the PI types {', '.join(self.new_categories)}"
        return "new: not in the baseline" if self.baselined else "found"


@dataclass
class GateResult:
    fail_on: FailOn | None
    verdicts: list[Verdict]
    stale: list[AcceptedCase] = field(default_factory=list)   # baseline entries this run has no case for

    @property
    def failing(self) -> list[Verdict]:
        return [verdict for verdict in self.verdicts if verdict.failing]

    @property
    def accepted(self) -> list[Verdict]:
        return [verdict for verdict in self.verdicts if verdict.selected and verdict.status == "accepted"]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.GATE if self.failing else ExitCode.OK

    def by_case(self) -> dict[str, Verdict]:
        return {verdict.case.id: verdict for verdict in self.verdicts}


def evaluate(cases: Sequence[Case], fail_on: FailOn | None, baseline: Baseline | None = None, *,
             today: date | None = None) -> GateResult:
    """Judge every case. Without --fail-on but with a baseline, every case is selected (the baseline is the gate)."""
    if fail_on is None and baseline is not None:
        fail_on = FailOn(every=True)
    day = today or date.today()
    verdicts = []
    matched: set[tuple[str, str]] = set()
    for case in cases:
        key = case_key(case)
        selected = fail_on is not None and fail_on.selects(case)
        entry = baseline.entry(key) if baseline is not None else None
        if entry is None:
            verdicts.append(Verdict(case, key, selected, "new", baselined=baseline is not None))
            continue
        matched.add(key)
        wider = tuple(category for category in case_categories(case) if category not in entry.categories)
        if entry.expires is not None and entry.expires < day:
            verdicts.append(Verdict(case, key, selected, "expired", entry, baselined=True))
        elif wider:
            verdicts.append(Verdict(case, key, selected, "widened", entry, wider, baselined=True))
        else:
            verdicts.append(Verdict(case, key, selected, "accepted", entry, baselined=True))
    stale = [item for item in (baseline.accepted if baseline else []) if item.key not in matched]
    return GateResult(fail_on=fail_on, verdicts=verdicts, stale=stale)
