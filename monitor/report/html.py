"""report.html: one self-contained file (inline CSS, plotly.js and screenshots; no network) and the HTML the
PDF is printed from.

The timeline is a plotly figure — reads and flows by subject on one clock, the consent moment as a line,
background spans shaded — with plotly.js (shipped inside the plotly package) inlined, so the file works
offline. The PDF uses the same template with `pdf=True`: a cover, every case open, no script.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitor.analysis.findings import Findings
from monitor.report.context import ReportData, iso, label, load_report
from monitor.report.output import write_atomic
from monitor.store import REPORT_FILE

TEMPLATES = Path(__file__).parent / "templates"
COVER_FACTS = ("fact.app", "fact.version", "fact.apk_sha256", "fact.device", "fact.started", "fact.ended")
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2, "info": 3}
PALETTE = ["#d92d20", "#1570ef", "#039855", "#7a5af8", "#dc6803", "#0e9384", "#c11574", "#475467", "#4e5ba6", "#ca8504"]


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js as the plotly package ships it (no CDN): the report must open without a network."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def timeline_figure(data: ReportData) -> dict[str, Any]:
    """The plotly figure (as JSON-able dict): one trace per (subject, reads|flows), consent line, background."""
    import plotly.graph_objects as go

    text = data.text
    timeline = data.timeline
    subjects = sorted({series["subject"] for series in timeline["series"]})
    colours = {subject: PALETTE[index % len(PALETTE)] for index, subject in enumerate(subjects)}
    figure = go.Figure()
    for series in timeline["series"]:
        kind = text("timeline.reads") if series["kind"] == "read" else text("timeline.flows")
        figure.add_trace(go.Scatter(
            x=series["x"], y=[series["subject"]] * len(series["x"]), mode="markers",
            name=f"{series['subject']} · {kind} ({series['count']})", text=series["text"], hoverinfo="text+x",
            marker={"symbol": "circle" if series["kind"] == "read" else "diamond", "size": 9 if series["kind"] == "read" else 12,
                    "color": colours[series["subject"]], "line": {"width": 1, "color": "#ffffff"}, "opacity": 0.85}))
    if timeline["marks"]:
        figure.add_trace(go.Scatter(x=[mark["x"] for mark in timeline["marks"]], y=[text("timeline.scenario")] * len(timeline["marks"]),
                                    mode="markers", name=text("timeline.scenario"), text=[mark["text"] for mark in timeline["marks"]],
                                    hoverinfo="text+x", marker={"symbol": "triangle-up", "size": 10, "color": "#98a2b3"}))
    for span in timeline["background"]:
        figure.add_vrect(x0=span["start"], x1=span["end"], fillcolor="#98a2b3", opacity=0.18, line_width=0,
                         annotation_text=text("timeline.background"), annotation_position="top left")
    if timeline["consent"]:
        label = text("consent." + str(timeline["consent_state"])) if text.has("consent." + str(timeline["consent_state"])) else ""
        figure.add_shape(type="line", x0=timeline["consent"], x1=timeline["consent"], y0=0, y1=1, yref="paper",
                         line={"color": "#12b76a" if timeline["consent_state"] == "accepted" else "#f04438", "width": 2, "dash": "dash"})
        figure.add_annotation(x=timeline["consent"], y=1, yref="paper", text=f"{text('timeline.consent')} {label}", showarrow=False,
                              xanchor="left", yanchor="bottom", font={"color": "#027a48"})
    figure.update_layout(height=max(320, 90 + 42 * (len(subjects) + (1 if timeline["marks"] else 0))),
                         margin={"l": 10, "r": 10, "t": 30, "b": 40}, hovermode="closest", showlegend=True,
                         legend={"orientation": "h", "y": -0.2}, xaxis={"type": "date"},
                         yaxis={"automargin": True, "type": "category"}, plot_bgcolor="#ffffff",
                         font={"family": "Noto Sans CJK SC, sans-serif"})
    return json.loads(figure.to_json())


def _rules(data: ReportData) -> list[dict[str, Any]]:
    """Summary per rule that has findings: title, severity, cases, findings, cited articles."""
    rows: dict[str, dict[str, Any]] = {}
    for finding in data.findings["findings"]:
        row = rows.setdefault(finding["rule"], {"id": finding["rule"], "title": finding["title"].get(data.lang) or finding["rule"],
                                                "severity": finding["severity"], "cases": 0, "findings": 0,
                                                "articles": finding["articles"]})
        row["findings"] += 1
        if SEVERITY_RANK.get(finding["severity"], 9) < SEVERITY_RANK.get(row["severity"], 9):
            row["severity"] = finding["severity"]
    for number, case in enumerate(data.cases, start=1):
        if case["rule"] in rows:
            rows[case["rule"]]["cases"] += 1
            rows[case["rule"]].setdefault("links", []).append({"id": case["id"], "number": number})
    return sorted(rows.values(), key=lambda row: (SEVERITY_RANK.get(row["severity"], 9), row["id"]))


def environment() -> Environment:
    # Undefined, not StrictUndefined: run.json of older runs lacks some keys the template asks for.
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))


def render(data: ReportData, *, pdf: bool = False) -> str:
    text = data.text
    app = data.info.get("app") if isinstance(data.info.get("app"), dict) else {}
    target = data.info.get("target") if isinstance(data.info.get("target"), dict) else {}
    app_name = app.get("package") or target.get("command") or str(data.run_dir.name)
    warnings = [warning_text(text, warning) for warning in data.warnings]

    def category(name: str | None) -> str:
        return text(f"category.{name}") if name and text.has(f"category.{name}") else (name or "")

    def encoding(name: str | None) -> str:
        """How a value was found in a request (plain, md5, base64…): plain is said in the report's language."""
        return label(text, "encoding.", name)

    # Filters before the template is compiled: `x|encoding` names its filter at compile time.
    env = environment()
    env.filters["category"] = category
    env.filters["encoding"] = encoding
    template = env.get_template("inspection.html.j2")
    return template.render(
        sdk_rows=data.sdk_table, t=text, has=text.has, lang=data.lang, pdf=pdf, app_name=app_name, info=data.info, facts=data.facts,
        cover_facts=COVER_FACTS, generated=data.generated, redacted=data.redacted, findings=data.findings,
        summary=data.summary, consent=data.consent, cases=data.cases, rules=_rules(data), integrity=data.integrity,
        integrity_shown=data.integrity_shown,
        sealed=data.sealed, warnings=warnings, timeline=data.timeline, hashes=data.hashes, chain_head=data.chain_head,
        skipped=data.skipped, coverage=data.coverage, scope_line=data.scope_line, finding_by=data.finding_by,
        consent_shown=data.consent_shown,
        iso=iso, category=category,
        plotly_js="" if pdf else plotly_js(),
        timeline_json="null" if pdf else json.dumps(timeline_figure(data), ensure_ascii=False).replace("</", "<\\/"),
    )


def warning_text(text, warning: str) -> str:  # type: ignore[no-untyped-def]
    """A load warning (kind|path|detail) in the report language."""
    kind, path, detail = (warning.split("|", 2) + ["", ""])[:3]
    if kind == "missing_screenshot":
        return text("warning.missing_screenshot", path=path, seq=detail)
    if kind == "missing_flow":
        return text("warning.missing_flow", path=path, flow=detail)
    return warning


def write_html(run_dir: Path, findings: Findings | None = None, out: Path | None = None, *, lang: str = "zh",
               redact: bool = False, data: ReportData | None = None) -> Path:
    """Write the HTML report (default RUN_DIR/report.html) from RUN_DIR/findings.json; `findings` is accepted for
    callers that just wrote it (it is read back from the file, which they wrote first)."""
    target = Path(out) if out is not None else Path(run_dir) / REPORT_FILE
    data = data or load_report(Path(run_dir), lang=lang, redact=redact)
    write_atomic(target, render(data).encode("utf-8"))
    return target
