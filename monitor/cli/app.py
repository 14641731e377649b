"""The `consentmon` command. The folder is the command tree; each module is thin and delegates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from monitor import __version__
from monitor.cli.analyze import analyze, evidence_edges, summary_table
from monitor.cli.baseline import baseline
from monitor.cli.context import console, user_errors
from monitor.cli.device import device_app, doctor
from monitor.cli.gate import BaselineOption, FailOnOption, gate_run, gated_errors, prepare_gate
from monitor.cli.lab import batch, query, worker
from monitor.cli.report import diff, report
from monitor.cli.scan import scan
from monitor.cli.scope import scope

app = typer.Typer(name="consentmon", no_args_is_help=True, add_completion=False,
                  help="Prove when an Android app reads or sends personal information, against consent.")
app.add_typer(device_app, name="device")
app.command("doctor")(doctor)
app.command("analyze")(analyze)
app.command("scope")(scope)
app.command("scan")(scan)
app.command("report")(report)
app.command("diff")(diff)
app.command("baseline")(baseline)
app.command("batch")(batch)
app.command("worker")(worker)
app.command("query")(query)


def _version(value: bool) -> None:
    if value:
        console.print(f"consentmon {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")] = False) -> None:
    """consentmon: runtime PI monitor for Android apps."""


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    fail_on: FailOnOption = None,
    baseline_file: BaselineOption = None,
    host: Annotated[bool, typer.Option("--host", help="run CMD (after --) on this machine under Frida")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="run directory to create (must not hold a run)")] = None,
    duration: Annotated[float | None, typer.Option("--duration", help="stop after this many seconds", min=0.1)] = None,
    scenario: Annotated[str | None, typer.Option("--scenario", help="built-in scenario name or a scenario YAML file")] = None,
    app_package: Annotated[str | None, typer.Option("--app-package", help="the app's own package (its code is 'the app itself')")] = None,
    app_domain: Annotated[list[str] | None, typer.Option("--app-domain", help="a first-party domain of the app (repeatable)")] = None,
    offline: Annotated[bool, typer.Option("--offline/--forward", help="answer requests locally (nothing leaves this machine) or forward them upstream")] = False,
    ssl_insecure: Annotated[bool, typer.Option("--ssl-insecure", help="accept any upstream certificate (test servers)")] = False,
    serial: Annotated[str | None, typer.Option("--serial", help="device serial (default: the only device)", envvar="CONSENTMON_SERIAL")] = None,
    app: Annotated[str | None, typer.Option("--app", help="package of the app on the device")] = None,
    apk: Annotated[Path | None, typer.Option("--apk", help="install this APK first (its SHA-256, version and signer go into run.json)")] = None,
    frida_server: Annotated[Path | None, typer.Option("--frida-server", help="frida-server binary (or .xz) for the device")] = None,
    frida_server_name: Annotated[str | None, typer.Option("--frida-server-name", help="device runs: push and start frida-server under this process name (default: a fresh innocuous name each run)")] = None,
    frida_port: Annotated[int | None, typer.Option("--frida-port", help="device runs: frida-server listens on this port of the device's loopback, reached through adb forward (default: a random port, never 27042)", min=1, max=65535)] = None,
    stealth: Annotated[bool, typer.Option("--stealth", help="hide the agent from anti-instrumentation checks (its memory in /proc/self/maps, its threads, frida-server's port); probes are recorded either way (hooks/README.md)")] = False,
    follow_children: Annotated[bool, typer.Option("--follow-children/--no-follow-children",
                                                  help="instrument the programs the target forks and execs too (the JVM's jspawnhelper is left alone: hooks/README.md)")] = True,
    unpin_tls: Annotated[bool, typer.Option("--unpin-tls", help="bypass certificate pinning (OkHttp, Conscrypt, WebView, an app's own TrustManager) so pinned traffic is seen; changes app behaviour and is recorded in the run")] = False,
    block_quic: Annotated[bool, typer.Option("--block-quic", help="device runs: reject UDP 443 (iptables, root) so HTTP/3 clients fall back to TCP through the proxy; undone after the run")] = False,
    fetch_policy: Annotated[bool, typer.Option("--fetch-policy", help="after the scenario, fetch through the proxy the policy links the app showed but never opened, so the declared scope can be read")] = False,
    sign: Annotated[Path | None, typer.Option("--sign", help="sign the sealed run's manifest with this ed25519 private key (PEM)")] = None,
    tsa: Annotated[str | None, typer.Option("--tsa", help="with --sign: have the manifest time-stamped by this RFC 3161 TSA URL")] = None,
) -> None:
    """Record a run: PI reads, consent signals and traffic, into a sealed run directory.

    On a device: consentmon run --serial S --app PKG --scenario agree [--apk FILE].
    On this machine: consentmon run --host [--scenario FILE] -- CMD [ARGS...]."""
    from monitor.runner.host import HostRunConfig, run_host

    command = list(ctx.args)
    with gated_errors():
        gate, accepted = prepare_gate(fail_on, baseline_file)
        if sign is not None:
            from monitor.store.signing import load_private_key
            load_private_key(sign)   # a wrong key is said before the run, not after it
        elif tsa:
            raise typer.BadParameter("--tsa time-stamps the signature: give --sign KEY too")
        if not host:
            if app is None:
                raise typer.BadParameter("give --app PKG for a device run, or --host -- CMD for a program on this machine")
            from monitor.runner.device import DeviceRunConfig, run_device
            result = run_device(DeviceRunConfig(package=app, out=out or Path("reports") / f"{app}-{_stamp()}",
                                                scenario=scenario or "first-launch-idle", serial=serial, apk=apk,
                                                duration=duration, app_domains=list(app_domain or []),
                                                frida_server=frida_server, block_upstream=offline, unpin_tls=unpin_tls,
                                                block_quic=block_quic, fetch_policy=fetch_policy,
                                                frida_server_name=frida_server_name, frida_port=frida_port, stealth=stealth))
            _print_run(result)
            _sign_run(result.out, sign, tsa)
            gate_run(result.out, gate, accepted, baseline_file)
            return
        if not command:
            raise typer.BadParameter("give the command to run after --, e.g. consentmon run --host -- java -jar app.jar")
        target = out or Path("reports") / f"run-{_stamp()}"
        driver = _scenario_driver(scenario) if scenario else None
        from monitor.agent.session import AgentOptions
        result = run_host(HostRunConfig(argv=command, out=target, duration=duration, app_package=app_package,
                                        app_domains=list(app_domain or []), block_upstream=offline,
                                        ssl_insecure=ssl_insecure, driver=driver, fetch_policy=fetch_policy,
                                        agent_options=AgentOptions(follow_children=follow_children, unpin_tls=unpin_tls,
                                                                   stealth=stealth)))
        _print_run(result)
        _sign_run(result.out, sign, tsa)
    gate_run(result.out, gate, accepted, baseline_file)


def _sign_run(out: Path, key: Path | None, tsa: str | None) -> None:
    if key is None:
        return
    from monitor.store.signing import sign_run

    record = sign_run(out, key, tsa_url=tsa)
    stamp = record.get("timestamp")
    console.print(f"signed: {out / 'signature.json'} (key SHA-256 {record['public_key_sha256'][:16]}…)"
                  + (f"; time-stamped {stamp['time']} by {stamp['tsa_subject']}" if stamp else ""))


def _stamp() -> str:
    from datetime import datetime
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _scenario_driver(name: str):  # type: ignore[no-untyped-def]
    from monitor.runner.hostscenario import scenario_driver
    return scenario_driver(name)


def _print_run(result) -> None:  # type: ignore[no-untyped-def]
    console.print(f"run directory: [bold]{result.out}[/] ({result.events} events, {result.flows} flows, "
                  f"{result.tls_failures} TLS failures) — ended: {result.exit_reason}")
    if result.lost_events:
        console.print(f"[bold red]warning:[/] the agent sent {result.lost_events} more events than were recorded")
    if result.capture_failure:
        console.print(f"[bold red]warning:[/] {result.capture_failure}")


@app.command("verify")
def verify(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    key: Annotated[Path | None, typer.Option("--key", help="the ed25519 public (or private) key the run must be signed with")] = None,
    tsa_ca: Annotated[Path | None, typer.Option("--tsa-ca", help="the CA certificate the time-stamping authority's certificate must be issued by")] = None,
) -> None:
    """Check a run directory against its manifest (SHA-256 of every file, hash chain over events), and its
    signature and time-stamp when it has them."""
    from monitor.store.manifest import verify_run
    from monitor.store.signing import verify_signature

    with user_errors():
        problems = verify_run(run_dir)
        signature_problems, signed = verify_signature(run_dir, public_key=key, tsa_ca=tsa_ca, required=key is not None)
    problems += signature_problems
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/] {problem}")
        raise typer.Exit(3)
    console.print(f"[green]✓[/] {run_dir}: every file matches its manifest; the event hash chain is intact")
    if signed:
        stamp = signed.get("timestamp")
        console.print(f"[green]✓[/] signed with ed25519 key SHA-256 {signed['public_key_sha256']}"
                      + (f"; time-stamped {stamp['time']} by {stamp['tsa_subject']}" if stamp else ""))


@app.command("sign")
def sign_command(
    run_dir: Annotated[Path, typer.Argument(help="a sealed run directory")],
    key: Annotated[Path, typer.Option("--key", help="ed25519 private key (PEM): openssl genpkey -algorithm ed25519 -out KEY.pem")],
    tsa: Annotated[str | None, typer.Option("--tsa", help="RFC 3161 time-stamping authority URL")] = None,
) -> None:
    """Sign a sealed run's manifest (and have it time-stamped), as `run --sign` does."""
    with user_errors():
        _sign_run(run_dir, key, tsa)


@app.command("recover")
def recover(run_dir: Annotated[Path, typer.Argument(help="a run directory whose capture was killed")]) -> None:
    """Write out the flows a killed capture left in flows.spool (to flows.mitm, flows.jsonl and their events)."""
    from monitor.store.recover import recover as recover_flows

    with user_errors():
        count, cut_short = recover_flows(run_dir)
    console.print(f"[green]✓[/] {run_dir}: {count} flows written to flows.mitm and flows.jsonl, with their events. The run was not sealed "
                  "when its capture was killed, so `consentmon verify` will still say so.")
    if cut_short:
        console.print(f"[yellow]![/] {cut_short}")


@app.command("catalogue", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def catalogue(
    ctx: typer.Context,
    output_format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    path: Annotated[Path | None, typer.Option("--catalogue", help="a catalogue file other than the built-in one")] = None,
    check: Annotated[bool, typer.Option("--check", help="run CMD (after --) under the agent and show per entry: installed, failed, fired")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --check: print the result as JSON")] = False,
    duration: Annotated[float, typer.Option("--duration", help="with --check: stop CMD after this many seconds", min=0.1)] = 30.0,
    app_package: Annotated[str | None, typer.Option("--app-package", help="with --check: the target's own package")] = None,
) -> None:
    """Print the hook catalogue; with --check -- CMD, which entries install and fire in CMD."""
    from monitor.data import CATALOGUE_FILE, load_catalogue

    with user_errors():
        loaded = load_catalogue(path or CATALOGUE_FILE)
    if check:
        _check_catalogue(loaded, list(ctx.args), as_json=as_json, duration=duration, app_package=app_package)
        return
    if output_format == "json":
        rows = [{"api": entry.api, "category": entry.category, "kind": entry.kind, "impl": entry.impl,
                 "signatures": entry.signatures, "what": entry.what, "permission": entry.permission,
                 "when": entry.when.model_dump() if entry.when else None, "source": entry.source}
                for entry in loaded.hooks]
        rows += [{"api": entry.api, "category": entry.category, "kind": entry.kind, "native": True, "module": entry.module,
                  "export": entry.export, "what": entry.what, "permission": entry.permission,
                  "when": entry.when.model_dump() if entry.when else None, "source": entry.source}
                 for entry in loaded.native]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if output_format != "table":
        raise typer.BadParameter("--format is table or json")
    table = Table(title=f"hook catalogue {loaded.version}: {len(loaded.apis())} APIs ({len(loaded.hooks)} Java entries, "
                        f"{len(loaded.native)} native), {len(loaded.categories())} PI categories")
    for column in ("category", "api", "when", "permission"):
        table.add_column(column, overflow="fold")
    for entry in loaded.hooks:
        when = f"{'this' if entry.when.receiver else f'arg{entry.when.arg}'} {entry.when.match} {','.join(entry.when.values)}" if entry.when else ""
        table.add_row(entry.category, entry.api, when, entry.permission)
    for native in loaded.native:
        when = f"arg{native.when.arg} {native.when.match} {','.join(native.when.values)}" if native.when else ""
        table.add_row(native.category, native.api, when, native.permission)
    console.print(table)


def _check_catalogue(loaded, command: list[str], *, as_json: bool, duration: float, app_package: str | None) -> None:  # type: ignore[no-untyped-def]
    from monitor.agent.check import check_catalogue

    if not command:
        raise typer.BadParameter("give the command to check after --, e.g. consentmon catalogue --check -- java -jar app.jar")
    with user_errors():
        result = check_catalogue(command, loaded, duration=duration, own_package=app_package)
    rows = [row.as_dict() for row in result.entries]
    if as_json:
        print(json.dumps({"argv": result.argv, "processes": result.processes, "exit_reason": result.exit_reason,
                          "script_errors": result.script_errors, "entries": rows}, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"catalogue check: {' '.join(result.argv)} — {len(result.processes)} process(es), {result.exit_reason}")
    for column in ("api", "category", "installed", "failed", "fired", "first error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = "green" if row["fired"] else ("red" if row["failed"] and not row["installed"] else None)
        table.add_row(row["api"], row["category"], str(row["installed"]), str(row["failed"]), str(row["fired"]),
                      (row["errors"] or [""])[0], style=style)
    console.print(table)
    installed = sum(1 for row in rows if row["installed"])
    fired = sum(1 for row in rows if row["fired"])
    console.print(f"{installed} of {len(rows)} entries installed, {fired} fired; script errors: {result.script_errors}")


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="where the demo run goes (replaced if it exists)")] = Path("reports/demo"),
    consent: Annotated[str, typer.Option("--consent", help="what the demo user answers: agree, refuse or none")] = "agree",
    scenario: Annotated[str | None, typer.Option("--scenario", help="drive the demo with a scenario (name or file) instead of --consent")] = None,
    unpin_tls: Annotated[bool, typer.Option("--unpin-tls", help="bypass certificate pinning, as `run --unpin-tls` does: the crash reporter's pinned upload then reaches the proxy")] = False,
    runtime: Annotated[str, typer.Option("--runtime", help="hotspot (the JDK) or art (Android 10's runtime built on this host: `python tests/support/art/build.py`)")] = "hotspot",
    art_root: Annotated[Path | None, typer.Option("--art-root", help="the host ART runtime folder (default: $CONSENTMON_ART_ROOT, else the newest built in the cache)")] = None,
) -> None:
    """Run the built-in demo app under real Frida and mitmproxy, analyse it and write the report."""
    from monitor.agent.session import AgentOptions
    from monitor.analysis import analyze_run, write_findings
    from monitor.report.html import write_html
    from monitor.runner.host import HostRunConfig, run_host
    from monitor.store import FINDINGS_FILE
    from monitor.demo import (DEMO_APP_DOMAINS, DEMO_PACKAGE, build_demo_app, build_demo_dex, demo_art_command, demo_command,
                              demo_local_answers, find_art_runtime)

    with user_errors():
        if consent not in {"agree", "refuse", "none"}:
            raise typer.BadParameter("--consent is agree, refuse or none")
        if runtime not in {"hotspot", "art"}:
            raise typer.BadParameter("--runtime is hotspot or art")
        decided = None if scenario else consent
        if runtime == "art":
            art = find_art_runtime(art_root)
            framework, app_dex = build_demo_dex(art)
            argv = demo_art_command(art, framework, app_dex, consent=decided)
            run_runtime = art.runtime()
        else:
            argv, run_runtime = demo_command(build_demo_app(), consent=decided), None
        if out.exists():
            shutil.rmtree(out)
        console.print(f"running the demo app ({DEMO_PACKAGE}) on {runtime} under Frida, traffic through mitmproxy (answered locally)…")
        driver = _scenario_driver(scenario) if scenario else None
        result = run_host(HostRunConfig(argv=argv, out=out, runtime=run_runtime,
                                        duration=600 if scenario else 120, app_package=DEMO_PACKAGE,
                                        app_domains=DEMO_APP_DOMAINS, block_upstream=True, driver=driver,
                                        local_answers=demo_local_answers(), fetch_policy=True,
                                        agent_options=AgentOptions(unpin_tls=unpin_tls)))
        _print_run(result)
        findings = analyze_run(out)
        write_findings(findings, out / FINDINGS_FILE)
        report_path = write_html(out, findings)
    state = findings.consent
    console.print(f"consent: [bold]{state['final_state']}[/]" + (f" at {state['consent_time']} ({state['decided_by']})" if state.get("consent_time") else ""))
    console.print(summary_table(findings))
    for line in evidence_edges(findings):
        console.print(f"[yellow]{line}[/]", highlight=False)
    console.print(f"report:   [bold]{report_path}[/]\nfindings: [bold]{out / FINDINGS_FILE}[/]")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
