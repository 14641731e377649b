"""`consentmon analyze RUN_DIR`: judge a run directory and write RUN_DIR/findings.json.

Mounted by the app with `app.command("analyze")(analyze)`. Thin: parsing and printing only; the work is
`monitor.analysis.analyze_run`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from monitor.analysis import Findings, analyze_run, write_findings
from monitor.cli.context import console
from monitor.cli.gate import (BaselineOption, FailOnOption, check_lang, exit_for, gate_findings, gated_errors, parse_ci_formats,
                              prepare_gate, print_gate, write_ci_outputs)
from monitor.errors import MonitorError
from monitor.store import FINDINGS_FILE

# How each side of a failed TLS connection reads at the terminal (analysis/coverage.py tls_failures).
TLS_SIDES = {"client": "refused by the app", "client-closed-after-handshake": "closed by the app after the handshake",
             "app-pin-check": "failed the app's pin check", "server": "refused by the server"}
SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


class TimeArgumentError(MonitorError):
    """A time given on the command line could not be read."""


def parse_time(text: str) -> int:
    """Epoch ns (digits) or ISO 8601 with a zone (2026-01-01T08:00:05+08:00, …Z) → epoch ns.

    A zone is required: the device, the host and the person reading a report may sit in different zones,
    and a guessed zone would move consent by hours."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise TimeArgumentError(f"--consent-at {text!r} is neither epoch nanoseconds nor an ISO 8601 time",
                                hint="write e.g. 1767225605000000000 or 2026-01-01T08:00:05.250+08:00") from exc
    if moment.tzinfo is None:
        raise TimeArgumentError(f"--consent-at {text!r} has no time zone",
                                hint="add Z for UTC or the offset, e.g. 2026-01-01T08:00:05+08:00")
    whole = int(moment.timestamp())
    return whole * 1_000_000_000 + moment.microsecond * 1_000


def _short_api(text: str) -> str:
    """`android.telephony.TelephonyManager.getDeviceId` → `TelephonyManager.getDeviceId`; hosts stay whole."""
    parts = text.split(".")
    if len(parts) > 2 and parts[-1][:1].islower() and parts[-2][:1].isupper():
        return ".".join(parts[-2:])
    return text


def summary_table(findings: Findings, *, width: int | None = None) -> Table:
    """Findings as a table. Below 120 columns each row stays on one line: the severity colours the rule,
    the SDK is named by its id and long cells are cut with an ellipsis (report.html has everything)."""
    narrow = (width if width is not None else console.width) < 120
    table = Table(title=f"{len(findings.findings)} findings", show_lines=False, expand=False)
    columns = ("rule", "category", "api / host", "by", "n", "first seen") if narrow else \
        ("sev.", "rule", "category", "api / host", "by", "n", "first seen (UTC)")
    # (min, max) widths: 60 characters of cells, 8 borders and 12 of padding make an 80-column line.
    narrow_widths = {"rule": (14, 14), "category": (9, 9), "api / host": (15, 15), "by": (8, 8), "n": (2, 2),
                     "first seen": (12, 12)}
    for column in columns:
        low, high = narrow_widths[column] if narrow else (None, None)
        table.add_column(column, overflow="ellipsis" if narrow else "fold", no_wrap=narrow, min_width=low, max_width=high)
    for finding in findings.findings:
        style = SEVERITY_STYLE.get(finding.severity, "")
        cells = [
            _short_api(finding.api or finding.host or ""),
            (finding.sdk.id or finding.sdk.owner) if narrow else finding.sdk.name,
            str(finding.count),
            finding.first_seen[11:23],
        ]
        if narrow:
            table.add_row(f"[{style}]{finding.rule}[/]", finding.category or "", *cells)
        else:
            table.add_row(f"[{style}]{finding.severity}[/]", finding.rule, finding.category or "", *cells)
    return table


def evidence_edges(findings: Findings) -> list[str]:
    """One line each for what the traffic evidence does not cover: sockets around the proxy, failed TLS."""
    lines = []
    unseen = findings.summary.get("unseen_connections") or []
    if unseen:
        shown = ", ".join(f"{item['host']}:{item['port']}" + (f"/{item['transport']}" if item.get("transport") else "")
                          + (f" ({item['likely_protocol']})" if item.get("likely_protocol") else "")
                          for item in unseen[:4])
        lines.append(f"connections the proxy did not see: {len(unseen)} — {shown}" + (" …" if len(unseen) > 4 else ""))
    failed = findings.summary.get("tls_failures") or []
    if failed:
        shown = ", ".join(f"{item['host'] or item['sni']}:{item['port']} {TLS_SIDES.get(item['side'], 'refused by the server')}"
                          for item in failed[:4])
        lines.append(f"TLS the proxy could not open: {len(failed)} — {shown}" + (" …" if len(failed) > 4 else ""))
    return lines


def analyze(
    run_dir: Annotated[Path, typer.Argument(help="run directory written by `consentmon run`", show_default=False)],
    scope: Annotated[Path | None, typer.Option("--scope", help="YAML of the PI the privacy policy declares: app: [...], sdks: {id: [...]}",
                                               envvar="CONSENTMON_SCOPE")] = None,
    app_type: Annotated[str | None, typer.Option("--app-type", help="one of the 39 app types (必要个人信息范围) to judge necessity",
                                                 envvar="CONSENTMON_APP_TYPE")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="your own rules.yaml (thresholds, enabled rules)",
                                               envvar="CONSENTMON_RULES")] = None,
    consent_at: Annotated[str | None, typer.Option("--consent-at", help="when consent was given, if the monitor could not see it: epoch ns or ISO 8601 with zone")] = None,
    fail_on: FailOnOption = None,
    baseline: BaselineOption = None,
    formats: Annotated[list[str] | None, typer.Option("--format", help="also write sarif (consentmon.sarif) and/or junit (consentmon-junit.xml), comma-separated; findings.json is always written")] = None,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", help="where --format files go (default: RUN_DIR)")] = None,
    sarif_anchor: Annotated[str | None, typer.Option("--sarif-anchor", help="repository file SARIF results point at (a dynamic run has no source line), e.g. app/src/main/AndroidManifest.xml")] = None,
    lang: Annotated[str, typer.Option("--lang", help="language of SARIF/JUnit messages: zh or en", envvar="CONSENTMON_LANG")] = "zh",
) -> None:
    """Judge a run: write RUN_DIR/findings.json and print a summary. With --fail-on, exit 1 when such cases exist."""
    with gated_errors():
        chosen = parse_ci_formats(formats)
        check_lang(lang)
        gate, accepted = prepare_gate(fail_on, baseline, rules=rules)
        consent_ns = parse_time(consent_at) if consent_at is not None else None
        findings = analyze_run(run_dir, scope=scope, app_type=app_type, rules=rules, consent_at=consent_ns)
        out = Path(run_dir) / FINDINGS_FILE
        write_findings(findings, out)
        result = gate_findings(findings, gate, accepted)
        written = write_ci_outputs(findings, run_dir, chosen, out_dir=output_dir, result=result,
                                   with_baseline=accepted is not None, anchor=sarif_anchor, lang=lang)
    consent = findings.consent
    console.print(f"consent: [bold]{consent['final_state']}[/]"
                  + (f" at {consent['consent_time']} by {consent['decided_by']} (confidence {consent['confidence']})"
                     if consent.get("consent_time") else ""))
    for warning in consent.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(summary_table(findings))
    for line in evidence_edges(findings):
        console.print(f"[yellow]{line}[/]", highlight=False)
    for rule_id, reason in findings.summary.get("skipped", {}).items():
        console.print(f"[dim]skipped {rule_id}: {reason}[/]")
    console.print(f"wrote {out}")
    for path in written:
        console.print(f"wrote {path}")
    print_gate(result, lang=lang, baseline=baseline)
    exit_for(result)
