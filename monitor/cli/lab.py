"""`consentmon batch`, `consentmon worker`, `consentmon query`: the lab commands (monitor/lab).

Exit codes of `batch`: 0 every job done; 1 at least one job failed (each said on its own line, the rest of
the batch went on); 2 the plan itself is unusable; 3 the broker could not be reached. A round's comparison
with an earlier round (`--round N`) is printed and kept, and does not change the exit code.
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
RoundOption = Annotated[int | None, typer.Option("--round", min=1, help="a round of the plan in the same results root: 1 is the root "
                                                 "itself, N ≥ 2 lives in ROOT/rounds/N with its own state (re-tests after a fix)")]


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


def _comparison(comparison: dict[str, Any]) -> Table:
    """Per app, each case the later round fixed, still has (changed: other PI types or destinations), or has new."""
    before, after = comparison["before"], comparison["after"]
    table = Table(title=f"round {before} → round {after}")
    for column in ("app", "case", "rule", "subject", "PI"):
        table.add_column(column, overflow="fold")
    styles = {"fixed": "green", "new": "red", "still present": "yellow", "changed": "yellow"}
    for app, result in comparison["apps"].items():
        if "only_in" in result:
            table.add_row(app, f"only in round {result['only_in']}", "", "", "")
            continue
        if not (result["fixed"] or result["still"] or result["new"]):
            table.add_row(app, "no case in either round", "", "", "")
        for status, key in (("fixed", "fixed"), ("still present", "still"), ("new", "new")):
            for case in result[key]:
                label = "changed" if case.get("changed") else status
                table.add_row(app, f"[{styles[label]}]{label}[/]", case["rule"], case["subject"].get("en") or case["subject"].get("zh", ""),
                              ", ".join(case["pi"]))
    return table


def _compare(results: str, round_number: int, compare_to: int | None) -> None:
    from monitor.lab.rounds import compare_rounds, earlier_round, write_comparison

    with user_errors():
        before = compare_to or earlier_round(results, round_number)
        if before is None:
            console.print(f"[yellow]note:[/] round {round_number} has no earlier round with results to compare with", highlight=False)
            return
        comparison = compare_rounds(results, before, round_number)
        where = write_comparison(results, comparison)
    console.print(_comparison(comparison))
    counts = {key: sum(len(app.get(key, [])) for app in comparison["apps"].values()) for key in ("fixed", "still", "new")}
    console.print(f"round {before} → round {round_number}: {counts['fixed']} fixed, {counts['still']} still present, {counts['new']} new "
                  f"case(s) over {len(comparison['apps'])} app(s) — {where}", highlight=False)


def batch(
    plan: Annotated[Path, typer.Argument(help="the plan YAML: jobs with name and apk | package | host, scenario, device, repeat")],
    results: ResultsOption,
    broker: Annotated[str | None, typer.Option("--broker", help="Celery broker URL (redis://HOST:PORT/0): submit to `consentmon worker`s instead of running here")] = None,
    serial: Annotated[list[str] | None, typer.Option("--serial", help="use only these devices (repeatable; default: every connected device)")] = None,
    host_slots: Annotated[int, typer.Option("--host-slots", help="host jobs run side by side on this machine", min=0)] = 1,
    frida_server: FridaOption = None,
    state_file: Annotated[Path | None, typer.Option("--state", help="the batch's SQLite state (default: in the results root, when it is a directory; with --round N ≥ 2, FILE.round-N beside it)")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="give the jobs that failed in an earlier go two fresh tries")] = False,
    min_free_mb: Annotated[float | None, typer.Option("--min-free-mb", help="do not start a job when a local results root has less free space")] = None,
    round_number: RoundOption = None,
    compare_to: Annotated[int | None, typer.Option("--compare-to", min=1, help="with --round N: compare with this round (default: the latest earlier one with results)")] = None,
    unserved_after: Annotated[float | None, typer.Option("--unserved-after", min=0, envvar="CONSENTMON_LAB_UNSERVED_AFTER",
                                                         help="with --broker: report a job no live worker can take after this many seconds (default 15)")] = None,
) -> None:
    """Run a plan over every connected device and host slot (or through --broker), into a results root.
    Kill it and start it again with the same arguments: it resumes. With --round N (N ≥ 2) the plan runs
    again as a new round in ROOT/rounds/N, and each app's cases are compared with the earlier round:
    fixed, still present, new (as `consentmon diff` compares two runs)."""
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
                result = run_distributed(plan, results, broker, state_file=state_file, retry_failed=retry_failed, listener=listener,
                                         round_number=round_number, unserved_after=unserved_after)
            else:
                result = run_local(plan, results, serials=list(serial) if serial else None, host_slot_count=host_slots,
                                   settings=LabSettings(frida_server=frida_server), state_file=state_file,
                                   retry_failed=retry_failed, listener=listener, min_free_mb=min_free_mb, round_number=round_number)
    finally:
        done_flag.set()
        renderer.join(timeout=5)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(_summary(result.rows))
    counts = result.counts
    console.print(f"{counts['done']} done, {counts['failed']} failed, {counts['pending'] + counts['running']} not finished — results in {result.results_url}",
                  highlight=False)
    if round_number is not None and round_number > 1 and not result.broker_unreachable:
        _compare(results, round_number, compare_to)
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
    round_number: RoundOption = None,
) -> None:
    """Query every run in a results root (or one round of it) with SQL (DuckDB over its Parquet dataset)."""
    from monitor.lab.query import run_query, write_csv, write_parquet
    from monitor.lab.rounds import round_url

    with user_errors():
        table = run_query(round_url(results, round_number), sql)
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
