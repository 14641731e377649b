"""`consentmon scope SOURCE`: the scope a privacy policy declares (a policy file, a URL or a run directory).

Mounted by the app with `app.command("scope")(scope)`. Thin: the work is `monitor.policy.declared_scope`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from monitor.cli.context import err_console, user_errors
from monitor.errors import MonitorError


class ScopeFormatError(MonitorError):
    """--format names no known output form."""


def scope(
    source: Annotated[str, typer.Argument(help="a policy file (.html/.htm/.txt/.md), an http(s) URL, or a run directory")],
    output_format: Annotated[str, typer.Option("--format", help="yaml: the --scope file `analyze --scope` reads; json: every row with its evidence")] = "yaml",
    out: Annotated[Path | None, typer.Option("--out", help="write to this file instead of printing")] = None,
    evidence: Annotated[bool, typer.Option("--evidence", help="with --format json: add each item's document, sentence, link and why its SDK id was chosen")] = False,
) -> None:
    """Print the scope a privacy policy declares: the PI the app collects and each third-party SDK's row."""
    from monitor.policy import declared_scope, scope_from_declared

    with user_errors():
        if output_format not in {"yaml", "json"}:
            raise ScopeFormatError(f"--format {output_format!r} is not known", hint="use --format yaml or --format json")
        declared = declared_scope(source)
    if output_format == "json":
        text = json.dumps(declared.as_json(evidence=evidence), ensure_ascii=False, indent=2) + "\n"
    else:
        scope_file = scope_from_declared(declared)
        header = [f"# declared scope read from {source} by `consentmon scope`; edit it and pass it to `consentmon analyze --scope`"]
        unmapped = [sdk.name for sdk in declared.sdks if sdk.sdk_id is None]
        if unmapped:
            header.append("# SDK rows that match no SDK id (add them under sdks: with an id from monitor/data/sdks.yaml):")
            header += [f"#   {name}" for name in unmapped]
        for warning in declared.warnings:
            header.append(f"# warning: {warning}")
        body = yaml.safe_dump(scope_file.model_dump(), allow_unicode=True, sort_keys=False, default_flow_style=None)
        text = "\n".join(header) + "\n" + body
    for warning in declared.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {out}")
    else:
        print(text, end="")
