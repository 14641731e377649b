"""`consentmon scan APK`: the static pre-scan (monitor/scan), as rich tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from monitor.cli.context import console, user_errors
from monitor.device.apk import ApkError


def scan(
    apk: Annotated[list[Path], typer.Argument(help="the APK file (one; a split set is refused)", show_default=False)],
    output_format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """What an APK declares and contains: signer, SDK levels, dangerous permissions, self-start receivers,
    SDKs in the dex, native libraries, packers, and which CA store the capture needs."""
    from monitor.scan import scan_apk

    if output_format not in ("table", "json"):
        raise typer.BadParameter("--format is table or json")
    with user_errors():
        if len(apk) > 1:
            raise ApkError(f"{len(apk)} APKs given ({', '.join(path.name for path in apk[:4])}): a split APK set is not scanned as one app",
                           hint="pass the base APK alone (base.apk, or the one named after the package)")
        result = scan_apk(apk[0])
    if output_format == "json":
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    _print_tables(result)


def _print_tables(result) -> None:  # type: ignore[no-untyped-def]
    head = Table(title=f"{result.package} {result.version_name or ''} ({result.version_code})", show_header=False)
    head.add_column("", style="bold")
    head.add_column("", overflow="fold")
    head.add_row("file", f"{result.file} ({result.size} bytes)")
    head.add_row("SHA-256", result.sha256)
    head.add_row("signer", f"{', '.join(result.signer_sha256) or 'unsigned'} ({result.signature_scheme or '-'})")
    head.add_row("SDK levels", f"min {result.min_sdk}, target {result.target_sdk}")
    dex = result.dex
    head.add_row("dex", f"{', '.join(dex.files) or 'none'}: {dex.classes} classes — {dex.app_classes} the app's, "
                        f"{dex.sdk_classes} of known SDKs")
    console.print(head)

    dangerous = [entry for entry in result.permissions if entry.dangerous]
    permissions = Table(title=f"permissions: {len(result.permissions)}, {len(dangerous)} dangerous")
    for column in ("permission", "dangerous", "group", "max SDK"):
        permissions.add_column(column, overflow="fold")
    for entry in result.permissions:
        permissions.add_row(entry.name, "yes" if entry.dangerous else "", entry.group or "", str(entry.max_sdk or ""),
                            style="red" if entry.dangerous else None)
    console.print(permissions)

    if result.self_start:
        receivers = Table(title="receivers that start the app without the user (self-start)")
        for column in ("receiver", "SDK", "broadcast", "delivered at its target"):
            receivers.add_column(column, overflow="fold")
        for receiver in result.self_start:
            for trigger in receiver.triggers:
                why_not = (f"no (needs {trigger.missing_permission})" if trigger.missing_permission
                           else "no (Android no longer delivers it to manifest receivers)")
                receivers.add_row(receiver.receiver, receiver.sdk or "", f"{trigger.action} ({trigger.what})",
                                  "yes" if trigger.delivered else why_not,
                                  style="yellow" if trigger.delivered else "dim")
        console.print(receivers)
    else:
        console.print("no receiver for a self-start broadcast")

    sdks = Table(title=f"SDKs in the dex or the manifest: {len(result.sdks)}")
    for column in ("SDK", "name", "vendor", "kind", "classes", "packages", "manifest components"):
        sdks.add_column(column, overflow="fold")
    for sdk in result.sdks:
        sdks.add_row(sdk.id, sdk.name_zh or sdk.name, sdk.vendor, sdk.kind, str(sdk.classes), ", ".join(sdk.packages),
                     "\n".join(sdk.components))
    console.print(sdks)
    if dex.unattributed:
        console.print("largest other packages: " + ", ".join(f"{row.package} ({row.classes})" for row in dex.unattributed[:8]),
                      highlight=False)

    if result.native_libraries or result.other_native:
        native = Table(title="native libraries")
        native.add_column("ABI")
        native.add_column("libraries", overflow="fold")
        for abi, names in result.native_libraries.items():
            native.add_row(abi, ", ".join(names))
        if result.other_native:
            native.add_row("(outside lib/)", ", ".join(result.other_native))
        console.print(native)

    for packer in result.packers:
        console.print(f"[bold red]packer:[/] {packer.name_zh or packer.name} ({packer.vendor}) — "
                      f"{'; '.join(packer.evidence)}", highlight=False)

    network = result.network_security
    console.print(f"network security config: {network.config_file or 'none'}; cleartext "
                  f"{'permitted' if network.cleartext_permitted else 'not permitted'}"
                  + (f" (also for {', '.join(network.cleartext_domains)})" if network.cleartext_domains else "")
                  + f"; user-installed CAs trusted: {network.user_cas}"
                  + (f" ({', '.join(network.user_ca_domains)})" if network.user_ca_domains else ""), highlight=False)
    console.print(f"[bold]CA route: {network.ca_route} store[/] — {network.ca_route_reason}", highlight=False)
    for note in network.notes:
        console.print(f"  [yellow]·[/] {note}", highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]![/] {warning}", highlight=False)
