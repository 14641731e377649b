"""A run against an app on an Android device or emulator.

Order matters: the proxy listens first (so the device has somewhere to send traffic), the device is
prepared inside a DeviceSession (every change journalled before it is made, undone on any exit), the
clock offset is measured, then the app is spawned by Frida so hooks are armed before its first
instruction; spawn gating catches its other processes (`:push`, `:remote`) before they run. The
scenario drives the app; the device is restored whatever happens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frida

from monitor.agent.session import AgentHost, AgentOptions
from monitor.capture.ca import DEFAULT_CONFDIR
from monitor.capture.proxy import LOOPBACK, CaptureProxy
from monitor.data import CATALOGUE_FILE, load_catalogue
from monitor.device import frida_server
from monitor.device.adb import AndroidDevice, pick_serial
from monitor.device.app import AppControl, LogcatCapture
from monitor.device.clock import clock_record, measure_offset
from monitor.device.session import DeviceSession, SetupOptions
from monitor.errors import DeviceError, MonitorError
from monitor.runner.crashes import AppCrashes
from monitor.runner.common import RunResult, fetch_unopened_policy_links, run_header, seal_run, stop_signals_as_interrupt
from monitor.scan import scan_for_run
from monitor.scenario.model import load_scenario
from monitor.scenario.runner import run_scenario
from monitor.scenario.target import Target
from monitor.scenario.witness import ScreenWitness
from monitor.store.files import ScreenFolder
from monitor.scenario.device import DeviceTarget
from monitor.store.writer import RunWriter

LOGCAT_FILE = "logcat.txt"


@dataclass
class DeviceRunConfig:
    package: str
    out: Path
    scenario: str = "first-launch-idle"
    serial: str | None = None
    apk: Path | None = None
    duration: float | None = None
    app_domains: list[str] = field(default_factory=list)
    frida_server: Path | None = None
    allow_download: bool = False
    block_upstream: bool = False
    unpin_tls: bool = False
    block_quic: bool = False   # reject UDP 443 on the device: HTTP/3 falls back to TCP, through the proxy
    fetch_policy: bool = False  # fetch the policy links the app showed but never opened, after the scenario
    confdir: Path = DEFAULT_CONFDIR
    catalogue: Path = CATALOGUE_FILE
    # This run's frida-server: pushed and started under this name, listening on this port of the device's
    # loopback, reached through `adb forward`. None: a fresh innocuous name / a random port for each run.
    frida_server_name: str | None = None
    frida_port: int | None = None
    # Hide the agent from anti-instrumentation probes (AgentOptions.stealth; hooks/README.md "Stealth").
    stealth: bool = False
    # Instead of the scenario: called once the app is instrumented, with the run writer and a handle on the
    # target, and the run lasts until it returns (the pytest fixture's live driving: the test's own UI
    # automation between marks). The scenario is then not run.
    driver: Callable[[RunWriter, "DeviceRunHandle"], None] | None = None


@dataclass
class DeviceRunHandle:
    target: Target                      # the app, launched by the driver when it wants (target.launch())
    stop_requested: threading.Event     # set when the run must end (duration, crash, Ctrl-C)


class InstrumentedTarget(DeviceTarget):
    """A DeviceTarget whose launches go through Frida: the app is spawned suspended, the agent armed,
    then resumed. Everything else (taps, HOME, permissions, dumps) is plain adb."""

    def __init__(self, app: AppControl, agents: AgentHost, frida_device: frida.core.Device) -> None:
        super().__init__(app, clear_first=True)
        self.agents = agents
        self.frida_device = frida_device
        self.pids: list[int] = []
        self.retired: set[int] = set()   # processes this run stopped itself (a relaunch): not crashes

    def launch(self) -> None:
        if self._clear_pending:
            self.app.clear()       # a true first run: no consent remembered from an earlier run
            self._clear_pending = False
        try:
            pid = self.frida_device.spawn(self.app.package)
        except (frida.NotSupportedError, frida.ExecutableNotFoundError, frida.ServerNotRunningError, frida.TransportError) as exc:
            raise DeviceError(f"Frida could not spawn {self.app.package}: {exc}",
                              hint="check `consentmon doctor`: frida-server running as root, same version as the host's frida") from exc
        self.agents.instrument(pid)
        self.agents.resume(pid)
        self.pids.append(pid)

    def relaunch(self) -> None:
        self.retired.update(self.pids)
        self.app.force_stop()
        self.launch()


def _frida_device(serial: str, remote: str | None = None) -> frida.core.Device:
    """Frida's device: over USB (frida-server on its own port), or `remote` (host:port of the adb forward to a
    renamed frida-server on a port of its own), checked by asking it for its system parameters."""
    if remote is None:
        try:
            return frida.get_device(serial, timeout=10)
        except (frida.InvalidArgumentError, frida.TimedOutError, frida.ServerNotRunningError) as exc:
            raise DeviceError(f"Frida does not see device {serial}: {exc}",
                              hint="Frida talks to the adb server on port 5037: `adb devices` must list the device") from exc
    manager = frida.get_device_manager()
    try:
        device = manager.add_remote_device(remote)
        device.query_system_parameters()
        return device
    except (frida.InvalidArgumentError, frida.TimedOutError, frida.ServerNotRunningError, frida.TransportError,
            frida.ProtocolError, frida.NotSupportedError) as exc:
        _forget_remote(remote)
        raise DeviceError(f"Frida cannot reach the run's frida-server at {remote} (adb forward to device {serial}): {exc}",
                          hint=f"consentmon doctor --serial {serial}; the frida-server must run as root") from exc


def _forget_remote(remote: str) -> None:
    try:
        frida.get_device_manager().remove_remote_device(remote)
    except frida.InvalidArgumentError:
        pass   # never added, or already removed


def run_device(config: DeviceRunConfig) -> RunResult:
    # SIGTERM/SIGHUP anywhere in the run stop it as Ctrl-C does: the run is sealed and, inside the device
    # session (which turns SIGTERM into an interrupt itself), the device restored.
    with stop_signals_as_interrupt():
        return _run_device(config)


def _run_device(config: DeviceRunConfig) -> RunResult:
    scenario = load_scenario(config.scenario)
    catalogue = load_catalogue(config.catalogue)
    serial = pick_serial(config.serial)
    device = AndroidDevice(serial)
    device.require_online()
    props = device.props()
    writer = RunWriter(config.out, run_info={
        **run_header(catalogue, Path(config.catalogue)),
        "target": {"kind": "device", "serial": serial, "model": props.get("ro.product.model"),
                   "android": props.get("ro.build.version.release"), "sdk": props.get("ro.build.version.sdk"),
                   "abi": props.get("ro.product.cpu.abi"), "fingerprint": props.get("ro.build.fingerprint")},
        "app": {"package": config.package, "domains": config.app_domains},
        "scenario": {"name": scenario.name, "description": scenario.description},
        # What runs the app, named as host runs name theirs (hotspot / art / native): a phone's ART.
        "runtime": {"name": "art", "version": f"Android {props.get('ro.build.version.release', '?')} "
                                              f"(API {props.get('ro.build.version.sdk', '?')}) on the device"},
    })
    proxy = CaptureProxy(writer, config.out, confdir=config.confdir, block_upstream=config.block_upstream).start()
    writer.write_run_info(proxy={"listen": f"{LOOPBACK}:{proxy.port}", "reached_via": "adb reverse",
                                 "upstream": "blocked" if config.block_upstream else "forwarded"})
    # The agent writes through the witness: the first read of each category is photographed as it happens.
    witness = ScreenWitness(writer)
    exit_reason = "scenario-finished"
    interrupted = False
    agent_summary: dict[int, dict[str, Any]] = {}
    agents: AgentHost | None = None
    clock_start: dict[str, Any] | None = None
    clock_end: dict[str, Any] | None = None
    remotes: list[str] = []
    try:
        with DeviceSession(device) as session:
            setup = session.setup(SetupOptions(proxy_port=proxy.port, ca_cert=proxy.ca_cert,
                                               frida_server=config.frida_server, allow_download=config.allow_download,
                                               block_quic=config.block_quic,
                                               frida_server_name=config.frida_server_name or frida_server.random_server_name(),
                                               frida_port=config.frida_port))
            writer.write_run_info(device_setup={"steps": setup.steps, "facts": setup.facts, "quic_blocked": config.block_quic})
            clock_start = measure_offset(device)
            app = AppControl(device, config.package)
            if config.apk is not None:
                # The static pre-scan (permissions, self-start receivers, SDKs in the dex, packers, CA route)
                # is evidence of what the tested build declared, beside what the run then observes.
                writer.write_run_info(apk=app.install(config.apk).as_run_info(), apk_scan=scan_for_run(config.apk))
            frida_remote = (setup.facts.get("frida") or {}).get("remote")
            frida_device = _frida_device(serial, frida_remote)
            if frida_remote is not None:
                remotes.append(frida_remote)
            options = AgentOptions(own_package=config.package, unpin_tls=config.unpin_tls, stealth=config.stealth)
            writer.write_run_info(agent_options={"unpin_tls": config.unpin_tls, "follow_children": options.follow_children,
                                              "unattached_programs": list(options.unattached_programs),
                                              "stealth": config.stealth})
            # Agent time stamps are device time; subtracting the offset puts them on the host clock.
            agents = AgentHost(frida_device, witness, catalogue, options, clock_offset_ns=-clock_start["offset_ns"])
            _gate_spawns(frida_device, agents, config.package)
            target = InstrumentedTarget(app, agents, frida_device)
            witness.attach(target, ScreenFolder(writer.screens_dir))
            stop = threading.Event()
            with LogcatCapture(device, config.out / LOGCAT_FILE):
                # The app dying under the hooks: recorded with logcat's crash, its tombstone and the last hooks
                # that fired, and restarted once (monitor/runner/crashes.py).
                crashes = AppCrashes(device, config.package, writer, agents, target, config.out / LOGCAT_FILE)
                deadline_timer = None
                if config.duration is not None:
                    deadline_timer = threading.Timer(config.duration, stop.set)
                    deadline_timer.start()
                try:
                    if config.driver is not None:
                        config.driver(writer, DeviceRunHandle(target=target, stop_requested=stop))
                        writer.write_run_info(scenario={"name": "driven", "ok": True, "driven_by": "driver"})
                    else:
                        result = run_scenario(scenario, target, writer, writer.screens_dir,
                                              should_stop=lambda: stop.is_set() or agents.failure is not None or crashes.check(),
                                              sleep=lambda seconds: stop.wait(seconds))
                        writer.write_run_info(scenario={"name": scenario.name, "ok": result.ok, "consent": result.consent,
                                                        "failures": [{"step": o.index, "error": o.error} for o in result.failures]})
                    if stop.is_set():
                        exit_reason = "duration-elapsed"
                    elif crashes.gone:
                        exit_reason = "app-crashed"
                except KeyboardInterrupt:
                    interrupted, exit_reason = True, "interrupted"
                finally:
                    if deadline_timer is not None:
                        deadline_timer.cancel()
                    crashes.relaunches_left = 0   # the scenario is over: a death now is recorded, not restarted
                    crashes.check()
                    crashes.record()       # crashes of its other processes (`:push`) too
                    writer.write_run_info(app_crashes=crashes.summary())
                    agent_summary = agents.finish()
                    app.force_stop()
            if config.fetch_policy:
                fetch_unopened_policy_links(writer, proxy)
            clock_end = measure_offset(device)
            agents.check()
            proxy.check()
    except MonitorError:
        exit_reason = "error"
        raise
    finally:
        for remote in remotes:
            _forget_remote(remote)
        witness.close()
        writer.write_run_info(evidence_screens={"shots": len(witness.shots), "errors": witness.errors})
        proxy.stop()
        result = seal_run(writer, proxy, agent_summary, pid=-1, exit_reason=exit_reason, interrupted=interrupted,
                          clock=clock_record(clock_start, clock_end) if clock_start
                          else {"note": "not measured: the run failed before", "note_code": "not_measured"})
    return result


def _gate_spawns(frida_device: frida.core.Device, agents: AgentHost, package: str) -> None:
    """Every other process of the app (`pkg:push`, `pkg:remote`, isolated services) is held at spawn,
    instrumented, then let go; processes of other apps are let go untouched."""

    def on_spawn(spawn: frida.core.Spawn) -> None:
        identifier = spawn.identifier or ""
        try:
            if identifier == package or identifier.startswith(package + ":"):
                agents.instrument(spawn.pid)
        except MonitorError as exc:
            agents.failure = exc
        finally:
            try:
                frida_device.resume(spawn.pid)
            except frida.InvalidOperationError:
                return  # it was never held, or already resumed

    frida_device.on("spawn-added", on_spawn)
    try:
        frida_device.enable_spawn_gating()
    except frida.NotSupportedError as exc:
        raise DeviceError(f"spawn gating is not available: {exc}", hint="use a rooted device with frida-server") from exc
    except (frida.ServerNotRunningError, frida.TransportError) as exc:
        raise DeviceError(f"Frida cannot reach frida-server on {frida_device.id}: {exc}",
                          hint=f"consentmon doctor --serial {frida_device.id} (frida-server must run as root)") from exc
