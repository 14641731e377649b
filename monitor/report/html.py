"""report.html: one self-contained file (inline CSS and SVG, no network) a reviewer can open anywhere.

It shows the consent moment, a timeline of reads, flows and UI signals around it, and each finding with
the articles it cites and the evidence it rests on: the reads (value, thread, Java stack) and the flows
(URL, the field and encoding the value was found in).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitor.analysis.findings import Findings, read_findings
from monitor.store import FINDINGS_FILE, REPORT_FILE
from monitor.store.files import write_atomic
from monitor.store.manifest import verify_run
from monitor.store.reader import Run, read_run

TEMPLATES = Path(__file__).parent / "templates"
TIMELINE_WIDTH = 1000
LANES = [("scenario", "scenario"), ("ui", "UI / consent"), ("pi_read", "PI reads"), ("flow", "network")]


def iso(ns: int | None) -> str:
    if ns is None:
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _lane(row: dict[str, Any]) -> str | None:
    if row["source"] == "scenario":
        return "scenario"
    if row["kind"] in {"click", "dialog", "lifecycle", "prefs", "permission"}:
        return "ui"
    if row["kind"] == "pi_read":
        return "pi_read"
    if row["kind"] in {"flow", "tls_failed"}:
        return "flow"
    return None


def timeline(run: Run, consent_ns: int | None) -> dict[str, Any]:
    """Points for the SVG timeline: x in [0, TIMELINE_WIDTH] over the span of the events."""
    rows = [row for row in run.events.to_dict("records") if _lane(row) is not None]
    if not rows:
        return {"points": [], "lanes": LANES, "width": TIMELINE_WIDTH, "consent_x": None, "start": "", "end": ""}
    start = min(row["ts"] for row in rows)
    end = max(row["ts"] for row in rows)
    span = max(end - start, 1)

    def x(ns: int) -> float:
        return round(40 + (ns - start) / span * (TIMELINE_WIDTH - 80), 1)

    lane_index = {name: index for index, (name, _) in enumerate(LANES)}
    points = []
    for row in rows:
        lane = _lane(row)
        before = consent_ns is None or row["ts"] < consent_ns
        label = row["api"] or row["kind"]
        if row["kind"] == "pi_read":
            label = f"{row['category']}: {row['api']} = {(row['value'] or '')[:60]}"
        elif row["kind"] == "click":
            label = f"click: {((row['payload'] or {}).get('this_fields') or {}).get('getText') or row['value']}"
        points.append({"x": x(row["ts"]), "y": 30 + lane_index[lane] * 34, "lane": lane, "before": before,
                       "label": f"{iso(row['ts'])} #{row['seq']} {label}"})
    return {"points": points, "lanes": LANES, "width": TIMELINE_WIDTH,
            "consent_x": x(consent_ns) if consent_ns is not None and start <= consent_ns <= end else None,
            "start": iso(start), "end": iso(end)}


def render_html(run_dir: Path, findings: Findings | None = None) -> str:
    run = read_run(run_dir)
    if findings is None:
        findings = read_findings(Path(run_dir) / FINDINGS_FILE)
    events_by_seq = {int(row["seq"]): row for row in run.events.to_dict("records")}
    flows_by_id = {flow["flow_id"]: flow for flow in run.flows}
    problems = verify_run(Path(run_dir))
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["iso"] = iso
    env.filters["tojson_pretty"] = lambda value: json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    template = env.get_template("report.html.j2")
    consent = findings.consent
    return template.render(
        run=run.info, findings=findings, consent=consent, summary=findings.summary,
        events=events_by_seq, flows=flows_by_id, integrity=problems, sealed=run.sealed,
        timeline=timeline(run, consent.get("consent_ns")),
        generated=iso(int(datetime.now(tz=UTC).timestamp() * 1e9)),
    )


def write_html(run_dir: Path, findings: Findings | None = None, out: Path | None = None) -> Path:
    target = Path(out) if out is not None else Path(run_dir) / REPORT_FILE
    html = render_html(run_dir, findings)
    return write_atomic(target, html)
