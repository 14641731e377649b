"""`consentmon report` and `consentmon diff`: the inspection report of a run, and what changed between two."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from monitor.cli.context import console, err_console, user_errors


def report(
    run_dir: Annotated[Path, typer.Argument(help="an analysed run directory (consentmon analyze wrote its findings.json)")],
    formats: Annotated[str, typer.Option("--format", help="comma-separated: html, xlsx, pdf, json, sarif, junit")] = "html",
    lang: Annotated[str, typer.Option("--lang", help="report language: zh (default) or en", envvar="CONSENTMON_LANG")] = "zh",
    redact: Annotated[bool, typer.Option("--redact", help="mask every PI value (type, length and a salted hash kept); the run directory is not changed")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="directory for the reports (default: RUN_DIR)")] = None,
) -> None:
    """Write the inspection report of RUN_DIR: cases per rule and subject, evidence, timeline, run facts."""
    from monitor.report.build import parse_formats, write_reports
    from monitor.data.messages import LANGUAGES

    with user_errors():
        if lang not in LANGUAGES:
            raise typer.BadParameter(f"--lang is one of: {', '.join(LANGUAGES)}")
        chosen = parse_formats(formats)
        written, data = write_reports(run_dir, formats=chosen, lang=lang, redact=redact, out=out)
    from monitor.report.html import warning_text

    for warning in data.warnings:
        err_console.print(f"[yellow]warning:[/] {warning_text(data.text, warning)}", highlight=False)
    console.print(f"{len(data.cases)} cases from {len(data.findings['findings'])} findings" + (" (redacted)" if redact else ""))
    for path in written:
        console.print(f"wrote {path}")


def diff(
    run_a: Annotated[Path, typer.Argument(help="the earlier run directory (or its findings.json)")],
    run_b: Annotated[Path, typer.Argument(help="the later run directory (or its findings.json)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
    lang: Annotated[str, typer.Option("--lang", help="language of the case statements: zh or en")] = "zh",
) -> None:
    """Cases fixed, new and unchanged between two analysed runs; exit code 1 when there are new cases."""
    from monitor.report.diff import diff_runs

    with user_errors():
        result = diff_runs(run_a, run_b)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        table = Table(title=f"{run_a} → {run_b}: {len(result['new'])} new, {len(result['fixed'])} fixed, {len(result['unchanged'])} unchanged")
        for column in ("", "rule", "subject", "statement"):
            table.add_column(column, overflow="fold")
        for status, style in (("new", "red"), ("fixed", "green"), ("unchanged", None)):
            for case in result[status]:
                label = "changed" if case.get("changed") else status
                table.add_row(label, case["rule"], case["subject"].get(lang, ""), case["sentence"].get(lang, ""),
                              style="yellow" if case.get("changed") else style)
        console.print(table)
    if result["new"]:
        raise typer.Exit(1)
