"""JUnit XML from findings: one test case per rule × subject, for CI test dashboards.

Each rule is a test suite. A case is a failing test case (its sentence the failure message, its evidence
the body); a case a baseline accepts is skipped with the baseline's reason; a case the gate does not
select (`--fail-on`) passes, its sentence kept in system-out. A rule that ran and found nothing is one
passing test case, and a rule the analysis skipped is a skipped one, so a clean run still lists what was
checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from monitor.analysis.cases import Case
from monitor.analysis.findings import Findings
from monitor.report.sarif import CaseMark
from monitor.store.files import write_atomic

JUNIT_FILE = "consentmon-junit.xml"
NO_CASE = "no case"


def _iso(ns: int | None) -> str | None:
    if not ns:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _evidence(case: Case, lang: str) -> str:
    lines = [case.sentence.get(lang) or next(iter(case.sentence.values()), ""), ""]
    lines.append(f"case {case.id} · severity {case.severity} · {case.count} events · "
                 f"{_iso(case.first_seen_ns)} – {_iso(case.last_seen_ns)}")
    if case.pi:
        lines.append("PI: " + ", ".join(pi.category for pi in case.pi))
    if case.consent_states:
        lines.append("consent: " + ", ".join(case.consent_states))
    if case.destinations:
        lines.append("destinations: " + ", ".join(case.destinations))
    for read in case.reads[:20]:
        lines.append(f"read  {read.api} ×{read.count} ({read.consent_state or '-'})")
    for flow in case.flows[:20]:
        lines.append(f"flow  {flow.host} {flow.category or ''} ×{flow.count} {','.join(flow.encodings)}".rstrip())
    for article in case.articles:
        lines.append(f"cites {article.regulation} {article.article}")
    lines.append("findings: " + ", ".join(case.finding_ids))
    return "\n".join(lines)


def _subject_key(case: Case) -> str:
    subject = case.subject
    return "app" if subject.kind == "app" else f"sdk:{subject.id}" if subject.kind == "sdk" else f"unknown:{subject.package or ''}"


def junit_tree(findings: Findings, *, lang: str = "en", marks: Mapping[str, CaseMark] | None = None) -> ET.ElementTree:
    """The JUnit document. Without `marks` every case fails (no gate: every case is a violation)."""
    by_rule: dict[str, list[Case]] = {}
    for case in findings.cases:
        by_rule.setdefault(case.rule, []).append(case)
    ran = [rule for rule in (findings.summary.get("by_rule") or {}) if rule not in by_rule]
    skipped: dict[str, str] = dict(findings.summary.get("skipped") or {})
    started = _iso(findings.run.get("started_ns") if isinstance(findings.run.get("started_ns"), int) else None)
    app = findings.run.get("app") if isinstance(findings.run.get("app"), dict) else {}

    root = ET.Element("testsuites", name="consentmon")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for rule in [*by_rule, *ran, *[rule for rule in skipped if rule not in by_rule and rule not in ran]]:
        suite = ET.SubElement(root, "testsuite", name=f"consentmon.{rule}")
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="rule", value=rule)
        if app.get("package"):
            ET.SubElement(properties, "property", name="app", value=str(app["package"]))
        for case in by_rule.get(rule, []):
            subject = case.subject.name.get(lang) or _subject_key(case)
            testcase = ET.SubElement(suite, "testcase", classname=f"consentmon.{rule}",
                                     name=f"{_subject_key(case)} ({subject})", time="0")
            mark = (marks or {}).get(case.id)
            message = case.sentence.get(lang) or rule
            counts["tests"] += 1
            if mark is not None and mark.accepted_reason is not None and not mark.failing:
                ET.SubElement(testcase, "skipped", message=f"accepted by the baseline: {mark.accepted_reason}")
                counts["skipped"] += 1
                continue
            body = _evidence(case, lang) + (f"\ngate: {mark.note}" if mark is not None and mark.note else "")
            if mark is None or mark.failing:
                failure = ET.SubElement(testcase, "failure", message=message, type=f"{rule}/{case.severity}")
                failure.text = body
                counts["failures"] += 1
            else:
                ET.SubElement(testcase, "system-out").text = body
        if rule not in by_rule:
            testcase = ET.SubElement(suite, "testcase", classname=f"consentmon.{rule}", name=NO_CASE, time="0")
            counts["tests"] += 1
            if rule in skipped:
                ET.SubElement(testcase, "skipped", message=f"rule skipped: {skipped[rule]}")
                counts["skipped"] += 1
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", "0")
        if started:
            suite.set("timestamp", started)
        for name in totals:
            totals[name] += counts[name]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("time", "0")   # no "skipped" here: the common JUnit schema (Jenkins' junit-10.xsd) has it per suite only
    ET.indent(root)
    return ET.ElementTree(root)


def junit_xml(findings: Findings, *, lang: str = "en", marks: Mapping[str, CaseMark] | None = None) -> bytes:
    return ET.tostring(junit_tree(findings, lang=lang, marks=marks).getroot(), encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(data: bytes, path: Path) -> Path:
    return write_atomic(Path(path), data)

