"""What is right and wrong with each device for a run, every problem with the command that fixes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from monitor.device import cacert, frida_server
from monitor.device.adb import AndroidDevice, DeviceUnreachable, adb_client, list_serials
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


def is_emulator(props: dict[str, str]) -> bool:
    return (props.get("ro.kernel.qemu") == "1" or props.get("ro.boot.qemu") == "1"
            or props.get("ro.hardware", "") in ("ranchu", "goldfish"))


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

    root = device.root_mode
    report.facts["root"] = root
    if root is None:
        fix = f"adb -s {s} root" if emulator and props.get("ro.debuggable") == "1" else \
            "use a Google APIs (not Play Store) emulator image, or root the phone with Magisk"
        report.checks.append(Check("root", "fail", "no root: adbd is not root and su does not work", fix))
    else:
        how = {"adbd": "adbd runs as root", "su0": "su (AOSP: su 0 …)", "su-c": "su -c (Magisk/SuperSU)"}[root]
        report.checks.append(Check("root", "ok", how))

    selinux = device.shell("getenforce").out.strip() or "unknown"
    report.facts["selinux"] = selinux
    report.checks.append(Check("selinux", "info", selinux))

    host_version = frida_server.host_frida_version()
    arch = frida_server.ABI_TO_ARCH.get(abi, "?")
    setup_fix = (f"consentmon device setup --serial {s} --frida-server "
                 f"{frida_server.release_name(host_version, arch)}.xz")
    if root is not None:
        status = frida_server.status(device, root=True)
        report.facts["frida_server"] = {"pids": list(status.running_pids), "version": status.running_version,
                                        "path": status.running_path, "host_version": host_version}
        if not status.running_pids:
            present = f" ({status.installed_at} present)" if status.installed_at else ""
            report.checks.append(Check("frida-server", "warn", f"not running{present}; frida here is {host_version}", setup_fix))
        elif status.matches:
            report.checks.append(Check("frida-server", "ok", f"{status.running_version} running (pid {status.running_pids[0]})"))
        else:
            report.checks.append(Check("frida-server", "fail",
                                       f"{status.running_version or 'unknown version'} running, frida here is {host_version}",
                                       f"adb -s {s} shell {device.as_root(f'kill {status.running_pids[0]}')}; {setup_fix}"))
    else:
        report.checks.append(Check("frida-server", "fail", "needs root", None))

    proxy = parse_setting(device.shell("settings get global http_proxy").out)
    reverses = device.reverse_list()
    report.facts.update({"http_proxy": proxy, "reverse": reverses})
    if proxy is None:
        report.checks.append(Check("proxy", "info", "no global HTTP proxy set (setup sets one for a run)"))
    else:
        port = proxy.rsplit(":", 1)[-1]
        routed = reverses.get(f"tcp:{port}") is not None
        report.checks.append(Check("proxy", "ok" if routed else "warn",
                                   f"http_proxy={proxy}" + ("" if routed else f"; nothing reverse-forwards tcp:{port}"),
                                   None if routed else f"adb -s {s} shell settings delete global http_proxy"))

    ca_file = ca_path or cacert.default_ca_path()
    if ca_file.is_file():
        cert = cacert.load_ca(ca_file)
        store = cacert.store_for_sdk(sdk)
        name = cacert.store_file_name(cert)
        present = device.shell(f"cat {store}/{name}", root=root is not None).out.encode() == cacert.pem_bytes(cert) \
            if root is not None else device.shell(f"ls {store}/{name}").ok
        report.facts["ca"] = {"file": name, "store": store, "installed": present}
        report.checks.append(Check("CA certificate", "ok" if present else "warn",
                                   f"{name} {'in' if present else 'not in'} {store}",
                                   None if present else f"consentmon device setup --serial {s} --ca {ca_file}"))
    else:
        report.checks.append(Check("CA certificate", "warn", f"no mitmproxy CA at {ca_file}",
                                   "run mitmdump once to create it, or pass --ca FILE"))

    try:
        clock = measure_offset(device, samples=3)
        report.facts["clock"] = clock
        offset_ms = clock["offset_ns"] / 1e6
        good = abs(clock["offset_ns"]) <= CLOCK_WARN_NS
        report.checks.append(Check("clock", "ok" if good else "warn",
                                   f"device is {offset_ms:+.1f} ms from this host (±{clock['uncertainty_ns'] / 1e6:.1f} ms, {clock['method']})",
                                   None if good else "turn on automatic date & time on the device; runs correct the offset anyway"))
    except DeviceError as exc:
        report.checks.append(Check("clock", "warn", exc.message, None))

    journal = Journal.open(s, state_dir)
    if journal.outstanding:
        report.checks.append(Check("restore", "fail", f"{len(journal.outstanding)} change(s) from an earlier run not undone "
                                                      f"({journal.path})", f"consentmon device restore --serial {s}"))
    return report


def doctor(serial: str | None = None, *, ca_path: Path | None = None, state_dir: Path | None = None) -> list[DeviceReport]:
    client = adb_client()
    serials = [serial] if serial else [s for s, _state in list_serials(client)]
    if not serials:
        raise DeviceUnreachable("no Android device is connected",
                                hint="start an emulator (emulator -avd NAME) or plug in a phone with USB debugging, then: adb devices")
    return [check_device(AndroidDevice(s, client), ca_path=ca_path, state_dir=state_dir) for s in serials]
