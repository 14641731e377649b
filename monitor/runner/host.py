"""A run against a program on this machine (the demo app, or any JVM / native command).

JVM programs are spawned suspended and hooked at JNI_CreateJavaVM, so the first statement of `main`
is already observed; their traffic is routed through the capture proxy with the JVM's own proxy
properties and a truststore holding the interception CA.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from monitor.agent.programs import is_jvm_command, resolve_program
from monitor.agent.session import AgentHost, AgentOptions, kill_quietly, local_device, wait_for_exit
from monitor.capture.ca import DEFAULT_CONFDIR, TRUSTSTORE_PASSWORD, java_truststore
from monitor.capture.proxy import LOOPBACK, CaptureProxy, free_port
from monitor.data import CATALOGUE_FILE, load_catalogue
from monitor.errors import MonitorError
from monitor.hostart import HostArt, art_environment, is_art_command
from monitor.scenario.host import CONTROL_ENV
from monitor.scenario.witness import ScreenWitness
from monitor.runner.common import (RunResult, fetch_unopened_policy_links, record_gap, run_header, seal_run,
                                   signals_held, stop_signals_as_interrupt)
from monitor.store.writer import RunWriter

TARGET_LOG = "target.log"


@dataclass
class HostRunConfig:
    argv: list[str]
    out: Path
    duration: float | None = None
    app_package: str | None = None
    app_domains: list[str] = field(default_factory=list)
    block_upstream: bool = False
    ssl_insecure: bool = False
    confdir: Path = DEFAULT_CONFDIR
    catalogue: Path = CATALOGUE_FILE
    jvm: bool | None = None            # None: decide from the program name
    agent_options: AgentOptions = field(default_factory=AgentOptions)
    # Fetch the policy links the app showed but never opened, through the proxy, after the target ends.
    fetch_policy: bool = False
    # mitmproxy map_local specs: requests answered from local files (the demo's policy pages).
    local_answers: list[str] = field(default_factory=list)
    # Called with the run writer once the target runs: scenarios drive the target from here.
    driver: Callable[[RunWriter, "HostRunHandle"], None] | None = None
    # Variables added to the target's environment (the ART demo: the runtime's libraries and folders).
    env: dict[str, str] = field(default_factory=dict)
    # run.json's `runtime` ({"name": "hotspot"|"art"|"native", "version": …}); None: decided from the command.
    runtime: dict[str, Any] | None = None


@dataclass
class HostRunHandle:
    pid: int
    stop_requested: threading.Event
    control_port: int
    # The agent writes through it; a scenario attaches its target so first reads are photographed.
    witness: ScreenWitness | None = None


def jvm_options(proxy_port: int, truststore: Path) -> str:
    # The JVM bypasses proxies for localhost and 127.* by default; a never-matching nonProxyHosts
    # makes loopback servers (tests, local backends) go through the proxy too.
    props = {
        "http.proxyHost": LOOPBACK, "http.proxyPort": str(proxy_port),
        "https.proxyHost": LOOPBACK, "https.proxyPort": str(proxy_port),
        "http.nonProxyHosts": "consentmon.invalid",
        "javax.net.ssl.trustStore": str(truststore), "javax.net.ssl.trustStorePassword": TRUSTSTORE_PASSWORD,
    }
    return " ".join(f"-D{name}={value}" for name, value in props.items())


def target_environment(config: HostRunConfig, proxy: CaptureProxy, jvm: bool, control_port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    proxy_url = f"http://{LOOPBACK}:{proxy.port}"
    if jvm:
        existing = env.get("JAVA_TOOL_OPTIONS", "")
        env["JAVA_TOOL_OPTIONS"] = (existing + " " + jvm_options(proxy.port, java_truststore(config.confdir))).strip()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env[name] = proxy_url
    env["NO_PROXY"] = env["no_proxy"] = ""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        env[name] = str(proxy.ca_cert)
    if control_port is not None:
        env[CONTROL_ENV] = str(control_port)
    return env


def target_runtime(argv: list[str], jvm: bool) -> dict[str, Any]:
    """What runs the target, for run.json: HotSpot's `java -version`, host ART's runtime.json beside its launcher."""
    if is_art_command(argv):
        return HostArt.of_command(argv).runtime()
    if not jvm:
        return {"name": "native", "version": None}
    try:
        answer = subprocess.run([argv[0], "-version"], capture_output=True, text=True, timeout=30).stderr.splitlines()
    except (OSError, subprocess.SubprocessError):
        answer = []
    return {"name": "hotspot", "version": " / ".join(line.strip() for line in answer[:3:2]) or "unknown"}


def run_host(config: HostRunConfig) -> RunResult:
    with stop_signals_as_interrupt():
        return _run_host(config)


def _lost_targets(host: AgentHost) -> list[dict[str, Any]]:
    """Programs we spawned that are gone without the agent seeing them end (killed, crashed): their last
    moments may hold reads the agent had not sent yet."""
    return [{"pid": pid, "detach_reason": state.detach_reason, "crash": state.crash, "last_apis": list(state.recent_apis)}
            for pid, state in list(host.processes.items())
            if pid in host.roots and state.detached.is_set() and not state.ending.is_set()]


def _run_host(config: HostRunConfig) -> RunResult:
    argv = resolve_program(config.argv)
    art = is_art_command(argv)
    # Host ART is a Java VM too: hooked when its VM is created, told when it ends; its own agent bundle.
    jvm = (is_jvm_command(argv) or art) if config.jvm is None else config.jvm
    runtime = config.runtime or target_runtime(argv, jvm)
    catalogue = load_catalogue(config.catalogue)
    options = config.agent_options
    options.wait_for_jvm = jvm
    if art:
        options.bundle_variant = "host-art"
    options.own_package = options.own_package or config.app_package
    options.process_name = options.process_name or config.app_package or Path(argv[0]).name
    writer = RunWriter(config.out, run_info={
        **run_header(catalogue, Path(config.catalogue), variant=options.bundle_variant),
        "runtime": runtime,
        "target": {"kind": "host", "argv": argv, "command": shlex.join(argv), "jvm": jvm, "cwd": os.getcwd()},
        "app": {"package": config.app_package, "domains": config.app_domains},
        # method_code: the method as a message code (clock.method.<code>), so a report says it in its language.
        "clock": {"device": "host", "offset_ns": 0, "uncertainty_ns": 0, "method_code": "same_host",
                  "method": "the target runs on this host: agent and proxy read the same wall clock"},
    })
    target_log = writer.open_log(TARGET_LOG)
    log_lock = threading.Lock()

    def on_output(pid: int, fd: int, data: bytes) -> None:
        if data:
            with log_lock:
                if target_log.closed:
                    return  # output after the run ended (a child still writing): not this run's log any more
                target_log.write(data)
                target_log.flush()

    proxy = CaptureProxy(writer, config.out, confdir=config.confdir, block_upstream=config.block_upstream,
                         ssl_insecure=config.ssl_insecure, local_answers=config.local_answers).start()
    writer.write_run_info(agent_options={"unpin_tls": options.unpin_tls, "follow_children": options.follow_children,
                                      "unattached_programs": list(options.unattached_programs), "stealth": options.stealth})
    writer.write_run_info(proxy={"listen": f"{LOOPBACK}:{proxy.port}", "ca_cert": str(proxy.ca_cert),
                                 "connection_strategy": "lazy", "upstream": "blocked" if config.block_upstream else "forwarded"})
    device = local_device()
    host: AgentHost | None = None
    pid = -1
    exit_reason = "unknown"
    interrupted = False
    stop_requested = threading.Event()
    driver_thread: threading.Thread | None = None
    driver_error: list[BaseException] = []
    agent_summary: dict[int, dict[str, Any]] = {}
    gaps: list[dict[str, Any]] = []
    witness = ScreenWitness(writer)
    scratch = tempfile.TemporaryDirectory(prefix="consentmon-host-")
    try:
        host = AgentHost(device, witness, catalogue, options, on_output=on_output)
        control_port = free_port() if config.driver is not None else None
        env = target_environment(config, proxy, jvm, control_port)
        if art:
            env.update(art_environment(argv, Path(scratch.name)))
        env.update(config.env)
        pid = host.spawn(argv, env=env)
        writer.write_run_info(target={**writer.run_info["target"], "pid": pid})
        host.resume(pid)
        if config.driver is not None:
            def drive() -> None:
                try:
                    config.driver(writer, HostRunHandle(pid=pid, stop_requested=stop_requested,  # type: ignore[misc]
                                                        control_port=control_port, witness=witness))  # type: ignore[arg-type]
                except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread below
                    driver_error.append(exc)
            driver_thread = threading.Thread(target=drive, name="consentmon-scenario", daemon=True)
            driver_thread.start()
        deadline = None if config.duration is None else time.monotonic() + config.duration
        try:
            while True:
                host.check()
                proxy.check()
                if driver_error:
                    raise driver_error[0]
                if host.any_ending():
                    exit_reason = "target-ended"
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    exit_reason = "duration-elapsed"
                    break
                time.sleep(0.02)
        except KeyboardInterrupt:
            interrupted = True
            exit_reason = "interrupted"
        if exit_reason == "target-ended":
            # A JVM that ends tells the agent first (DestroyJavaVM, JVM_Halt); one that ended without telling
            # it was killed or crashed, and what it did in its last moments may not have reached the agent's
            # next batch. A native program's normal exit and a kill look alike to Frida: judged only when the
            # agent saw it fault (crash.ts: SIGSEGV, SIGABRT…), with the fault and the last hooks that fired.
            time.sleep(0.1)  # an `ending` message racing the detach notice
            for lost in _lost_targets(host):
                if not jvm and lost["crash"] is None:
                    continue
                exit_reason = "target-lost"
                crash = lost["crash"]
                how = (f"crashed: {crash.get('fault')} at {crash.get('address')} in {crash.get('module') or '?'}"
                       if crash is not None else "killed or crashed")
                last = (crash or {}).get("last_apis") or lost["last_apis"]
                record_gap(writer, gaps, "target-lost", f"pid {lost['pid']} ended without exiting "
                           f"({lost['detach_reason'] or 'no reason given'}): {how}", pid=lost["pid"],
                           crash=crash, last_apis=last)
        stop_requested.set()
        if driver_thread is not None:
            driver_thread.join(timeout=30)
        # Let requests the target made just before it ended reach the proxy's recorder.
        time.sleep(0.2)
        if config.fetch_policy:
            fetch_unopened_policy_links(writer, proxy)
        agent_summary = host.finish()
        # Stopped by the user (Ctrl-C, SIGTERM): the target is ended now, not given time to finish on its own.
        if not wait_for_exit(pid, timeout=1 if interrupted else 10):
            kill_quietly(device, pid)   # gone between the check and the kill: nothing to do
            wait_for_exit(pid, timeout=5)
            if not interrupted:
                exit_reason += "+killed"
        host.check()
        proxy.check()
    except MonitorError as error:
        exit_reason = "error"
        record_gap(writer, gaps, "run-stopped", error.message)
        if host is not None:
            agent_summary = host.finish()
        if pid > 0:
            kill_quietly(device, pid)
        raise
    except KeyboardInterrupt:
        # Stopped outside the recording loop (while starting, or while the agents flushed): the target is
        # not left running.
        interrupted, exit_reason = True, "interrupted"
        if pid > 0:
            kill_quietly(device, pid)
        raise
    finally:
        with signals_held():
            witness.close()
            if witness.shots or witness.errors:
                writer.write_run_info(evidence_screens={"shots": len(witness.shots), "errors": witness.errors})
            proxy.stop()
            scratch.cleanup()
            with log_lock:
                target_log.close()
            if host is not None:
                # Frida's local device outlives the run: its output handler goes with the run, or the next run's
                # target output would reach this run's closed log.
                try:
                    device.off("output", on_output)
                except ValueError:
                    pass  # not registered
            # Sealed on every exit, errors included: what was captured before a failure stays evidence.
            result = seal_run(writer, proxy, agent_summary, pid=pid, exit_reason=exit_reason, interrupted=interrupted,
                              gaps=gaps)
    return result


