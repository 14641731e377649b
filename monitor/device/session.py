"""Prepare a device for a run and put it back: frida-server, traffic to the capture proxy, our CA.

    with DeviceSession(device) as session:       # restores on exit, exception, SIGINT or SIGTERM
        report = session.setup(SetupOptions(proxy_port=8080, ca_cert=path, frida_server=file))
        ...

Each change goes through the journal (recorded before it is made). A journal left by a crashed run
is restored first, so "previous" values are always the user's own, never ours.
"""

from __future__ import annotations

import shlex
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.device import cacert, frida_server
from monitor.device.adb import AndroidDevice, DeviceUnreachable, ServiceRefused, is_emulator
from monitor.device.journal import STATUS_APPLIED, STATUS_RESTORED, Journal, count_mounts, undo
from monitor.device.parsers import parse_ps, parse_setting
from monitor.errors import DeviceError

STAGING_DIR = "/data/local/tmp/consentmon-cacerts"
STAGED_PEM = "/data/local/tmp/consentmon-ca.pem"
SYSTEM_FILE_LABEL = "u:object_r:system_file:s0"


@dataclass
class SetupOptions:
    proxy_port: int | None = None           # route traffic to 127.0.0.1:PORT on the host (adb reverse)
    ca_cert: Path | None = None             # install this CA into the system store
    frida: bool = True                      # make sure the right frida-server runs
    frida_server: Path | None = None        # a frida-server (or .xz) file to use
    frida_cache: Path | None = None
    allow_download: bool = False
    block_quic: bool = False                # reject the device's UDP 443 so HTTP/3 clients fall back to TCP
    # frida-server under this process name (pushed as REMOTE_DIR/NAME), listening on 127.0.0.1:PORT of the device
    # and reached through `adb forward` (facts["frida"]["remote"]); None, None: Frida's own name and port, over USB.
    frida_server_name: str | None = None
    frida_port: int | None = None


# QUIC (HTTP/3) is UDP to port 443: no HTTP proxy sees it. Rejected (not dropped), a client such as Cronet
# fails at once and retries over TCP, through the proxy. First in OUTPUT, ahead of netd's own chains.
# The Android emulator's alias of the host's loopback (developer.android.com/studio/run/emulator-networking).
EMULATOR_HOST_ALIAS = "10.0.2.2"
QUIC_RULE = ("OUTPUT", "-p", "udp", "--dport", "443", "-j", "REJECT")
FIREWALL_TOOLS = ("iptables", "ip6tables")


@dataclass
class RestoreReport:
    serial: str
    done: list[str] = field(default_factory=list)
    complete: bool = True
    pending_file: Path | None = None        # set when something could not be restored yet
    reason: str | None = None


@dataclass
class SetupReport:
    serial: str
    steps: list[str] = field(default_factory=list)
    earlier_restore: RestoreReport | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def restore(device: AndroidDevice, journal: Journal) -> RestoreReport:
    """Undo every outstanding change, newest first. A device that is not reachable leaves the
    journal on disk and is reported, not raised: restore can simply be run again later."""
    report = RestoreReport(device.serial)
    if not journal.outstanding:
        return report
    try:
        device.require_online()
        for change in reversed(journal.outstanding):
            report.done.append(undo(device, change))
            journal.mark(change, STATUS_RESTORED)
    except DeviceUnreachable as exc:
        report.complete = False
        report.pending_file = journal.path
        report.reason = exc.message
    return report


class DeviceSession:
    def __init__(self, device: AndroidDevice, *, state_dir: Path | None = None, keep_on_success: bool = False) -> None:
        """`keep_on_success`: leave the changes in place when the block ends normally (`device setup`
        without --wait); they are still undone on an error or a signal, and later by `device restore`."""
        self.device = device
        self.keep_on_success = keep_on_success
        self.journal = Journal.open(device.serial, state_dir)
        self.restore_report: RestoreReport | None = None
        self._previous_handlers: dict[int, Any] = {}

    # ---- context: restore always ---------------------------------------------------------------

    def __enter__(self) -> "DeviceSession":
        if threading.current_thread() is threading.main_thread():
            # SIGTERM becomes an exception so `finally` blocks and __exit__ run, as Ctrl-C already does.
            self._previous_handlers[signal.SIGTERM] = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        if exc_type is None and self.keep_on_success:
            if signal.SIGTERM in self._previous_handlers:
                signal.signal(signal.SIGTERM, self._previous_handlers[signal.SIGTERM])
            return
        masked = threading.current_thread() is threading.main_thread()
        if masked:
            # A second Ctrl-C during restore would leave the device half restored; the journal still
            # allows `consentmon device restore` after a SIGKILL.
            previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self.restore_report = restore(self.device, self.journal)
        finally:
            if masked:
                signal.signal(signal.SIGINT, previous_int)
                signal.signal(signal.SIGTERM, self._previous_handlers.get(signal.SIGTERM, signal.SIG_DFL))

    # ---- setup ---------------------------------------------------------------------------------

    def setup(self, options: SetupOptions) -> SetupReport:
        report = SetupReport(self.device.serial)
        if self.journal.outstanding:
            report.earlier_restore = restore(self.device, self.journal)
            if not report.earlier_restore.complete:
                raise DeviceError(f"changes from an earlier run on {self.device.serial} could not be undone",
                                  hint=f"consentmon device restore --serial {self.device.serial}")
        self.device.require_online()
        props = self.device.props()
        sdk = int(props.get("ro.build.version.sdk", "0") or 0)
        abi = props.get("ro.product.cpu.abi", "")
        report.facts.update({"sdk": sdk, "abi": abi, "release": props.get("ro.build.version.release"),
                             "model": props.get("ro.product.model"), "root": self.device.root_mode})
        needs_root = options.frida or options.ca_cert is not None or options.block_quic
        if needs_root and self.device.root_mode is None:
            self.device.as_root("id")   # raises with the fix
        if options.frida:
            report.steps.append(self._frida(abi, options, report.facts))
        if options.proxy_port is not None:
            steps, route = self._route(options.proxy_port, emulator=is_emulator(props))
            report.steps.extend(steps)
            report.facts["proxy_route"] = route
        if options.ca_cert is not None:
            report.steps.append(self._install_ca(cacert.load_ca(options.ca_cert), sdk))
        if options.block_quic:
            report.steps.extend(self._block_quic())
        return report

    def _apply(self, kind: str, command: str | None = None, *, as_root: bool = False, **details: Any) -> dict[str, Any]:
        change = self.journal.record(kind, **details)
        if command is not None:
            self.device.shell(command, root=as_root, check=True)
        self.journal.mark(change, STATUS_APPLIED)
        return change

    def _make_dir(self, path: str, *, root: bool) -> None:
        if self.device.shell(f"ls -d {shlex.quote(path)}", root=root).ok:
            return
        self._apply("created_path", f"mkdir -p {shlex.quote(path)}", as_root=root, path=path, root=root)

    # frida-server ---------------------------------------------------------------------------------

    def _frida(self, abi: str, options: SetupOptions, facts: dict[str, Any]) -> str:
        version = frida_server.host_frida_version()
        name = options.frida_server_name
        renamed = name is not None or options.frida_port is not None
        current = frida_server.status(self.device, root=True, name=name)
        if current.running_pids:
            if current.running_version == version:
                if renamed:
                    # One frida-server per device: the one running serves the run, on its own port.
                    self._forward_to(frida_server.DEFAULT_PORTS[0], facts, name=None, reused=True)
                return f"frida-server {version} already running (pid {current.running_pids[0]}); left as it is"
            raise DeviceError(
                f"frida-server {current.running_version or '(unknown version)'} is running (pid {current.running_pids[0]}), "
                f"but the frida package here is {version}",
                hint=f"stop it: adb -s {self.device.serial} shell su 0 kill {current.running_pids[0]}  (or su -c), then run setup again")
        binary = frida_server.find_binary(version, frida_server.arch_for_abi(abi), explicit=options.frida_server,
                                          cache=options.frida_cache, allow_download=options.allow_download)
        path = frida_server.remote_path(name)
        self._make_dir(frida_server.REMOTE_DIR, root=False)
        if not self.device.shell(f"ls {shlex.quote(path)}").ok:
            change = self.journal.record("created_path", path=path, root=True)
            self.device.push(binary, path, mode=0o755)
            self.journal.mark(change, STATUS_APPLIED)
        pushed_version = self.device.shell(f"{shlex.quote(path)} --version", root=True).out.strip()
        if pushed_version != version:
            raise DeviceError(f"the frida-server given is version {pushed_version or '?'}, the frida package is {version}",
                              hint=f"use {frida_server.release_name(version, frida_server.arch_for_abi(abi))}")
        port = options.frida_port if options.frida_port is not None else (frida_server.random_port() if renamed else None)
        listen = "" if port is None else f" -l 127.0.0.1:{port}"   # the device's loopback only
        # frida-server writes its agent and helpers into a folder it leaves behind: ours to remove afterwards.
        data_name = frida_server.data_directory(path.rsplit("/", 1)[-1] if renamed else None)
        data_path = f"{frida_server.TEMP_DIR}/{data_name}"
        data_change = None
        if not self.device.shell(f"ls -d {shlex.quote(data_path)}", root=True).ok:
            data_change = self.journal.record("created_path", path=data_path, root=True)
        directory = "" if not renamed else f" -d {shlex.quote(data_name)}"
        self._apply("process", f"{shlex.quote(path)} -D{listen}{directory}", as_root=True, path=path)
        if data_change is not None:
            self.journal.mark(data_change, STATUS_APPLIED)
        started = frida_server.status(self.device, root=True, name=name)
        if not started.running_pids:
            raise DeviceError("frida-server did not start", hint=f"look at: adb -s {self.device.serial} logcat -d | grep -i frida")
        if port is None:
            return f"frida-server {version} started (pid {started.running_pids[0]})"
        self._forward_to(port, facts, name=name or path.rsplit("/", 1)[-1], reused=False)
        return (f"frida-server {version} started as {path.rsplit('/', 1)[-1]} (pid {started.running_pids[0]}) on the "
                f"device's 127.0.0.1:{port}, reached at {facts['frida']['remote']}")

    def _forward_to(self, port: int, facts: dict[str, Any], *, name: str | None, reused: bool) -> None:
        """`adb forward tcp:LOCAL tcp:PORT` (journalled): Frida connects to 127.0.0.1:LOCAL on this host."""
        remote = f"tcp:{port}"
        existing = next((local for local, target in self.device.forward_list().items() if target == remote), None)
        if existing is not None and existing.startswith("tcp:"):
            local = existing
        else:
            local = f"tcp:{_free_host_port()}"
            change = self.journal.record("forward", local=local, remote=remote)
            self.device.forward(local, remote)
            self.journal.mark(change, STATUS_APPLIED)
        facts["frida"] = {"name": name, "port": port, "forward": f"{local} -> {remote}",
                          "remote": f"127.0.0.1:{local.split(':', 1)[1]}", "reused_running_server": reused}

    # traffic ------------------------------------------------------------------------------------

    def _route(self, port: int, *, emulator: bool) -> tuple[list[str], str]:
        """Point the device's proxy at the capture proxy on this host's loopback: through `adb reverse`, or,
        where adbd refuses reverse, through an emulator's alias of the host loopback (10.0.2.2)."""
        remote = local = f"tcp:{port}"
        steps: list[str] = []
        route = "adb reverse"
        try:
            existing = self.device.reverse_list().get(remote)
            if existing != local:
                change = self.journal.record("reverse", remote=remote, previous_local=existing)
                self.device.reverse(remote, local)
                self.journal.mark(change, STATUS_APPLIED)
                steps.append(f"adb reverse {remote} {local}")
            proxy = f"127.0.0.1:{port}"
        except ServiceRefused as refused:
            if not emulator:
                raise DeviceError(f"{refused.message}: the phone cannot reach the capture proxy on this host's loopback",
                                  hint="use a device whose adbd supports `adb reverse` (Android 5+, direct USB), or an "
                                       "emulator (it reaches this host at 10.0.2.2)") from refused
            proxy = f"{EMULATOR_HOST_ALIAS}:{port}"
            route = "emulator host alias"
            steps.append(f"warning: adbd refuses `reverse`; the emulator reaches this host's loopback at {EMULATOR_HOST_ALIAS}")
        previous = parse_setting(self.device.shell("settings get global http_proxy", check=True).out)
        if previous != proxy:
            self._apply("setting", f"settings put global http_proxy {proxy}", namespace="global", key="http_proxy",
                        previous=previous)
            steps.append(f"http_proxy {previous or '(unset)'} -> {proxy}")
        return steps, route

    def _block_quic(self) -> list[str]:
        spec = " ".join(QUIC_RULE)
        steps = []
        for tool in FIREWALL_TOOLS:
            if not self.device.shell(f"which {tool}").ok:
                if tool == "iptables":
                    raise DeviceError("this device has no iptables: QUIC cannot be blocked",
                                      hint="run without --block-quic; connections the proxy did not see are still listed")
                steps.append(f"{tool}: not on this device; IPv6 QUIC is not blocked")
                continue
            if self.device.shell(f"{tool} -w -C {spec}", root=True).ok:
                steps.append(f"{tool}: UDP 443 already rejected; left as it is")
                continue
            self._apply("firewall", f"{tool} -w -I {spec}", as_root=True, tool=tool, rule=list(QUIC_RULE))
            steps.append(f"{tool} -I {spec} (QUIC falls back to TCP through the proxy)")
        return steps

    # CA -----------------------------------------------------------------------------------------

    def _install_ca(self, cert, sdk: int) -> str:
        name = cacert.store_file_name(cert)
        pem = cacert.pem_bytes(cert)
        store = cacert.store_for_sdk(sdk)
        if self.device.shell(f"cat {store}/{name}", root=True).out.encode() == pem:
            return f"CA {name} already in {store}"
        q = shlex.quote
        self._make_dir(STAGING_DIR, root=True)
        self.device.shell(f"cp {store}/* {STAGING_DIR}/", root=True, check=True)
        change = self.journal.record("created_path", path=STAGED_PEM, root=False)
        self.device.push(pem, STAGED_PEM)
        self.journal.mark(change, STATUS_APPLIED)
        self.device.shell(f"cp {STAGED_PEM} {STAGING_DIR}/{name}", root=True, check=True)
        self.device.shell(f"chown root:root {STAGING_DIR}/*", root=True)
        self.device.shell(f"chmod 644 {STAGING_DIR}/*", root=True, check=True)
        self.device.shell(f"chcon {SYSTEM_FILE_LABEL} {STAGING_DIR} {STAGING_DIR}/*", root=True)
        if sdk < cacert.FIRST_APEX_SDK:
            # The store itself is read-only: lay a tmpfs over it holding the old certificates plus ours.
            before = count_mounts(self.device, store, None)
            self._apply("mount", f"mount -t tmpfs tmpfs {store}", as_root=True, target=store, pid=None, before=before)
            self.device.shell(f"cp {STAGING_DIR}/* {store}/", root=True, check=True)
            self.device.shell(f"chmod 644 {store}/*", root=True, check=True)
            self.device.shell(f"chcon {SYSTEM_FILE_LABEL} {store}/*", root=True)
            done = f"CA {name} added to {store} (tmpfs)"
        else:
            namespaces = self._conscrypt_readers()
            before = count_mounts(self.device, store, None)
            self._apply("mount", f"mount --bind {STAGING_DIR} {store}", as_root=True, target=store, pid=None, before=before)
            for pid, process in namespaces:
                before = count_mounts(self.device, store, pid)
                self._apply("mount", f"nsenter --mount=/proc/{pid}/ns/mnt -- mount --bind {q(STAGING_DIR)} {store}",
                            as_root=True, target=store, pid=pid, process=process, before=before)
            done = f"CA {name} bind-mounted over {store} in init and {len(namespaces)} zygote/app namespaces"
        if self.device.shell(f"cat {store}/{name}", root=True).out.encode() != pem:
            raise DeviceError(f"the CA did not appear in {store}", hint="check root and SELinux: consentmon doctor")
        return done

    def _conscrypt_readers(self) -> list[tuple[int, str]]:
        """Zygotes and the apps they forked: each has its own mount namespace reading the APEX store."""
        rows = parse_ps(self.device.shell("ps -A").out)
        zygotes = {row.pid: row.name for row in rows if row.name in ("zygote", "zygote64")}
        apps = [(row.pid, row.name) for row in rows if row.ppid in zygotes]
        return sorted(zygotes.items()) + apps


def _free_host_port() -> int:
    """A free port on this host's loopback for the adb forward (the adb server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SessionInterrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so cleanup runs."""


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise SessionInterrupted(f"signal {signum}")
