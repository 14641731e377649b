"""`consentmon doctor` and `consentmon device setup|restore|status`.

Mounted by the app: `app.add_typer(device_app, name="device")` and `app.command("doctor")(doctor)`.
Thin: options and printing; the work is in monitor.device. `python -m monitor.cli.device` runs the
same commands on their own (tests use it to send real signals to a real process).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from monitor.device import cacert
from monitor.device.adb import AndroidDevice, pick_serial
from monitor.device.doctor import DeviceReport
from monitor.device.doctor import doctor as run_doctor
from monitor.device.journal import Journal, state_dir
from monitor.device.session import DeviceSession, RestoreReport, SetupOptions, restore
from monitor.cli.context import console, show_error
from monitor.errors import MonitorError

device_app = typer.Typer(help="Prepare a device for a run (frida-server, proxy, CA) and put it back.", no_args_is_help=True)

SerialOption = Annotated[Optional[str], typer.Option("--serial", "-s", help="adb serial of the device", envvar="CONSENTMON_SERIAL")]
StateDirOption = Annotated[Optional[Path], typer.Option("--state-dir", help="where device state files live",
                                                        envvar="CONSENTMON_STATE_DIR")]
STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


def _fail(exc: MonitorError) -> typer.Exit:
    show_error(exc)
    return typer.Exit(exc.exit_code or 1)


def _print_report(report: DeviceReport) -> None:
    table = Table(title=f"{report.serial} ({report.state})", show_header=True, title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail")
    table.add_column("fix")
    for check in report.checks:
        table.add_row(check.name, f"[{STATUS_STYLE[check.status]}]{check.status}[/]", check.detail, check.fix or "")
    console.print(table)


def _print_restore(report: RestoreReport) -> None:
    for line in report.done:
        console.print(f"  restored: {line}")
    if report.complete:
        console.print(f"[green]{report.serial}: device restored[/]" if report.done else f"{report.serial}: nothing to restore")
    else:
        console.print(f"[yellow]{report.serial}: {report.reason}[/]")
        console.print(f"  state kept in {report.pending_file}; when the device is back run: "
                      f"consentmon device restore --serial {report.serial}")


def doctor(serial: SerialOption = None,
           ca: Annotated[Optional[Path], typer.Option("--ca", help="CA certificate to look for (default: mitmproxy's)")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="print the facts and checks as JSON")] = False,
           state: StateDirOption = None) -> None:
    """Check every connected device (or one): Android, ABI, root, SELinux, frida-server, proxy, CA, clock."""
    try:
        reports = run_doctor(serial, ca_path=ca, state_dir=state)
    except MonitorError as exc:
        raise _fail(exc) from exc
    if as_json:
        console.print_json(json.dumps([{"serial": r.serial, "state": r.state, "ready": r.ready, "facts": r.facts,
                                        "checks": [vars(c) for c in r.checks]} for r in reports], default=str))
    else:
        for report in reports:
            _print_report(report)
    if not all(r.ready for r in reports):
        raise typer.Exit(1)


@device_app.command("setup")
def setup(serial: SerialOption = None,
          proxy_port: Annotated[Optional[int], typer.Option("--proxy-port", help="send the device's HTTP(S) to host 127.0.0.1:PORT (adb reverse)", envvar="CONSENTMON_PROXY_PORT")] = 8080,
          no_proxy: Annotated[bool, typer.Option("--no-proxy", help="leave proxy settings alone")] = False,
          ca: Annotated[Optional[Path], typer.Option("--ca", help="CA to install (default: ~/.mitmproxy/mitmproxy-ca-cert.pem)")] = None,
          no_ca: Annotated[bool, typer.Option("--no-ca", help="do not install a CA")] = False,
          frida_server_file: Annotated[Optional[Path], typer.Option("--frida-server", help="frida-server binary or .xz for this device")] = None,
          frida_cache: Annotated[Optional[Path], typer.Option("--frida-cache", help="folder of frida-server-VERSION-android-ARCH[.xz] files", envvar="CONSENTMON_FRIDA_CACHE")] = None,
          download: Annotated[bool, typer.Option("--download", help="download frida-server from Frida's releases if needed")] = False,
          no_frida: Annotated[bool, typer.Option("--no-frida", help="do not start frida-server")] = False,
          block_quic: Annotated[bool, typer.Option("--block-quic", help="reject UDP 443 (iptables) so HTTP/3 clients fall back to TCP through the proxy")] = False,
          wait: Annotated[bool, typer.Option("--wait", help="stay until Ctrl-C (or SIGTERM), then restore the device")] = False,
          state: StateDirOption = None) -> None:
    """Start frida-server, route traffic to the capture proxy and install its CA; every change is recorded first."""
    try:
        device = AndroidDevice(pick_serial(serial))
        ca_path = None if no_ca else (ca or cacert.default_ca_path())
        options = SetupOptions(proxy_port=None if no_proxy else proxy_port, ca_cert=ca_path, frida=not no_frida,
                               frida_server=frida_server_file, frida_cache=frida_cache, allow_download=download,
                               block_quic=block_quic)
        session = DeviceSession(device, state_dir=state, keep_on_success=not wait)
        try:
            with session:
                report = session.setup(options)
                if report.earlier_restore is not None:
                    _print_restore(report.earlier_restore)
                for step in report.steps:
                    console.print(f"  {step}")
                console.print(f"[green]{device.serial} ready[/]", highlight=False)
                if wait:
                    console.print("waiting; press Ctrl-C to restore the device", highlight=False)
                    console.file.flush()
                    while True:
                        time.sleep(0.2)
                else:
                    console.print(f"undo with: consentmon device restore --serial {device.serial}", highlight=False)
        except KeyboardInterrupt:
            pass
        if session.restore_report is not None:
            _print_restore(session.restore_report)
            if not session.restore_report.complete:
                raise typer.Exit(3)
    except MonitorError as exc:
        if "session" in locals() and session.restore_report is not None:
            _print_restore(session.restore_report)
        raise _fail(exc) from exc


@device_app.command("restore")
def restore_command(serial: SerialOption = None, state: StateDirOption = None) -> None:
    """Undo everything consentmon changed on a device (after a crash, or after `setup` without --wait)."""
    try:
        serials = [serial] if serial else _serials_with_state(state)
        if not serials:
            console.print("nothing to restore: no device state files in " + str(state_dir(state)))
            return
        incomplete = False
        for each in serials:
            report = restore(AndroidDevice(each), Journal.open(each, state))
            _print_restore(report)
            incomplete |= not report.complete
        if incomplete:
            raise typer.Exit(3)
    except MonitorError as exc:
        raise _fail(exc) from exc


def _serials_with_state(directory: Path | None) -> list[str]:
    folder = state_dir(directory)
    serials = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            serials.append(json.loads(path.read_text(encoding="utf-8"))["serial"])
        except (OSError, ValueError, KeyError) as exc:
            console.print(f"[yellow]skipping unreadable {path}: {exc}[/]")
    return serials


@device_app.command("status")
def status(serial: SerialOption = None, state: StateDirOption = None) -> None:
    """List the changes consentmon has made and not yet undone, per device."""
    serials = [serial] if serial else _serials_with_state(state)
    if not serials:
        console.print("no outstanding changes")
        return
    for each in serials:
        journal = Journal.open(each, state)
        table = Table(title=f"{each}: {len(journal.outstanding)} outstanding change(s)", title_justify="left")
        for column in ("id", "kind", "what", "status"):
            table.add_column(column)
        for change in journal.outstanding:
            what = {k: v for k, v in change.items() if k not in ("id", "kind", "status", "at_ns")}
            table.add_row(str(change["id"]), change["kind"], json.dumps(what, ensure_ascii=False), change["status"])
        console.print(table)


def main() -> None:
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    app.command("doctor")(doctor)
    app.add_typer(device_app, name="device")
    app()


if __name__ == "__main__":
    main()
