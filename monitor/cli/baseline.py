"""`consentmon baseline RUN_DIR > consentmon-baseline.yaml`: the cases of a run, as a baseline to accept them.

Mounted by the app with `app.command("baseline")(baseline)`. The YAML goes to stdout (nothing else does),
so it can be redirected; messages go to stderr.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.context import err_console
from monitor.cli.gate import FailOnOption, check_lang, gated_errors, prepare_gate


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date: write YYYY-MM-DD", param_hint="--expires") from None


def baseline(
    run_dir: Annotated[Path, typer.Argument(help="an analysed run directory (analysed now if it has no findings.json)")],
    reason: Annotated[str | None, typer.Option("--reason", help="why these cases are accepted, written into every new entry "
                                                               "(without it each entry says TODO, and the baseline is refused until you write one)")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="YYYY-MM-DD after which new entries fail the gate again")] = None,
    fail_on: FailOnOption = None,
    update: Annotated[Path | None, typer.Option("--update", help="an existing baseline: its entries keep their reason and expiry")] = None,
    lang: Annotated[str, typer.Option("--lang", help="language of the comment above each entry: zh or en", envvar="CONSENTMON_LANG")] = "zh",
) -> None:
    """Print a baseline accepting the cases of RUN_DIR (only those --fail-on selects, when given)."""
    from monitor.devci.baseline import baseline_yaml
    from monitor.devci.runs import run_findings

    with gated_errors():
        check_lang(lang)
        until = _day(expires)
        gate, old = prepare_gate(fail_on, update)
        findings = run_findings(run_dir)
        cases = [case for case in findings.cases if gate is None or gate.selects(case)]
        text = baseline_yaml(cases, reason=reason, expires=until, source=str(run_dir), lang=lang,
                             keep=old.accepted if old is not None else ())
    sys.stdout.write(text)
    sys.stdout.flush()
    err_console.print(f"{len(cases)} case(s) written" + ("" if reason or not cases else
                      "; each reason still says TODO: write why it is accepted before using it with --baseline"), highlight=False)
