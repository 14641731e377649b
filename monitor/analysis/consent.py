"""The consent state machine of a run: when the privacy notice was shown, when it was accepted or refused,
and which signal decided it, with how much that signal is trusted.

States: no_notice → notice_shown → accepted | refused. A decision can follow any state (a click on
"同意" is consent even if the notice's dialog was not seen), and the notice shown again re-opens the
question (the app asks anew, e.g. because its rules changed): reads then count as before consent again.

Signals, each with a confidence from rules.yaml `settings.consent_confidence`:
  click    — hook click whose text (payload.this_fields.getText, else value) is an agree/refuse word;
             trusted more when a dialog was showing;
  scenario — scenario mark, category "consent", payload.decision;
  prefs    — a consent-like SharedPreferences flag set to a truthy value (agree only: apps write "false"
             as a default at first start, which is not a refusal);
  manual   — `--consent-at`: the user's word; it replaces every detected *agree* signal;
  dialog   — a dialog shown: a notice when a decision was clicked while it was the dialog on top, or when
             it is of the same class as such a dialog.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitor.data.messages import messages
from monitor.data.models import ConsentWords
from monitor.data.rule_models import AnalysisSettings

State = Literal["no_notice", "notice_shown", "accepted", "refused"]
Decision = Literal["agree", "refuse", "notice"]
UNDECIDED: tuple[str, ...] = ("no_notice", "notice_shown")
NEVER = np.iinfo(np.int64).min

SCENARIO_DECISIONS: dict[str, Decision] = {
    "agree": "agree", "accept": "agree", "accepted": "agree", "agreed": "agree", "consent": "agree",
    "refuse": "refuse", "refused": "refuse", "reject": "refuse", "rejected": "refuse", "deny": "refuse",
    "denied": "refuse", "disagree": "refuse", "notice": "notice", "shown": "notice", "notice_shown": "notice",
}
# When two signals share an instant, the notice comes before the decision it asked for.
DECISION_ORDER = {"notice": 0, "refuse": 1, "agree": 2}


def iso(ns: int) -> str:
    """ns since the epoch as UTC ISO 8601 with all nine digits, so the text sorts like the number."""
    seconds, rest = divmod(int(ns), 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{rest:09d}Z"


# A detail as a message code (consent.detail.<code> in monitor/data/messages.yaml) and the values it names, so a
# report says it in its own language; `detail` keeps its English, as findings.json has always carried it.
Said = tuple[str, tuple[tuple[str, str], ...]]


def said(code: str, **params: object) -> Said:
    return code, tuple(sorted((name, str(value)) for name, value in params.items()))


def english(*parts: Said) -> str:
    text = messages("en")
    return text("list.semi").join(text(f"consent.detail.{code}", **dict(params)) for code, params in parts)


@dataclass(frozen=True)
class ConsentSignal:
    ts: int
    seq: int
    via: Literal["click", "scenario", "prefs", "manual", "dialog"]
    decision: Decision
    confidence: float
    detail: str
    said: tuple[Said, ...] = ()

    @classmethod
    def of(cls, ts: int, seq: int, via: Any, decision: Decision, confidence: float, code: str, **params: object) -> "ConsentSignal":
        part = said(code, **params)
        return cls(ts, seq, via, decision, confidence, english(part), (part,))


@dataclass(frozen=True)
class ConsentTransition:
    ts: int
    state: State
    via: str | None
    confidence: float
    seq: int
    detail: str
    said: tuple[Said, ...] = ()


@dataclass
class ConsentResult:
    """The run's consent history. `transitions[0]` is the state from the start (ts = NEVER)."""

    transitions: list[ConsentTransition]
    signals: list[ConsentSignal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The same warnings as message keys (consent.warning.<code> in data/messages.yaml), for reports in any language.
    warning_codes: list[str] = field(default_factory=list)

    @property
    def final_state(self) -> State:
        return self.transitions[-1].state

    @property
    def first_consent(self) -> ConsentTransition | None:
        return next((t for t in self.transitions if t.state == "accepted"), None)

    def to_dict(self) -> dict[str, Any]:
        """The `consent` object of findings.json. Sequence numbers are left out of the decision itself so the
        same history written in another order reads the same; they stay in `signals` as evidence."""
        first = self.first_consent
        changes = [
            {"ts": t.ts, "time": iso(t.ts), "state": t.state, "via": t.via, "confidence": t.confidence, "detail": t.detail,
             "detail_codes": [{"code": code, "params": dict(params)} for code, params in t.said]}
            for t in self.transitions[1:]
        ]
        return {
            "final_state": self.final_state,
            "consent_ns": first.ts if first else None,
            "consent_time": iso(first.ts) if first else None,
            "decided_by": first.via if first else None,
            "confidence": first.confidence if first else None,
            "changes": changes,
            "signals": [{**{name: value for name, value in asdict(s).items() if name != "said"}, "time": iso(s.ts)}
                        for s in self.signals],
            "warnings": list(self.warnings),
            "warning_codes": list(self.warning_codes),
        }


def _text_of_click(payload: Any, value: Any) -> str | None:
    if isinstance(payload, dict):
        fields = payload.get("this_fields")
        if isinstance(fields, dict) and isinstance(fields.get("getText"), str):
            return fields["getText"]
        if isinstance(payload.get("text"), str):
            return payload["text"]
    return value if isinstance(value, str) else None


def _truthy(value: Any, agree_values: set[str]) -> bool:
    return isinstance(value, (str, bool, int)) and str(value).strip().casefold() in agree_values


def detect_signals(timeline: pd.DataFrame, *, words: ConsentWords, settings: AnalysisSettings,
                   consent_at: int | None = None) -> list[ConsentSignal]:
    """Every consent signal in the run, in time order."""
    conf = settings.consent_confidence
    relevant = timeline[
        ((timeline["source"] == "hook") & timeline["kind"].isin(["click", "dialog", "prefs"]))
        | ((timeline["source"] == "scenario") & (timeline["kind"] == "mark") & (timeline["category"] == "consent"))
    ]
    signals: list[ConsentSignal] = []
    dialogs: list[tuple[int, int, str, str]] = []  # ts, seq, shown|dismissed, class
    decided_dialog_classes: set[str] = set()
    noticed: set[tuple[int, int]] = set()
    top_dialog: tuple[int, int, str] | None = None  # the dialog on top: ts, seq, class
    agree_values = {value.casefold() for value in settings.prefs_agree_values}
    for row in relevant.itertuples(index=False):
        payload = row.payload if isinstance(row.payload, dict) else {}
        if row.kind == "dialog":
            cls = str(payload.get("this_class") or "")
            if row.category == "dialog_shown":
                top_dialog = (int(row.ts), int(row.seq), cls)
                dialogs.append((int(row.ts), int(row.seq), "shown", cls))
            elif row.category == "dialog_dismissed":
                top_dialog = None
        elif row.kind == "click":
            text = _text_of_click(payload, row.value)
            decision = words.classify(text)
            if decision is None:
                continue
            in_dialog = top_dialog is not None
            if top_dialog is not None and (top_dialog[0], top_dialog[1]) not in noticed:
                noticed.add((top_dialog[0], top_dialog[1]))
                decided_dialog_classes.add(top_dialog[2])
                signals.append(ConsentSignal.of(top_dialog[0], top_dialog[1], "dialog", "notice", conf.click_in_dialog,
                                                "dialog_with_button", dialog=top_dialog[2]) if top_dialog[2] else
                               ConsentSignal.of(top_dialog[0], top_dialog[1], "dialog", "notice", conf.click_in_dialog,
                                                "unknown_dialog_with_button"))
            signals.append(ConsentSignal.of(int(row.ts), int(row.seq), "click", decision,
                                            conf.click_in_dialog if in_dialog else conf.click,
                                            "click_in_dialog" if in_dialog else "click_no_dialog", text=text))
        elif row.kind == "prefs":
            explicit = SCENARIO_DECISIONS.get(str(payload.get("decision", "")).casefold())
            flag_value = payload.get("value", row.value)
            if explicit == "agree" or (explicit is None and _truthy(flag_value, agree_values)):
                key = payload.get("key") or (row.args[0] if isinstance(row.args, list) and row.args else "?")
                signals.append(ConsentSignal.of(int(row.ts), int(row.seq), "prefs", "agree", conf.prefs, "prefs",
                                                preference=key, value=flag_value))
        else:
            decision = SCENARIO_DECISIONS.get(str(payload.get("decision", "")).casefold())
            if decision is not None:
                signals.append(ConsentSignal.of(int(row.ts), int(row.seq), "scenario", decision, conf.scenario, "scenario",
                                                step=row.api, answer=payload.get("decision")))
    # A dialog of a class that once carried the consent buttons is the notice again whenever it is shown.
    for ts, seq, _, cls in dialogs:
        if cls and cls in decided_dialog_classes and (ts, seq) not in noticed:
            signals.append(ConsentSignal.of(ts, seq, "dialog", "notice", conf.click_in_dialog, "dialog_again", dialog=cls))
    if consent_at is not None:
        signals = [s for s in signals if s.decision != "agree"]
        signals.append(ConsentSignal.of(int(consent_at), -1, "manual", "agree", conf.manual, "manual"))
    signals.sort(key=lambda s: (s.ts, DECISION_ORDER[s.decision], s.via, s.detail))
    return signals


def run_state_machine(signals: list[ConsentSignal], *, no_decision_confidence: float) -> ConsentResult:
    """Fold signals into state transitions. An undecided state's confidence is that of the decision that
    ended it (how sure we are consent had not yet been given), or `no_decision_confidence` if none did."""
    start = said("start")
    transitions: list[ConsentTransition] = [ConsentTransition(NEVER, "no_notice", None, no_decision_confidence, -1,
                                                              english(start), (start,))]
    for signal in signals:
        current = transitions[-1]
        if signal.decision == "notice":
            target: State = "notice_shown"
        else:
            target = "accepted" if signal.decision == "agree" else "refused"
        if target == current.state:
            if target in ("accepted", "refused") and signal.confidence > current.confidence:
                # A later, more trusted signal for the same decision corroborates it; the moment stays.
                parts = (*current.said, said("confirmed", via=signal.via))
                transitions[-1] = ConsentTransition(current.ts, current.state, current.via, signal.confidence,
                                                    current.seq, english(*parts), parts)
            continue
        transitions.append(ConsentTransition(signal.ts, target, signal.via, signal.confidence, signal.seq, signal.detail,
                                             signal.said))
    # Undecided spans borrow the confidence of the decision that ends them.
    next_decision = no_decision_confidence
    for index in range(len(transitions) - 1, -1, -1):
        transition = transitions[index]
        if transition.state in UNDECIDED:
            transitions[index] = ConsentTransition(transition.ts, transition.state, transition.via, next_decision,
                                                   transition.seq, transition.detail, transition.said)
        else:
            next_decision = transition.confidence
    warnings: list[str] = []
    codes: list[str] = []
    if not any(t.state in ("accepted", "refused") for t in transitions):
        warnings.append("no consent decision was seen: every PI read is judged as before consent; if consent was "
                        "given in a way the monitor could not see, pass --consent-at NS|ISO")
        codes.append("no_decision")
    elif all(s.via == "click" and s.confidence < 0.8 for s in signals if s.decision != "notice"):
        warnings.append("consent was decided only by clicks outside any dialog: check the consent moment, or pass --consent-at")
        codes.append("clicks_outside_dialog")
    return ConsentResult(transitions=transitions, signals=signals, warnings=warnings, warning_codes=codes)


def consent_history(timeline: pd.DataFrame, *, words: ConsentWords, settings: AnalysisSettings,
                    consent_at: int | None = None) -> ConsentResult:
    signals = detect_signals(timeline, words=words, settings=settings, consent_at=consent_at)
    return run_state_machine(signals, no_decision_confidence=settings.consent_confidence.no_decision)


def mark_consent(timeline: pd.DataFrame, result: ConsentResult) -> pd.DataFrame:
    """Adds:
      consent_state (str)        — the state in force at `ts` (a change at the very instant of an event is in force)
      consent_confidence (float) — how sure that state is (see run_state_machine)
    """
    marked = timeline.copy(deep=False)  # new columns only: the input's columns are shared, never written
    starts = np.array([t.ts for t in result.transitions], dtype=np.int64)
    states = np.array([t.state for t in result.transitions], dtype=object)
    confidences = np.array([t.confidence for t in result.transitions], dtype=float)
    index = np.searchsorted(starts, marked["ts"].to_numpy(dtype=np.int64), side="right") - 1
    marked["consent_state"] = states[index]
    marked["consent_confidence"] = confidences[index]
    return marked
