"""Run a scenario against any `Target`, writing one `scenario`/`mark` event per step.

The event's `ts` is the moment of the step's action (for consent: just before the tap that gives or
refuses it), on the host clock the rest of the run uses. A failing step is recorded with ok=false
and its error; the scenario then stops or continues as its `on_error` says. Nothing here raises
for a step that fails; only a sink that cannot record raises (capture must not lose evidence).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from monitor.data import load_consent_words
from monitor.data.models import ConsentWords
from monitor.errors import MonitorError, TargetError
from monitor.events import KIND_MARK
from monitor.scenario.model import ConsentStep, Scenario, ScreenshotStep, TapStep, WaitStep
from monitor.scenario.target import Target
from monitor.store.files import ScreenFolder
from monitor.store.sink import EventSink
from monitor.scenario.uitree import UiNode, find_by_resource_id, find_by_text, parse_ui

POLL_SECONDS = 0.5
SETTLE_SECONDS = 1.0


@dataclass
class StepOutcome:
    index: int
    name: str
    ok: bool
    error: str | None
    seq: int
    ts: int


@dataclass
class ScenarioResult:
    scenario: str
    target: str
    outcomes: list[StepOutcome] = field(default_factory=list)
    stopped_on_error: bool = False
    interrupted: bool = False
    consent: str | None = None              # "agree" / "refuse" once a consent step succeeded
    consent_ts: int | None = None

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(o.ok for o in self.outcomes)

    @property
    def failures(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if not o.ok]


class _StepFailed(TargetError):
    pass


class _Runner:
    def __init__(self, scenario: Scenario, target: Target, screens_dir: Path, clock: Callable[[], int],
                 sleep: Callable[[float], None], should_stop: Callable[[], bool], words: ConsentWords) -> None:
        self.scenario = scenario
        self.target = target
        self.screens = ScreenFolder(screens_dir)
        self.clock = clock
        self.sleep = sleep
        self.should_stop = should_stop
        self.words = words

    def _wait(self, seconds: float) -> bool:
        """Sleep in short slices so a stop request is noticed; False when stopped early."""
        remaining = seconds
        while remaining > 0:
            if self.should_stop():
                return False
            chunk = min(POLL_SECONDS, remaining)
            self.sleep(chunk)
            remaining -= chunk
        return True

    def _shot(self, index: int, label: str) -> str:
        name = f"{index:03d}-{label}.png"
        self.target.screenshot(self.screens.path(name))
        return self.screens.ref(name)

    def _save_dump(self, index: int, label: str, xml: str) -> str:
        return self.screens.write_text(f"{index:03d}-{label}.xml", xml)

    def _tap_node(self, node: UiNode) -> int:
        x, y = node.center
        action_ts = self.clock()
        self.target.tap_point(x, y)
        return action_ts

    def run_step(self, index: int, step: Any, payload: dict[str, Any]) -> int:
        """Do one step; return the time of its action. Raises MonitorError when it cannot be done."""
        target = self.target
        name = step.name
        if isinstance(step, WaitStep):
            start = self.clock()
            if not self._wait(step.wait):
                payload["interrupted"] = True
            return start
        if isinstance(step, ConsentStep):
            return self._consent(index, step, payload)
        if isinstance(step, TapStep):
            args = step.tap
            if args.x is not None and args.y is not None:
                ts = self.clock()
                target.tap_point(args.x, args.y)
                return ts
            xml = target.ui_dump()
            nodes = parse_ui(xml)
            node = find_by_text(nodes, args.text) if args.text is not None else find_by_resource_id(nodes, args.resource_id or "")
            if node is None:
                payload["ui_dump"] = self._save_dump(index, "tap-ui", xml)
                wanted = f"text {args.text!r}" if args.text is not None else f"resource-id {args.resource_id!r}"
                raise _StepFailed(f"nothing with {wanted} on screen",
                                  hint=f"see {payload['ui_dump']} for what the screen showed")
            payload.update({"button_text": node.label, "bounds": list(node.bounds)})
            return self._tap_node(node)
        if isinstance(step, ScreenshotStep):
            ts = self.clock()
            payload["screenshot"] = self._shot(index, step.screenshot or "screenshot")
            return ts
        ts = self.clock()
        if name == "launch":
            target.launch()
        elif name == "relaunch":
            target.relaunch()
        elif name == "back":
            target.back()
        elif name == "home":
            target.home()
        elif name == "grant":
            target.grant(step.grant)
        elif name == "revoke":
            target.revoke(step.revoke)
        elif name == "swipe":
            s = step.swipe
            target.swipe(s.x1, s.y1, s.x2, s.y2, s.duration_ms)
        elif name == "input":
            target.input_text(step.input)
        elif name == "mark":
            pass
        return ts

    def _consent(self, index: int, step: ConsentStep, payload: dict[str, Any]) -> int:
        decision = step.decision
        payload["decision"] = decision
        payload["screenshot_before"] = self._shot(index, "consent-before")
        waited = 0.0
        seen: list[str] = []
        while True:
            xml = self.target.ui_dump()
            nodes = parse_ui(xml)
            matches = [n for n in nodes if self.words.classify(n.label) == decision]
            if matches:
                break
            seen = [n.label for n in nodes if n.label][:12]
            if waited >= self.scenario.consent_timeout or not self._wait(POLL_SECONDS):
                payload["ui_dump"] = self._save_dump(index, "consent-ui", xml)
                raise _StepFailed(f"no button saying '{'agree' if decision == 'agree' else 'refuse'}' "
                                  f"(by the consent word list) after {waited:.1f}s; on screen: {seen}",
                                  hint="add the button's words to monitor/data/consent_words.yaml, or use `tap: {text: ...}`")
            waited += POLL_SECONDS
        payload["ui_dump"] = self._save_dump(index, "consent-ui", xml)
        node = next((n for n in matches if n.clickable), matches[0])
        payload.update({"button_text": node.label, "bounds": list(node.bounds)})
        action_ts = self._tap_node(node)
        self._wait(SETTLE_SECONDS)
        payload["screenshot_after"] = self._shot(index, "consent-after")
        return action_ts


def _step_arguments(step: Any) -> dict[str, Any]:
    argument = step.argument
    if argument is None:
        return {}
    if hasattr(argument, "model_dump"):
        return {k: v for k, v in argument.model_dump().items() if v is not None}
    return {step.name: argument}


def run_scenario(scenario: Scenario, target: Target, sink: EventSink, screens_dir: Path,
                 *, clock: Callable[[], int] = time.time_ns, sleep: Callable[[float], None] = time.sleep,
                 should_stop: Callable[[], bool] = lambda: False, consent_words: ConsentWords | None = None) -> ScenarioResult:
    runner = _Runner(scenario, target, screens_dir, clock, sleep, should_stop, consent_words or load_consent_words())
    result = ScenarioResult(scenario.name, target.name)
    for index, step in enumerate(scenario.steps, start=1):
        if should_stop():
            result.interrupted = True
            break
        payload: dict[str, Any] = {"step": index, "scenario": scenario.name, **_step_arguments(step)}
        started = clock()
        error: str | None = None
        try:
            action_ts = runner.run_step(index, step, payload)
        except MonitorError as exc:
            error = str(exc)
            action_ts = started
        payload.update({"ok": error is None, "error": error, "started_ns": started, "ended_ns": clock()})
        is_consent = isinstance(step, ConsentStep)
        seq = sink.append({"source": "scenario", "kind": KIND_MARK, "ts": action_ts, "api": step.name,
                           "category": "consent" if is_consent else "step", "payload": payload})
        result.outcomes.append(StepOutcome(index, step.name, error is None, error, seq, action_ts))
        if is_consent and error is None:
            result.consent, result.consent_ts = payload["decision"], action_ts
        if payload.get("interrupted"):
            result.interrupted = True
            break
        if error is not None and scenario.on_error == "stop":
            result.stopped_on_error = True
            break
    return result
