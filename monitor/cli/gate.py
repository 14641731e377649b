"""What `run` and `analyze` share for CI: `--fail-on`, `--baseline`, the SARIF/JUnit outputs, and exit codes.

The codes are monitor.devci.exitcodes.EXIT_CODES: 1 only when the gate fails, every error 2 or more.
`--fail-on` and the baseline are read before anything runs, so a typo costs a second, not a device run.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException
from rich.table import Table

from monitor.analysis.findings import Findings
from monitor.cli.context import console, err_console, show_error
from monitor.devci import Baseline, FailOn, GateResult, evaluate, exit_code_for, load_baseline, parse_fail_on
from monitor.devci.exitcodes import ExitCode
from monitor.errors import MonitorError

FailOnOption = Annotated[list[str] | None, typer.Option(
    "--fail-on", envvar="CONSENTMON_FAIL_ON",
    help="exit 1 when the run has cases of these rules or severities (comma-separated or repeated): "
         "rule ids, high/medium/low/info (that severity or higher), or any")]
BaselineOption = Annotated[Path | None, typer.Option(
    "--baseline", envvar="CONSENTMON_BASELINE",
    help="YAML of accepted cases (`consentmon baseline RUN_DIR`): only cases it does not accept fail the gate")]
CI_FORMATS = ("json", "sarif", "junit")


class CiOutputError(MonitorError):
    """The folder for the SARIF/JUnit files cannot be made."""


@contextmanager
def gated_errors() -> Iterator[None]:
    """Errors as the exit-code table says: a consentmon error 2–6 by its kind, anything unexpected 7 —
    never 1, which means the gate failed."""
    try:
        yield
    except (TyperException, typer.Exit, typer.Abort):
        raise  # usage errors (2) and deliberate exits keep their codes
    except MonitorError as error:
        from monitor.cli.analyze import TimeArgumentError

        show_error(error)
        raise typer.Exit(ExitCode.USAGE if isinstance(error, TimeArgumentError) else exit_code_for(error)) from None
    except Exception as error:  # noqa: BLE001 - a bug must not exit 1, which means "the gate failed"
        err_console.print("".join(traceback.format_exception(error)), highlight=False, markup=False)
        err_console.print("[bold red]error:[/] consentmon failed unexpectedly (a bug: please report the traceback above)")
        raise typer.Exit(exit_code_for(error)) from None


def prepare_gate(fail_on: list[str] | None, baseline: Path | None, *, rules: Path | None = None) -> tuple[FailOn | None, Baseline | None]:
    """Parse `--fail-on` against the rules in force and load the baseline (raises before any work is done)."""
    from monitor.data import RULES_FILE, load_rules

    gate = None
    if fail_on:
        ruleset = load_rules(rules or RULES_FILE)
        gate = parse_fail_on(fail_on, [rule.id for rule in ruleset.rules])
    return gate, (load_baseline(baseline) if baseline is not None else None)


def parse_ci_formats(text: list[str] | None) -> list[str]:
    chosen = [word.strip() for value in (text or []) for word in value.split(",") if word.strip()]
    unknown = [word for word in chosen if word not in CI_FORMATS]
    if unknown:
        raise typer.BadParameter(f"unknown format {', '.join(unknown)}: give {', '.join(CI_FORMATS)} (comma-separated)",
                                 param_hint="--format")
    return list(dict.fromkeys(chosen))


def check_lang(lang: str) -> str:
    from monitor.data.messages import LANGUAGES

    if lang not in LANGUAGES:
        raise typer.BadParameter(f"give one of: {', '.join(LANGUAGES)}", param_hint="--lang")
    return lang


def gate_findings(findings: Findings, fail_on: FailOn | None, baseline: Baseline | None, *, today: date | None = None) -> GateResult:
    return evaluate(findings.cases, fail_on, baseline, today=today)


def case_marks(result: GateResult, *, with_baseline: bool) -> dict[str, object]:
    """Case id → CaseMark for the SARIF and JUnit renderers."""
    from monitor.report.sarif import CaseMark

    states = {"new": "new", "accepted": "unchanged", "expired": "unchanged", "widened": "updated"}
    return {verdict.case.id: CaseMark(failing=verdict.failing,
                                      baseline_state=states[verdict.status] if with_baseline else None,  # type: ignore[arg-type]
                                      accepted_reason=verdict.entry.reason if verdict.status == "accepted" and verdict.entry else None,
                                      note=verdict.explain() if verdict.selected else "not selected by --fail-on")
            for verdict in result.verdicts}


def write_ci_outputs(findings: Findings, run_dir: Path, formats: list[str], *, out_dir: Path | None = None,
                     result: GateResult | None = None, with_baseline: bool = False, anchor: str | None = None,
                     lang: str = "zh") -> list[Path]:
    """Write the SARIF and JUnit files asked for (json is findings.json, written by analysis itself)."""
    from monitor.report.junit import JUNIT_FILE, junit_xml, write_junit
    from monitor.report.sarif import SARIF_FILE, run_sarif, write_sarif

    target = Path(out_dir) if out_dir is not None else Path(run_dir)
    if formats != ["json"] and formats:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CiOutputError(f"cannot create {target} for the --format files: {exc}",
                                hint="give a writable --output-dir") from exc
    marks = case_marks(result, with_baseline=with_baseline) if result is not None and result.fail_on is not None else None
    written = []
    if "sarif" in formats:
        log = run_sarif(run_dir, findings, lang=lang, anchor=anchor, marks=marks)  # type: ignore[arg-type]
        written.append(write_sarif(log, target / SARIF_FILE))
    if "junit" in formats:
        written.append(write_junit(junit_xml(findings, lang=lang, marks=marks), target / JUNIT_FILE))  # type: ignore[arg-type]
    return written


def print_gate(result: GateResult, *, lang: str = "zh", baseline: Path | None = None) -> None:
    if result.fail_on is None:
        return
    selected = [verdict for verdict in result.verdicts if verdict.selected]
    if selected:
        table = Table(title=f"gate: {result.fail_on.describe()}" + (f" · baseline {baseline}" if baseline else ""))
        for column in ("", "rule", "subject", "PI", "why"):
            table.add_column(column, overflow="fold")
        for verdict in selected:
            case = verdict.case
            subject = case.subject.name.get(lang) or verdict.key[1]
            table.add_row("[red]FAIL[/]" if verdict.failing else "[green]ok[/]", case.rule, f"{subject} ({verdict.key[1]})",
                          ", ".join(pi.category for pi in case.pi), verdict.explain())
        console.print(table)
    for entry in result.stale:
        console.print(f"[dim]baseline: no case for {entry.rule} × {entry.subject} in this run (fixed, or not reached): "
                      f"remove it once it is fixed[/]", highlight=False)
    failing = result.failing
    if failing:
        console.print(f"[bold red]gate failed:[/] {len(failing)} case(s) fail --fail-on {result.fail_on.describe()} "
                      f"(exit {int(ExitCode.GATE)})", highlight=False)
    else:
        console.print(f"[green]gate passed:[/] no case fails --fail-on {result.fail_on.describe()}"
                      + (f" ({len(result.accepted)} accepted by the baseline)" if result.accepted else ""), highlight=False)


def exit_for(result: GateResult) -> None:
    if result.exit_code != ExitCode.OK:
        raise typer.Exit(int(result.exit_code))


def gate_run(run_dir: Path, fail_on: FailOn | None, baseline: Baseline | None, baseline_path: Path | None = None) -> None:
    """After `consentmon run`: analyse the run (findings.json) and apply the gate, when one was asked for."""
    if fail_on is None and baseline is None:
        return
    from monitor.analysis import analyze_run, write_findings
    from monitor.store import FINDINGS_FILE

    with gated_errors():
        findings = analyze_run(Path(run_dir))
        write_findings(findings, Path(run_dir) / FINDINGS_FILE)
        result = gate_findings(findings, fail_on, baseline)
    console.print(f"wrote {Path(run_dir) / FINDINGS_FILE}")
    print_gate(result, baseline=baseline_path)
    exit_for(result)
