"""SARIF 2.1.0 from findings: one result per case (rule × subject), for code-scanning dashboards.

A case's result has the rule id, a level from its severity, the case's sentence as its message, and its
locations: first the code behind it (the app's or the SDK's frame, as a logical location) anchored to a
file of the repository when one is given (`anchor`, e.g. app/src/main/AndroidManifest.xml: a dynamic run
has no source line to point at) or else to the first flow URL; then every flow URL that carried its PI
(scheme, host and path: query strings can hold the very PI the case is about and are left out).
`partialFingerprints` carry the case id, so a dashboard tracks one case across runs. When a baseline was
applied, each result has its `baselineState`, and an accepted case a suppression with the baseline's reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import monitor
from monitor.analysis.cases import SEVERITY_ORDER, Case
from monitor.analysis.findings import Finding, Findings
from monitor.data.messages import LANGUAGES
from monitor.store.files import write_atomic

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_FILE = "consentmon.sarif"
LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning ranks security alerts by this rule property (a number as a string, 0.0–10.0).
SECURITY_SEVERITY = {"high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
FINGERPRINT = "consentmonCase/v1"
MAX_FLOW_LOCATIONS = 20
_FRAME = re.compile(r"^(?P<method>[\w$.<>]+?)(?:\((?P<where>[^)]*)\))?$")


@dataclass(frozen=True)
class CaseMark:
    """What a CI gate said about one case; renderers take these without knowing the gate."""

    failing: bool
    baseline_state: Literal["new", "unchanged", "updated", "absent"] | None = None
    accepted_reason: str | None = None   # set when a baseline accepts the case: rendered as a suppression
    note: str | None = None              # why it fails or passes, in a sentence


def public_url(url: str) -> str:
    """scheme://host[:port]/path of a flow URL: no query, no fragment, no user info."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


def flow_urls(flows: list[dict[str, Any]]) -> dict[str, str]:
    """flow id → URL, from flows.jsonl records (monitor.store.reader.Run.flows)."""
    return {str(flow["flow_id"]): str(flow["url"]) for flow in flows if flow.get("flow_id") and flow.get("url")}


def _frame_location(frame: str) -> dict[str, Any]:
    match = _FRAME.match(frame.strip())
    method = match.group("method") if match else frame
    return {"name": method.rsplit(".", 1)[-1], "fullyQualifiedName": method, "kind": "function",
            "properties": {"frame": frame}}


def _frames(case: Case, findings: Mapping[str, Finding]) -> list[str]:
    frames = []
    for finding_id in case.finding_ids:
        finding = findings.get(finding_id)
        frame = finding.sdk.frame if finding is not None else None
        if frame and frame not in frames:
            frames.append(frame)
    return frames


def _case_urls(case: Case, urls: Mapping[str, str]) -> list[str]:
    seen: list[str] = []
    for flow in case.flows:
        for flow_id in flow.flow_ids:
            url = urls.get(flow_id)
            shown = public_url(url) if url else None
            if shown and shown not in seen:
                seen.append(shown)
    return seen


def _rule(rule_id: str, cases: list[Case], lang: str) -> dict[str, Any]:
    first = cases[0]
    severity = min((case.severity for case in cases), key=lambda name: SEVERITY_ORDER.get(name, 9))
    title = first.title.get(lang) or first.title.get("en") or rule_id
    cited = [f"{article.regulation} {article.article}: {article.text}".strip() for article in first.articles]
    help_text = (f"{title}\n\n" + "\n".join(f"- {line}" for line in cited)) if cited else title
    return {
        "id": rule_id,
        "name": "".join(word.capitalize() for word in rule_id.split("-")),
        "shortDescription": {"text": title},
        "fullDescription": {"text": "; ".join(cited) or title},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
        "properties": {"tags": ["privacy", "personal-information", "consentmon"], "precision": "high",
                       "security-severity": SECURITY_SEVERITY.get(severity, "5.0"),
                       "title": dict(first.title),
                       "articles": [article.model_dump(mode="json") for article in first.articles]},
    }


def _location(index: int, *, uri: str | None, logical: list[dict[str, Any]], text: str | None = None,
              base: str | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {"id": index}
    if uri:
        artifact: dict[str, Any] = {"uri": uri}
        if base:
            artifact["uriBaseId"] = base
        location["physicalLocation"] = {"artifactLocation": artifact}
    if logical:
        location["logicalLocations"] = logical
    if text:
        location["message"] = {"text": text}
    return location


def _result(case: Case, rule_index: int, findings: Mapping[str, Finding], urls: Mapping[str, str], *, lang: str,
            anchor: str | None, mark: CaseMark | None, subject_key: str) -> dict[str, Any]:
    frames = _frames(case, findings)
    subject_name = case.subject.name.get(lang) or next(iter(case.subject.name.values()), subject_key)
    logical = [_frame_location(frame) for frame in frames[:1]]
    logical.append({"name": subject_name, "fullyQualifiedName": subject_key, "kind": "module"})
    case_urls = _case_urls(case, urls)
    primary_uri = anchor or (case_urls[0] if case_urls else None)
    locations = [_location(0, uri=primary_uri, logical=logical, base="%SRCROOT%" if anchor else None,
                           text=f"{subject_name}" + (f" — {frames[0]}" if frames else ""))]
    for position, url in enumerate(case_urls[:MAX_FLOW_LOCATIONS], start=1):
        locations.append(_location(position, uri=url, logical=[], text=f"flow to {urlsplit(url).hostname} carrying the PI"))
    message = case.sentence.get(lang) or next(iter(case.sentence.values()), case.rule)
    result: dict[str, Any] = {
        "ruleId": case.rule,
        "ruleIndex": rule_index,
        "level": LEVELS.get(case.severity, "warning"),
        "message": {"text": message},
        "locations": locations,
        "partialFingerprints": {FINGERPRINT: case.id},
        "properties": {
            "case": case.id, "severity": case.severity, "subject": subject_key, "sdk_ids": list(case.subject.sdk_ids),
            "categories": [pi.category for pi in case.pi], "consent_states": list(case.consent_states),
            "destinations": list(case.destinations), "background": case.background, "count": case.count,
            "first_seen_ns": case.first_seen_ns, "last_seen_ns": case.last_seen_ns, "confidence": case.confidence,
            "finding_ids": list(case.finding_ids), "frames": frames[:10],
            "sentence": {language: case.sentence[language] for language in LANGUAGES if language in case.sentence},
        },
    }
    if mark is not None:
        if mark.baseline_state is not None:
            result["baselineState"] = mark.baseline_state
        if mark.accepted_reason is not None:
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": mark.accepted_reason}]
        if mark.note:
            result["properties"]["gate"] = mark.note
        result["properties"]["failing"] = mark.failing
    return result


def sarif_log(findings: Findings, *, flows: list[dict[str, Any]] | None = None, lang: str = "en",
              anchor: str | None = None, marks: Mapping[str, CaseMark] | None = None,
              subject_keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The SARIF log of an analysed run. `flows`: flows.jsonl records (for URLs); `marks`: case id → gate
    verdict; `subject_keys`: case id → `app` / `sdk:<id>` / `unknown:<package>` (default: from the subject)."""
    by_rule: dict[str, list[Case]] = {}
    for case in findings.cases:
        by_rule.setdefault(case.rule, []).append(case)
    rule_ids = list(by_rule)
    rules = [_rule(rule_id, by_rule[rule_id], lang) for rule_id in rule_ids]
    finding_index = {finding.id: finding for finding in findings.findings}
    urls = flow_urls(flows or [])

    def key_of(case: Case) -> str:
        if subject_keys and case.id in subject_keys:
            return subject_keys[case.id]
        subject = case.subject
        return "app" if subject.kind == "app" else f"sdk:{subject.id}" if subject.kind == "sdk" else f"unknown:{subject.package or ''}"

    results = [_result(case, rule_ids.index(case.rule), finding_index, urls, lang=lang, anchor=anchor,
                       mark=(marks or {}).get(case.id), subject_key=key_of(case)) for case in findings.cases]
    info = findings.run
    app = info.get("app") if isinstance(info.get("app"), dict) else {}
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "consentmon", "version": monitor.__version__, "semanticVersion": monitor.__version__,
                            "rules": rules}},
        "invocations": [{"executionSuccessful": True}],
        "results": results,
        "properties": {"app": app, "target": info.get("target"), "started_ns": info.get("started_ns"),
                       "consent": {key: findings.consent.get(key) for key in ("final_state", "consent_time", "decided_by", "confidence")}},
    }
    if app.get("package"):
        # Code scanning keeps one set of alerts per category: one per app.
        run["automationDetails"] = {"id": f"consentmon/{app['package']}/"}
    if anchor:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"description": {"text": "the repository's root"}}}
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def run_sarif(run_dir: Path, findings: Findings, *, lang: str = "en", anchor: str | None = None,
              marks: Mapping[str, CaseMark] | None = None) -> dict[str, Any]:
    """`sarif_log` of an analysed run directory, with the flow URLs read from its flows.jsonl."""
    from monitor.store.reader import read_flows

    return sarif_log(findings, flows=read_flows(Path(run_dir) / "flows.jsonl"), lang=lang, anchor=anchor, marks=marks)


def write_sarif(log: dict[str, Any], path: Path) -> Path:
    return write_atomic(Path(path), json.dumps(log, ensure_ascii=False, indent=2) + "\n")
