"""`consentmon batch`, `consentmon worker`, `consentmon query`: the lab commands (monitor/lab).

Exit codes of `batch`: 0 every job done; 1 at least one job failed (each said on its own line, the rest of
the batch went on); 2 the plan itself is unusable; 3 the broker could not be reached.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from monitor.cli.context import console, show_error, user_errors
from monitor.errors import DataFileError, MonitorError

BATCH_OK, BATCH_JOBS_FAILED, BATCH_PLAN, BATCH_BROKER = 0, 1, 2, 3

ResultsOption = Annotated[str, typer.Option("--results", help="results root: a directory or an fsspec URL (file://, s3://, memory://…)",
                                            envvar="CONSENTMON_RESULTS")]
FridaOption = Annotated[Path | None, typer.Option("--frida-server", help="frida-server binary (or .xz) for device jobs")]


def _render(events: "queue.Queue[tuple[str, dict[str, Any]]]", total: int, done_flag: threading.Event) -> None:
    with Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("", total=total)
        finished = 0
        while not (done_flag.is_set() and events.empty()):
            try:
                kind, data = events.get(timeout=0.1)
            except queue.Empty:
                continue
            name = data.get("name") or data.get("job")
            where = f" on {data['slot']}" if data.get("slot") else ""
            if kind == "done":
                finished += 1
                progress.console.print(f"[green]✓[/] {name}{where}: {data.get('seconds') or 0:.1f} s, {data.get('cases')} cases", highlight=False)
            elif kind == "failed":
                finished += 1
                progress.console.print(f"[red]✗[/] {name}{where}: {data.get('error')}", highlight=False)
            elif kind == "retry":
                progress.console.print(f"[yellow]↻[/] {name}{where} (attempt {data.get('attempt')}): {data.get('error')} — will try again", highlight=False)
            elif kind == "retired":
                progress.console.print(f"[red]device {data['slot']} retired[/]: {data.get('reason')}", highlight=False)
            elif kind == "unroutable":
                finished += 1
            progress.update(task, completed=finished, description=f"{kind} {name}" if kind != "unroutable" else "")


def _summary(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="batch summary")
    for column in ("job", "kind", "status", "tries", "slot", "time", "cases", "message"):
        table.add_column(column, overflow="fold")
    styles = {"done": "green", "failed": "red", "pending": "yellow", "running": "yellow"}
    for row in rows:
        seconds = f"{row['seconds']:.1f} s" if row.get("seconds") else ""
        message = row.get("error") or ""
        if row.get("hint") and row["status"] == "failed":
            message += f" (fix: {row['hint']})"
        table.add_row(row["name"], row["kind"], f"[{styles.get(row['status'], '')}]{row['status']}[/]", str(row["attempts"]),
                      row.get("slot") or "", seconds, "" if row.get("cases") is None else str(row["cases"]), message)
    return table


def batch(
    plan: Annotated[Path, typer.Argument(help="the plan YAML: jobs with name and apk | package | host, scenario, device, repeat")],
    results: ResultsOption,
    broker: Annotated[str | None, typer.Option("--broker", help="Celery broker URL (redis://HOST:PORT/0): submit to `consentmon worker`s instead of running here")] = None,
    serial: Annotated[list[str] | None, typer.Option("--serial", help="use only these devices (repeatable; default: every connected device)")] = None,
    host_slots: Annotated[int, typer.Option("--host-slots", help="host jobs run side by side on this machine", min=0)] = 1,
    frida_server: FridaOption = None,
    state_file: Annotated[Path | None, typer.Option("--state", help="the batch's SQLite state (default: in the results root, when it is a directory)")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="give the jobs that failed in an earlier go two fresh tries")] = False,
    min_free_mb: Annotated[float | None, typer.Option("--min-free-mb", help="do not start a job when a local results root has less free space")] = None,
) -> None:
    """Run a plan over every connected device and host slot (or through --broker), into a results root.
    Kill it and start it again with the same arguments: it resumes."""
    from monitor.lab.batch import run_distributed, run_local
    from monitor.lab.execute import LabSettings
    from monitor.lab.plan import load_plan

    try:
        total = len(load_plan(plan).jobs)
    except DataFileError as error:
        show_error(error)
        raise typer.Exit(BATCH_PLAN) from None
    events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    done_flag = threading.Event()
    renderer = threading.Thread(target=_render, args=(events, total, done_flag), daemon=True)
    renderer.start()
    listener = lambda kind, data: events.put((kind, data))  # noqa: E731
    try:
        with user_errors():
            if broker:
                result = run_distributed(plan, results, broker, state_file=state_file, retry_failed=retry_failed, listener=listener)
            else:
                result = run_local(plan, results, serials=list(serial) if serial else None, host_slot_count=host_slots,
                                   settings=LabSettings(frida_server=frida_server), state_file=state_file,
                                   retry_failed=retry_failed, listener=listener, min_free_mb=min_free_mb)
    finally:
        done_flag.set()
        renderer.join(timeout=5)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(_summary(result.rows))
    counts = result.counts
    console.print(f"{counts['done']} done, {counts['failed']} failed, {counts['pending'] + counts['running']} not finished — results in {results}",
                  highlight=False)
    if result.broker_unreachable:
        raise typer.Exit(BATCH_BROKER)
    if counts["failed"] or counts["pending"] or counts["running"]:
        raise typer.Exit(BATCH_JOBS_FAILED)


def worker(
    broker: Annotated[str, typer.Option("--broker", help="Celery broker URL, e.g. redis://lab-server:6379/0")],
    results: ResultsOption,
    serial: Annotated[list[str] | None, typer.Option("--serial", help="devices this worker serves (repeatable; default: every connected device)")] = None,
    host_slots: Annotated[int, typer.Option("--host-slots", help="host jobs this worker runs side by side", min=0)] = 0,
    no_devices: Annotated[bool, typer.Option("--no-devices", help="serve host jobs only, even with devices connected")] = False,
    frida_server: FridaOption = None,
    name: Annotated[str | None, typer.Option("--name", help="this worker's name in outcomes (default: the host name)")] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery's log level")] = "WARNING",
) -> None:
    """Consume batch jobs from the broker with this machine's devices and host slots (until stopped)."""
    from monitor.lab.distributed import run_worker
    from monitor.lab.execute import LabSettings
    from monitor.lab.results import ResultsRoot
    from monitor.lab.slots import device_slots, host_slots as make_host_slots, worker_name

    with user_errors():
        ResultsRoot(results).require_shared().ensure()
        who = name or worker_name()
        slots = []
        if not no_devices:
            found, problems = device_slots(list(serial) if serial else None)
            for problem in problems:
                console.print(f"[yellow]note:[/] {problem}", highlight=False)
            slots += found
        slots += make_host_slots(host_slots, who)
        console.print(f"worker {who}: {', '.join(slot.describe() for slot in slots) or 'no slot'}; broker {broker}", highlight=False)
        run_worker(broker, slots, name=who, settings=LabSettings(frida_server=frida_server), loglevel=loglevel)


def query(
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the views runs, cases, findings, reads, flows")],
    results: ResultsOption,
    csv: Annotated[Path | None, typer.Option("--csv", help="write the result to this CSV file")] = None,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="write the result to this Parquet file")] = None,
    limit: Annotated[int, typer.Option("--limit", help="rows printed (files get every row)", min=1)] = 50,
) -> None:
    """Query every run in a results root with SQL (DuckDB over its Parquet dataset)."""
    from monitor.lab.query import run_query, write_csv, write_parquet

    with user_errors():
        table = run_query(results, sql)
        try:
            if csv is not None:
                write_csv(table, csv)
            if parquet is not None:
                write_parquet(table, parquet)
        except OSError as exc:
            raise MonitorError(f"cannot write the result: {exc}") from exc
    if csv is not None or parquet is not None:
        console.print(f"{table.num_rows} rows written to {', '.join(str(p) for p in (csv, parquet) if p)}", highlight=False)
        return
    shown = Table(title=f"{table.num_rows} rows" + (f" (first {limit})" if table.num_rows > limit else ""))
    for name in table.column_names:
        shown.add_column(name, overflow="fold")
    for row in table.slice(0, limit).to_pylist():
        shown.add_row(*("" if value is None else str(value) for value in row.values()))
    console.print(shown)
