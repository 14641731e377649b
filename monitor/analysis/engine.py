"""The one rule engine. A rule is its declared data (monitor/data/rules.yaml: id, title, severity, cited
articles, thresholds) plus a small check function registered under a name (the checks are in
monitor/analysis/checks/, one module per family). The registry refuses a
second function under the same name; the rule set refuses a second rule with the same id.

A check gets the fully marked timeline (see `RuleContext`) and its thresholds, and returns `Hit`s: one
per violation, keyed by content (never by seq), grouped so a thousand identical reads are one finding
with a count. The engine adds what the data declares and the evidence common to all rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.analysis.attribution import APP_ITSELF, PLATFORM, Attributor
from monitor.analysis.consent import ConsentResult, iso
from monitor.analysis.findings import CitedArticle, Evidence, Finding, MatchRef, SdkRef, finding_id
from monitor.data import load_app_types
from monitor.data.messages import messages
from monitor.data.models import SdkTable
from monitor.data.rule_models import SEVERITY_ORDER, AnalysisSettings, RuleSet, RuleSpec, ScopeFile
from monitor.data.yamlfile import read_yaml
from monitor.errors import DataFileError, MonitorError
from monitor.policy import DeclaredScope
from monitor.scan.model import ApkScan


class RuleEngineError(MonitorError):
    """The rule engine was wired wrongly (a check registered twice) — a programming error, reported plainly."""


@dataclass(frozen=True)
class Reason:
    """Why something could not be judged, as a message code (reason.<code> in monitor/data/messages.yaml) and
    the values it names: a report says it in its own language. `text` is the English findings.json has always
    carried (summary.skipped, summary.scope.note); `as_json` is what findings.json keeps beside it."""

    code: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, code: str, **params: object) -> "Reason":
        return cls(code, tuple(sorted((name, str(value)) for name, value in params.items())))

    @property
    def text(self) -> str:
        return messages("en")(f"reason.{self.code}", **dict(self.params))

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


class SkipRule(Exception):
    """Raised by a check that cannot judge this run (e.g. beyond-scope without --scope or --app-type)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.text)
        self.reason = reason


@dataclass(frozen=True)
class AppTypeScope:
    """One of the 39 app types: the PI categories its basic function needs."""

    id: str
    name: str
    necessary: frozenset[str]


@dataclass
class RuleContext:
    """Everything a check may look at. `timeline` carries, beyond the Event columns: process_key, is_pi,
    background, consent_state, consent_confidence, owner, sdk_id, sdk_frame, attribution_confidence,
    attributed_via (see timeline.py, consent.py, attribution.py)."""

    timeline: pd.DataFrame
    consent: ConsentResult
    run_info: dict[str, Any]
    settings: AnalysisSettings
    attributor: Attributor
    sdks: SdkTable
    app_package: str | None = None
    first_party_domains: tuple[str, ...] = ()
    scope: ScopeFile | None = None
    app_type: AppTypeScope | None = None
    # Network evidence: matches (monitor.analysis.matching COLUMNS) joined to their flow; None when the
    # run's traffic could not be matched, with the reason in `network_unavailable`.
    flow_matches: pd.DataFrame | None = None
    network_unavailable: Reason | None = None
    # The privacy policy captured in the run, read (monitor.policy); None with the reason in `scope_note`.
    declared: DeclaredScope | None = None
    scope_note: Reason | None = None
    # The static scan of the APK the run kept (run.json apk_scan, monitor.scan); None without --apk.
    apk_scan: ApkScan | None = None

    _reads: pd.DataFrame | None = field(default=None, repr=False)
    _screenshots: list[tuple[int, str]] | None = field(default=None, repr=False)

    @property
    def reads(self) -> pd.DataFrame:
        if self._reads is None:
            # Reads the runtime made for itself (no app, SDK or other code on the stack) are not the app's.
            self._reads = self.timeline[self.timeline["is_pi"] & (self.timeline["owner"] != PLATFORM)]
        return self._reads

    @property
    def screenshots(self) -> list[tuple[int, str]]:
        """(ts, path) of every screenshot a scenario mark names."""
        if self._screenshots is None:
            marks = self.timeline[(self.timeline["source"] == "scenario") & (self.timeline["kind"] == "mark")]
            # A step's screenshot, the consent step's before/after, and the witness's evidence shots.
            self._screenshots = [(int(ts), payload[key]) for ts, payload in zip(marks["ts"].tolist(), marks["payload"].tolist())
                                 if isinstance(payload, dict)
                                 for key in ("screenshot", "screenshot_before", "screenshot_after")
                                 if isinstance(payload.get(key), str)]
        return self._screenshots


@dataclass
class Hit:
    """One violation as a check sees it. `key` is the content that makes it distinct (its id)."""

    key: tuple[Any, ...]
    first_ns: int
    last_ns: int
    count: int
    category: str | None = None
    api: str | None = None
    host: str | None = None
    sdk_id: str | None = None
    owner: str = APP_ITSELF
    frame: str | None = None
    attribution_confidence: float = 1.0
    process: str | None = None
    background: bool = False
    consent_state: str | None = None
    confidence: float = 1.0
    event_seqs: list[int] = field(default_factory=list)
    flow_ids: list[str] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None


CheckFn = Callable[[RuleContext, dict[str, Any]], list[Hit]]


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    fn: CheckFn
    defaults: dict[str, Any]


class RuleRegistry:
    def __init__(self) -> None:
        self._checks: dict[str, RegisteredCheck] = {}

    def check(self, name: str, *, defaults: dict[str, Any] | None = None) -> Callable[[CheckFn], CheckFn]:
        """Register a check function under `name`, with the thresholds it understands and their defaults."""
        def register(fn: CheckFn) -> CheckFn:
            if name in self._checks:
                raise RuleEngineError(f"a check named {name!r} is already registered ({self._checks[name].fn.__qualname__})",
                                      hint="give the new check its own name, or point the rule at the existing one")
            self._checks[name] = RegisteredCheck(name, fn, dict(defaults or {}))
            return fn
        return register

    def names(self) -> list[str]:
        return sorted(self._checks)

    def get(self, name: str) -> RegisteredCheck | None:
        return self._checks.get(name)

    def validate(self, ruleset: RuleSet, path: Path) -> None:
        """Every rule names a known check and only thresholds that check understands, or the file is refused
        with the line of the offending rule."""
        problems: list[str] = []
        index: dict[tuple[Any, ...], int] | None = None
        for position, spec in enumerate(ruleset.rules):
            registered = self._checks.get(spec.check_name)
            message = None
            if registered is None:
                message = f"rule {spec.id}: no check named {spec.check_name!r} (known: {', '.join(self.names())})"
            else:
                unknown = sorted(set(spec.thresholds) - set(registered.defaults))
                if unknown:
                    message = (f"rule {spec.id}: unknown thresholds {unknown} "
                               f"(check {registered.name} understands {sorted(registered.defaults) or 'none'})")
            if message:
                if index is None:
                    index = read_yaml(path)[1] if Path(path).exists() else {}
                line = index.get(("rules", position, "thresholds")) or index.get(("rules", position))
                problems.append(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        if problems:
            raise DataFileError("\n".join(problems), hint=f"fix the rule named above in {path}")

    def run(self, ruleset: RuleSet, context: RuleContext) -> tuple[list[Finding], dict[str, Reason]]:
        """Run every enabled rule. Returns the findings (sorted) and the rules skipped, with why."""
        findings: list[Finding] = []
        skipped: dict[str, Reason] = {}
        for spec in ruleset.rules:
            if not spec.enabled:
                skipped[spec.id] = Reason.of("disabled")
                continue
            registered = self._checks[spec.check_name]
            thresholds = {**registered.defaults, **spec.thresholds}
            try:
                hits = registered.fn(context, thresholds)
            except SkipRule as skip:
                skipped[spec.id] = skip.reason
                continue
            findings.extend(_finding(spec, hit, context) for hit in hits)
        findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.rule, f.first_seen_ns, f.id))
        return findings, skipped


REGISTRY = RuleRegistry()


# ---- turning hits into findings -------------------------------------------------------------------

def _screenshot_near(context: RuleContext, ts: int) -> str | None:
    best: tuple[int, str] | None = None
    for mark_ts, screenshot in context.screenshots:
        distance = abs(mark_ts - ts)
        if best is None or (distance, screenshot) < best:
            best = (distance, screenshot)
    return best[1] if best else None


def _finding(spec: RuleSpec, hit: Hit, context: RuleContext) -> Finding:
    limit = context.settings.max_evidence
    return Finding(
        id=finding_id(spec.id, hit.key),
        rule=spec.id,
        title={"zh": spec.title.zh, "en": spec.title.en},
        severity=hit.severity or spec.severity,
        category=hit.category,
        api=hit.api,
        host=hit.host,
        sdk=SdkRef(id=hit.sdk_id, name=context.attributor.sdk_name(hit.sdk_id, hit.owner), owner=hit.owner,
                   frame=hit.frame, confidence=round(float(hit.attribution_confidence), 3)),
        first_seen_ns=hit.first_ns, first_seen=iso(hit.first_ns),
        last_seen_ns=hit.last_ns, last_seen=iso(hit.last_ns),
        count=hit.count,
        process=hit.process,
        background=bool(hit.background),
        consent_state=hit.consent_state,
        confidence=round(float(hit.confidence), 3),
        articles=[CitedArticle(regulation=c.regulation, article=c.article, text=c.text, verified=c.verified,
                               quote=c.quote, wording=c.wording, wording_zh=c.wording_zh) for c in spec.cites],
        evidence=Evidence(
            event_seqs=hit.event_seqs[:limit],
            flow_ids=hit.flow_ids[:limit],
            matches=[MatchRef(**m) for m in hit.matches[:limit]],
            values=hit.values[:3],
            screenshot=_screenshot_near(context, hit.first_ns),
            detail=hit.detail,
        ),
    )


def resolve_app_type(app_type: str) -> AppTypeScope:
    """One of the 39 app types by id (map_navigation) or Chinese name (地图导航 / 地图导航类)."""
    found = load_app_types().get(app_type)
    return AppTypeScope(id=found.id, name=f"{found.name_zh} / {found.name_en}", necessary=frozenset(found.necessary))
