"""What is right and wrong with each device for a run, every problem with the command that fixes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from monitor.device import cacert, frida_server
from monitor.device.adb import AndroidDevice, DeviceUnreachable, ServiceRefused, adb_client, is_emulator, list_serials
from monitor.device.clock import measure_offset
from monitor.device.journal import Journal
from monitor.device.parsers import parse_setting
from monitor.errors import DeviceError

Status = Literal["ok", "warn", "fail", "info"]
CLOCK_WARN_NS = 2_000_000_000


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass
class DeviceReport:
    serial: str
    state: str
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check.status != "fail" for check in self.checks)


def check_device(device: AndroidDevice, *, ca_path: Path | None = None, state_dir: Path | None = None) -> DeviceReport:
    s = device.serial
    report = DeviceReport(s, device.state())
    if report.state != "device":
        fixes = {"unauthorized": "unlock the device and accept 'Allow USB debugging'",
                 "offline": f"adb disconnect {s}; adb connect {s}  (or replug the cable)"}
        report.checks.append(Check("connection", "fail", f"device is {report.state}", fixes.get(report.state, "adb devices")))
        return report
    props = device.props()
    sdk = int(props.get("ro.build.version.sdk", "0") or 0)
    abi = props.get("ro.product.cpu.abi", "?")
    emulator = is_emulator(props)
    report.facts.update({"model": props.get("ro.product.model"), "manufacturer": props.get("ro.product.manufacturer"),
                         "release": props.get("ro.build.version.release"), "sdk": sdk, "abi": abi,
                         "emulator": emulator, "build": props.get("ro.build.fingerprint")})
    kind = "emulator" if emulator else "phone"
    report.checks.append(Check("device", "ok", f"{props.get('ro.product.model')} ({kind}), Android "
                                               f"{props.get('ro.build.version.release')} (API {sdk}), {abi}"))
    if sdk and sdk < 24:
        report.checks.append(Check("android version", "warn", f"API {sdk} is older than anything tested",
                                   "use an Android 7 (API 24) or newer image"))

    context = _Context(device=device, props=props, sdk=sdk, emulator=emulator, ca_path=ca_path)
    # Each capability is its own check: one that fails (adbd refusing a service, no su, a read-only /system)
    # is one failing line with its fix, and every other check still runs and prints.
    for name, check in CHECKS:
        try:
            check(context, report.checks, report.facts)
        except DeviceUnreachable:
            raise
        except DeviceError as exc:
            report.checks.append(Check(name, "fail", exc.message, exc.hint))

    journal = Journal.open(s, state_dir)
    if journal.outstanding:
        report.checks.append(Check("restore", "fail", f"{len(journal.outstanding)} change(s) from an earlier run not undone "
                                                      f"({journal.path})", f"consentmon device restore --serial {s}"))
    return report


@dataclass
class _Context:
    """What every check may look at: the device and the properties read once."""

    device: AndroidDevice
    props: dict[str, str]
    sdk: int
    emulator: bool
    ca_path: Path | None

    @property
    def serial(self) -> str:
        return self.device.serial

    @property
    def abi(self) -> str:
        return self.props.get("ro.product.cpu.abi", "?")

    @property
    def root(self) -> str | None:
        return self.device.root_mode


def _check_root(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    root = ctx.root
    facts["root"] = root
    if root is None:
        fix = f"adb -s {ctx.serial} root" if ctx.emulator and ctx.props.get("ro.debuggable") == "1" else \
            "use a Google APIs (not Play Store) emulator image, or root the phone with Magisk"
        checks.append(Check("root", "fail", "no root: adbd is not root and su does not work", fix))
    else:
        how = {"adbd": "adbd runs as root", "su0": "su (AOSP: su 0 …)", "su-c": "su -c (Magisk/SuperSU)"}[root]
        checks.append(Check("root", "ok", how))


def _check_selinux(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    selinux = ctx.device.shell("getenforce").out.strip() or "unknown"
    facts["selinux"] = selinux
    checks.append(Check("selinux", "info", selinux))


def _check_frida(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    root = ctx.root
    host_version = frida_server.host_frida_version()
    arch = frida_server.ABI_TO_ARCH.get(ctx.abi, "?")
    setup_fix = (f"consentmon device setup --serial {ctx.serial} --frida-server "
                 f"{frida_server.release_name(host_version, arch)}.xz")
    if root is not None:
        status = frida_server.status(ctx.device, root=True)
        facts["frida_server"] = {"pids": list(status.running_pids), "version": status.running_version,
                                        "path": status.running_path, "host_version": host_version}
        if not status.running_pids:
            present = f" ({status.installed_at} present)" if status.installed_at else ""
            checks.append(Check("frida-server", "warn", f"not running{present}; frida here is {host_version}", setup_fix))
        elif status.matches:
            checks.append(Check("frida-server", "ok", f"{status.running_version} running (pid {status.running_pids[0]})"))
        else:
            checks.append(Check("frida-server", "fail",
                                       f"{status.running_version or 'unknown version'} running, frida here is {host_version}",
                                       f"adb -s {ctx.serial} shell {ctx.device.as_root(f'kill {status.running_pids[0]}')}; {setup_fix}"))
    else:
        checks.append(Check("frida-server", "fail", "needs root", None))


def _check_proxy(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    proxy = parse_setting(ctx.device.shell("settings get global http_proxy").out)
    reverses = facts.get("reverse") or {}   # read by the adb reverse check (None: adbd refuses reverse)
    facts["http_proxy"] = proxy
    if proxy is None:
        checks.append(Check("proxy", "info", "no global HTTP proxy set (setup sets one for a run)"))
    else:
        port = proxy.rsplit(":", 1)[-1]
        routed = reverses.get(f"tcp:{port}") is not None
        checks.append(Check("proxy", "ok" if routed else "warn",
                                   f"http_proxy={proxy}" + ("" if routed else f"; nothing reverse-forwards tcp:{port}"),
                                   None if routed else f"adb -s {ctx.serial} shell settings delete global http_proxy"))


def _check_ca(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    root = ctx.root
    ca_file = ctx.ca_path or cacert.default_ca_path()
    if ca_file.is_file():
        cert = cacert.load_ca(ca_file)
        store = cacert.store_for_sdk(ctx.sdk)
        name = cacert.store_file_name(cert)
        present = ctx.device.shell(f"cat {store}/{name}", root=root is not None).out.encode() == cacert.pem_bytes(cert) \
            if root is not None else ctx.device.shell(f"ls {store}/{name}").ok
        facts["ca"] = {"file": name, "store": store, "installed": present}
        checks.append(Check("CA certificate", "ok" if present else "warn",
                                   f"{name} {'in' if present else 'not in'} {store}",
                                   None if present else f"consentmon device setup --serial {ctx.serial} --ca {ca_file}"))
    else:
        checks.append(Check("CA certificate", "warn", f"no mitmproxy CA at {ca_file}",
                                   "run mitmdump once to create it, or pass --ca FILE"))


def _check_clock(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    try:
        clock = measure_offset(ctx.device, samples=3)
        facts["clock"] = clock
        offset_ms = clock["offset_ns"] / 1e6
        good = abs(clock["offset_ns"]) <= CLOCK_WARN_NS
        checks.append(Check("clock", "ok" if good else "warn",
                                   f"device is {offset_ms:+.1f} ms from this host (±{clock['uncertainty_ns'] / 1e6:.1f} ms, {clock['method']})",
                                   None if good else "turn on automatic date & time on the device; runs correct the offset anyway"))
    except DeviceError as exc:
        checks.append(Check("clock", "warn", exc.message, None))


def _check_reverse(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    try:
        facts["reverse"] = ctx.device.reverse_list()
        checks.append(Check("adb reverse", "ok", "adbd forwards device ports to this host (the proxy route)"))
    except ServiceRefused as refused:
        facts["reverse"] = None
        if ctx.emulator:
            checks.append(Check("adb reverse", "warn", f"{refused.message}; setup routes the proxy through the emulator's "
                                                       "host alias 10.0.2.2 instead", None))
        else:
            checks.append(Check("adb reverse", "fail", refused.message,
                                "connect the phone directly over USB with a recent platform-tools adb, or use Android 5+"))


def _check_system(ctx: "_Context", checks: list[Check], facts: dict[str, object]) -> None:
    mounts = ctx.device.shell("cat /proc/mounts").out
    system = next((line.split() for line in mounts.splitlines() if len(line.split()) > 3 and line.split()[1] in ("/system", "/")), None)
    read_only = bool(system and "ro" in system[3].split(","))
    facts["system_read_only"] = read_only
    checks.append(Check("system partition", "info",
                        "read-only: setup puts the CA on a tmpfs over the store (undone at restore)" if read_only
                        else "writable"))


CHECKS = [("root", _check_root), ("selinux", _check_selinux), ("frida-server", _check_frida),
          ("adb reverse", _check_reverse), ("proxy", _check_proxy), ("system partition", _check_system),
          ("CA certificate", _check_ca), ("clock", _check_clock)]


def doctor(serial: str | None = None, *, ca_path: Path | None = None, state_dir: Path | None = None) -> list[DeviceReport]:
    client = adb_client()
    serials = [serial] if serial else [s for s, _state in list_serials(client)]
    if not serials:
        raise DeviceUnreachable("no Android device is connected",
                                hint="start an emulator (emulator -avd NAME) or plug in a phone with USB debugging, then: adb devices")
    return [check_device(AndroidDevice(s, client), ca_path=ca_path, state_dir=state_dir) for s in serials]
