"""What every command shares: one console, and one way to show a MonitorError (message + fix, no traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from monitor.errors import MonitorError

console = Console()
err_console = Console(stderr=True)


def show_error(error: MonitorError) -> None:
    # soft_wrap: an error naming a long path stays one line (a log or a grep finds it whole).
    err_console.print(f"[bold red]error:[/] {error.message}", highlight=False, soft_wrap=True)
    if error.hint:
        err_console.print(f"  [bold]fix:[/] {error.hint}", highlight=False, soft_wrap=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a MonitorError into a clear message and an exit code."""
    try:
        yield
    except MonitorError as error:
        show_error(error)
        raise typer.Exit(error.exit_code) from None


