"""pytest plugin (entry point `pytest11`): a `consent_monitor` fixture that records a monitored run in a test.

    def test_no_collection_before_consent(consent_monitor):
        run = consent_monitor.device(scenario="first-launch-idle")   # --consentmon-serial, --consentmon-app
        assert not run.findings(rule="before-consent")

    def test_demo_refusal_is_respected(consent_monitor):
        with consent_monitor.demo(consent=None) as run:              # a live run: the test drives it
            run.mark("privacy dialog shown")
            run.steps({"consent": "refuse"})
            run.mark("refused")
        assert not run.findings(rule="after-refusal", sdk="umeng")

A run is recorded exactly as `consentmon run` records it (real Frida, real mitmproxy, a sealed run
directory) and analysed as `consentmon analyze` does, the first time the test asks for a result. When the
test fails, its run directories, with findings.json and report.html, are copied under the artifacts
directory (`--consentmon-artifacts`, ini `consentmon_artifacts`, default .consentmon-artifacts/) and the
paths are printed in the failure report.

Loaded by pytest only (the package never imports pytest); the runner, the analysis and the report are
imported when a test first uses the fixture, so an unrelated test session pays nothing for it.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import pandas as pd

    from monitor.analysis.cases import Case
    from monitor.analysis.findings import Finding, Findings
    from monitor.devci.gate import GateResult
    from monitor.runner.common import RunResult
    from monitor.scenario.runner import ScenarioResult

ARTIFACTS_DEFAULT = ".consentmon-artifacts"
KEEP_CHOICES = ("failed", "always", "never")
SECTION = "consentmon"
# How long a run may take before the fixture gives up waiting (the demo: 120 s, as `consentmon demo`).
DEFAULT_DURATION = 120.0
_MONITOR = pytest.StashKey["ConsentMonitor"]()
_SESSION = pytest.StashKey[list["ConsentMonitor"]]()


class ConsentmonRunError(Exception):
    """A monitored run could not be driven: a step failed, or the run is not live."""


# ---- options ---------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("consentmon", "consentmon: PI reads and sends against consent")
    group.addoption("--consentmon-serial", dest="consentmon_serial", default=os.environ.get("CONSENTMON_SERIAL"),
                    help="device serial for consent_monitor.device() (default: $CONSENTMON_SERIAL, else the only device)")
    group.addoption("--consentmon-app", dest="consentmon_app", default=os.environ.get("CONSENTMON_APP"),
                    help="package of the app under test for consent_monitor.device() (default: $CONSENTMON_APP)")
    group.addoption("--consentmon-apk", dest="consentmon_apk", default=os.environ.get("CONSENTMON_APK"),
                    help="install this APK before each device run (default: $CONSENTMON_APK)")
    group.addoption("--consentmon-artifacts", dest="consentmon_artifacts", default=None,
                    help=f"where the run directories and reports of failed tests are kept (default: ini consentmon_artifacts, else {ARTIFACTS_DEFAULT})")
    group.addoption("--consentmon-keep", dest="consentmon_keep", default=None, choices=KEEP_CHOICES,
                    help="keep runs as artifacts when a test failed (default), always, or never")
    group.addoption("--consentmon-sarif", dest="consentmon_sarif", default=None, metavar="FILE",
                    help="at the end of the session, write one SARIF 2.1.0 file with a run per recorded run "
                         "(for github/codeql-action/upload-sarif)")
    group.addoption("--consentmon-sarif-anchor", dest="consentmon_sarif_anchor", default=None, metavar="FILE",
                    help="repository file the SARIF results point at, e.g. app/src/main/AndroidManifest.xml")
    parser.addini("consentmon_artifacts", f"directory for the runs of failed tests (default {ARTIFACTS_DEFAULT})",
                  default=ARTIFACTS_DEFAULT)
    parser.addini("consentmon_keep", "failed, always or never (default failed)", default="failed")


def pytest_configure(config: pytest.Config) -> None:
    _keep_mode(config)  # a wrong consentmon_keep is a usage error at the start, not an internal error at the end


def _artifacts_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("consentmon_artifacts") or config.getini("consentmon_artifacts") or ARTIFACTS_DEFAULT
    path = Path(chosen)
    return path if path.is_absolute() else Path(config.rootpath) / path


def _keep_mode(config: pytest.Config) -> str:
    mode = config.getoption("consentmon_keep") or config.getini("consentmon_keep") or "failed"
    if mode not in KEEP_CHOICES:
        raise pytest.UsageError(f"consentmon_keep is one of {', '.join(KEEP_CHOICES)}, not {mode!r}")
    return mode


# ---- results ---------------------------------------------------------------------------------------------


class FindingList(list):  # type: ignore[type-arg]
    """Findings, shown in an assertion message as their count and one short line each (pytest cuts long reprs
    unless -vv, so the count comes first), not as pydantic's full dump."""

    def __repr__(self) -> str:
        if not self:
            return "[]"
        shown = "; ".join(f"{f.rule} {f.sdk.id or f.sdk.owner} {f.category or '-'} {_short(f.api or f.host or '')}"
                          f" ({f.consent_state or '-'})" for f in self)
        return f"[{len(self)} finding{'s' if len(self) != 1 else ''}: {shown}]"


class CaseList(list):  # type: ignore[type-arg]
    """Cases, shown as their count and sentences in an assertion message."""

    def __repr__(self) -> str:
        if not self:
            return "[]"
        shown = "; ".join(c.sentence.get("en", c.rule) for c in self)
        return f"[{len(self)} case{'s' if len(self) != 1 else ''}: {shown}]"


def _short(api: str) -> str:
    """android.telephony.TelephonyManager.getDeviceId → TelephonyManager.getDeviceId; hosts stay whole."""
    parts = api.split(".")
    if len(parts) > 2 and parts[-1][:1].islower() and parts[-2][:1].isupper():
        return ".".join(parts[-2:])
    return api


def _sdk_matches(finding: Finding, wanted: str, subject_of: Any) -> bool:
    ref = finding.sdk
    if wanted == "app":
        return ref.owner == "app"
    if wanted == "unknown":
        return ref.owner == "unknown"
    return bool(ref.id) and (ref.id == wanted or subject_of(ref.id) == wanted)


class MonitoredRun:
    """One recorded run: live while the target runs (mark, steps, target), then a result to assert on.

    Results are read the first time they are asked for, after the target ended: `findings(...)`, `cases`,
    `reads`, `flows`, `gate(...)`, `dir`."""

    def __init__(self, name: str, out: Path, *, kind: str, controllable: bool, nodeid: str) -> None:
        self.name = name
        self.dir = out
        self.kind = kind
        self.nodeid = nodeid
        self._controllable = controllable
        self._thread: threading.Thread | None = None
        self._result: RunResult | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._release = threading.Event()
        self._writer: Any = None
        self._handle: Any = None
        self._target: Any = None
        self._findings: Findings | None = None
        self._frames: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._step_runs = 0

    # -- the live run --

    def _start(self, work: Any) -> None:
        def main() -> None:
            try:
                self._result = work()
            except BaseException as error:  # noqa: BLE001 - handed to the test thread in wait()
                self._error = error
            finally:
                # What the finished capture left (its loop's tasks, mitmproxy's objects) is collected now, not
                # in the middle of the next run's proxy start-up, where a complaint logged counts as an error.
                gc.collect()
                self._ready.set()

        self._thread = threading.Thread(target=main, name=f"consentmon-{self.name}", daemon=True)
        self._thread.start()

    def _drive(self, writer: Any, handle: Any, scenario: str | None) -> None:
        """run_host's driver: hands the live writer to the test, runs the scenario or waits until released."""
        self._writer, self._handle = writer, handle
        self._ready.set()
        if scenario is not None:
            from monitor.runner.hostscenario import scenario_driver
            scenario_driver(scenario)(writer, handle)
            return
        while not self._release.is_set() and not handle.stop_requested.is_set():
            self._release.wait(0.05)
        if handle.stop_requested.is_set():
            return  # the target ended on its own
        self._end_target()

    def _drive_device(self, writer: Any, handle: Any) -> None:
        """run_device's driver: launches the app and hands the live run to the test until it is released (the
        test's own UI automation — uiautomator2, Appium, adb input — runs meanwhile; marks go in the run)."""
        self._writer, self._handle, self._target = writer, handle, handle.target
        handle.target.launch()
        self._ready.set()
        while not self._release.is_set() and not handle.stop_requested.is_set():
            self._release.wait(0.05)

    def _end_target(self) -> None:
        from monitor.errors import TargetError

        handle = self._handle
        if self._controllable:
            try:
                self.target.force_stop()
                return
            except TargetError:
                pass  # not listening (any more): end it the plain way
        try:
            os.kill(handle.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # already gone

    @property
    def live(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._writer is not None

    def _require_live(self, what: str) -> None:
        if (self.kind != "device" or self._controllable) and self._thread is not None:
            # The target is starting (a device app: setup, spawn and launch first): its writer comes with it.
            self._ready.wait(timeout=60 if self.kind != "device" else 300)
        if self._error is not None:
            raise self._error              # the run never started (no such program, no device…): say why
        if not self.live:
            how = ("this device run is driven by its scenario (ask for device(..., drive=True) to drive it)"
                   if self.kind == "device" and not self._controllable
                   else "the run has ended" if self._thread is not None and not self._thread.is_alive() else "the run has not started")
            raise ConsentmonRunError(f"{what}: {how}")

    @property
    def target(self) -> Any:
        """The program as a scenario target (tap_point, ui_dump, home, back, screenshot…), for your own driving."""
        self._require_live("no target to drive")
        if self._target is None:
            from monitor.scenario.host import HostTarget
            self._target = HostTarget(self._handle.control_port, should_stop=self._handle.stop_requested.is_set)
        return self._target

    def mark(self, name: str, **details: Any) -> int:
        """Write a scenario mark now (the run's clock): it shows on the report's timeline; returns its seq."""
        from monitor.events import KIND_MARK

        self._require_live(f"cannot mark {name!r}")
        now = time.time_ns()
        payload = {"mark": name, "by": "pytest", "test": self.nodeid, "ok": True, "error": None,
                   "started_ns": now, "ended_ns": now, **details}
        return int(self._writer.append({"source": "scenario", "kind": KIND_MARK, "ts": now, "api": "mark",
                                        "category": "step", "payload": payload}))

    def steps(self, *steps: Any, on_error: str = "stop", consent_timeout: float = 60.0) -> ScenarioResult:
        """Run scenario steps now, as a scenario file lists them: `run.steps({"consent": "agree"}, {"wait": 2}, "home")`.
        A consent step waits up to `consent_timeout` seconds for the dialog (a program starting under Frida on a
        loaded CI machine can take a while). Raises ConsentmonRunError when a step failed (the run records the
        failure either way)."""
        from monitor.scenario.model import Scenario
        from monitor.scenario.runner import run_scenario

        self._require_live("cannot run steps")
        self._step_runs += 1
        scenario = Scenario.model_validate({"name": f"pytest-{self._step_runs}", "on_error": on_error,
                                            "consent_timeout": consent_timeout, "steps": list(steps)})
        stop = self._handle.stop_requested
        result = run_scenario(scenario, self.target, self._writer, self._writer.screens_dir, should_stop=stop.is_set,
                              sleep=lambda seconds: stop.wait(seconds))
        if not result.ok:
            failed = "; ".join(f"step {o.index} {o.name}: {o.error}" for o in result.failures) or "interrupted"
            raise ConsentmonRunError(f"scenario steps failed: {failed}")
        return result

    def stop(self, timeout: float | None = None) -> MonitoredRun:
        """End the target now (its control channel's quit, else SIGTERM) and wait for the sealed run."""
        self._release.set()
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> MonitoredRun:
        """Wait until the target ended and the run is sealed; re-raises what stopped the run."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise ConsentmonRunError(f"the run {self.name} is still going after {timeout} s")
        if self._error is not None:
            raise self._error
        return self

    def __enter__(self) -> MonitoredRun:
        self._ready.wait(timeout=60)
        if self._error is not None:
            self.wait()
        return self

    def _end(self) -> MonitoredRun:
        # A run waiting for the test (driven, or a scenario) is ended by it; any other ends by itself.
        return self.stop() if self._controllable else self.wait()

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if error is not None:
            try:
                self._end()
            except Exception:  # noqa: BLE001 - the test's own error is the one to report
                pass
            return
        self._end()

    # -- results --

    @property
    def result(self) -> RunResult | None:
        """What the runner said (events, flows, exit reason); None until the run ended."""
        return self._result

    @property
    def analysed(self) -> Findings:
        """The Findings of the run (findings.json, analysed now when the run has none)."""
        if self._findings is None:
            from monitor.devci.runs import run_findings

            self._end()
            self._findings = run_findings(self.dir)
        return self._findings

    @property
    def cases(self) -> CaseList:
        return CaseList(self.analysed.cases)

    def findings(self, rule: str | None = None, sdk: str | None = None, *, category: str | None = None,
                 severity: str | None = None) -> FindingList:
        """Findings of a rule, by an SDK (its id or its family's, e.g. "umeng"; "app" for the app itself,
        "unknown" for code of no known SDK), of a PI category, of a severity — each filter optional."""
        from monitor.data import load_sdks

        subject_of = load_sdks().subject_of
        chosen = [f for f in self.analysed.findings
                  if (rule is None or f.rule == rule) and (category is None or f.category == category)
                  and (severity is None or f.severity == severity)
                  and (sdk is None or _sdk_matches(f, sdk, subject_of))]
        return FindingList(chosen)

    def gate(self, fail_on: str | Sequence[str] = "any", baseline: str | Path | None = None) -> GateResult:
        """The CI gate over this run's cases, as `--fail-on`/`--baseline` apply it: `assert not run.gate("high").failing`."""
        from monitor.data import load_rules
        from monitor.devci import evaluate, load_baseline, parse_fail_on

        rules = [rule.id for rule in load_rules().rules]
        return evaluate(self.analysed.cases, parse_fail_on(fail_on, rules),
                        load_baseline(baseline) if baseline is not None else None)

    def _dataframes(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._frames is None:
            self._end()
            self._frames = _run_frames(self.dir, self.analysed)
        return self._frames

    @property
    def reads(self) -> pd.DataFrame:
        """Every PI read: ts, time, seq, process, thread, category, api, value, owner (app/sdk/unknown/platform),
        sdk_id, frame, consent_state, background, stack."""
        return self._dataframes()[0]

    @property
    def flows(self) -> pd.DataFrame:
        """Every flow: flow_id, ts, time, method, url, host, status, error, consent_state, and pi (the PI
        categories findings found in it)."""
        return self._dataframes()[1]

    def report(self, lang: str = "zh") -> Path:
        """Write RUN_DIR/report.html and return its path."""
        from monitor.report.html import write_html

        return write_html(self.dir, self.analysed, lang=lang)

    def __repr__(self) -> str:
        state = "live" if self.live else "ended" if self._result is not None else "not started"
        return f"<MonitoredRun {self.name} {state} at {self.dir}>"


def _run_frames(run_dir: Path, findings: Findings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reads and flows of a run on the analysis' clock, with their consent state and attribution."""
    import pandas as pd

    from monitor.analysis.attribution import Attributor, attribute_events
    from monitor.analysis.consent import consent_history, mark_consent
    from monitor.analysis.timeline import background_intervals, build_timeline, mark_background
    from monitor.data import load_attribution, load_consent_words, load_rules, load_sdks
    from monitor.store.reader import read_run

    run = read_run(run_dir)
    read_columns = ["ts", "time", "seq", "process", "pid", "thread", "category", "api", "value", "owner", "sdk_id",
                    "frame", "consent_state", "background", "stack"]
    flow_columns = ["flow_id", "ts", "time", "method", "url", "host", "status", "error", "consent_state", "pi"]
    if not len(run.events):
        return pd.DataFrame(columns=read_columns), pd.DataFrame(columns=flow_columns)
    settings = load_rules().settings
    app = run.info.get("app") if isinstance(run.info.get("app"), dict) else {}
    timeline = build_timeline(run.events)
    intervals = background_intervals(timeline, grace_ns=int(settings.background_grace_s * 1e9), home_steps=settings.home_steps)
    timeline = mark_background(timeline, intervals)
    timeline = mark_consent(timeline, consent_history(timeline, words=load_consent_words(), settings=settings))
    timeline = attribute_events(timeline, Attributor(sdks=load_sdks(), table=load_attribution(), app_package=app.get("package")),
                                kinds=("pi_read",))
    pi = timeline[timeline["is_pi"].astype(bool)]
    reads = pd.DataFrame({
        "ts": pi["ts"].astype("int64"), "time": pd.to_datetime(pi["ts"], unit="ns", utc=True), "seq": pi["seq"],
        "process": pi["process"], "pid": pi["pid"], "thread": pi["thread"], "category": pi["category"], "api": pi["api"],
        "value": pi["value"], "owner": pi["owner"], "sdk_id": pi["sdk_id"], "frame": pi["sdk_frame"],
        "consent_state": pi["consent_state"], "background": pi["background"], "stack": pi["stack"],
    }).reset_index(drop=True)

    net = timeline[(timeline["source"] == "net") & (timeline["kind"] == "flow")]
    state_of = dict(zip(net["flow_id"].astype(str), net["consent_state"], strict=False))
    pi_of: dict[str, list[str]] = {}
    for finding in findings.findings:
        for flow_id in finding.evidence.flow_ids:
            if finding.category and finding.category not in pi_of.setdefault(flow_id, []):
                pi_of[flow_id].append(finding.category)
    rows = [{"flow_id": str(flow.get("flow_id")), "ts": flow.get("ts_request_ns"), "method": flow.get("method"),
             "url": flow.get("url"), "host": flow.get("host"), "status": flow.get("status"), "error": flow.get("error"),
             "consent_state": state_of.get(str(flow.get("flow_id"))), "pi": pi_of.get(str(flow.get("flow_id")), [])}
            for flow in run.flows]
    flows = pd.DataFrame(rows, columns=[c for c in flow_columns if c != "time"])
    flows.insert(2, "time", pd.to_datetime(flows["ts"], unit="ns", utc=True))
    return reads, flows.sort_values("ts", kind="stable").reset_index(drop=True)


# ---- the fixture -----------------------------------------------------------------------------------------


class ConsentMonitor:
    """What the `consent_monitor` fixture gives a test: start runs (demo, host command, device), each in its
    own directory under the test's tmp_path; the runs of a failed test are kept as artifacts."""

    def __init__(self, root: Path, *, nodeid: str, serial: str | None, app: str | None, apk: str | None) -> None:
        self.root = root
        self.nodeid = nodeid
        self.serial = serial
        self.app = app
        self.apk = apk
        self.runs: list[MonitoredRun] = []

    def _new(self, name: str, *, kind: str, controllable: bool) -> MonitoredRun:
        safe = re.sub(r"[^\w.-]+", "-", name).strip("-") or "run"
        out = self.root / f"{len(self.runs) + 1:02d}-{safe}"
        run = MonitoredRun(safe, out, kind=kind, controllable=controllable, nodeid=self.nodeid)
        self.runs.append(run)
        return run

    def host(self, argv: Sequence[str], *, app_package: str | None = None, app_domains: Iterable[str] = (),
             scenario: str | None = None, duration: float | None = DEFAULT_DURATION, offline: bool = True,
             ssl_insecure: bool = False, controllable: bool = False, name: str | None = None,
             **config: Any) -> MonitoredRun:
        """Record a program on this machine (JVM programs are hooked before `main`), as `consentmon run --host`.
        It runs in the background: drive it (`mark`, `steps`, `target` — the program must listen on
        $CONSENTMON_CONTROL_PORT, `controllable=True`), or just ask for results, which waits for it to end.
        `offline` answers requests locally; extra keywords go to HostRunConfig."""
        from monitor.runner.host import HostRunConfig, run_host

        run = self._new(name or Path(argv[0]).name, kind="host", controllable=controllable or scenario is not None)
        host_config = HostRunConfig(argv=list(argv), out=run.dir, duration=duration, app_package=app_package,
                                    app_domains=list(app_domains), block_upstream=offline, ssl_insecure=ssl_insecure,
                                    driver=lambda writer, handle: run._drive(writer, handle, scenario), **config)
        run._start(lambda: run_host(host_config))
        return run

    def demo(self, consent: str | None = "agree", scenario: str | None = None, *, unpin_tls: bool = False,
             duration: float | None = None) -> MonitoredRun:
        """The built-in demo app, as `consentmon demo`: consent "agree" or "refuse" (the demo answers by itself),
        or None (it waits for the test: `run.steps({"consent": "agree"})`, or `scenario`)."""
        from monitor.agent.session import AgentOptions
        from monitor.demo import DEMO_APP_DOMAINS, DEMO_PACKAGE, build_demo_app, demo_command, demo_local_answers

        if consent not in ("agree", "refuse", None):
            raise ValueError(f"consent is 'agree', 'refuse' or None, not {consent!r}")
        waits = consent is None or scenario is not None
        argv = demo_command(build_demo_app(), consent=None if waits else consent)
        name = f"demo-{scenario or consent or 'driven'}"
        return self.host(argv, app_package=DEMO_PACKAGE, app_domains=DEMO_APP_DOMAINS, scenario=scenario,
                         duration=duration or (600 if waits else DEFAULT_DURATION), offline=True, controllable=waits,
                         name=name, local_answers=demo_local_answers(), fetch_policy=True,
                         agent_options=AgentOptions(unpin_tls=unpin_tls))

    def device(self, app: str | None = None, *, serial: str | None = None, scenario: str = "first-launch-idle",
               apk: str | Path | None = None, duration: float | None = None, app_domains: Iterable[str] = (),
               offline: bool = False, drive: bool = False, **config: Any) -> MonitoredRun:
        """Record the app on a device or emulator, driven by `scenario` (a built-in name or a YAML file), as
        `consentmon run --serial S --app PKG --scenario NAME`; with `drive=True` the test drives it instead: the
        app is launched, `run.target` (tap_point, ui_dump, home…), `run.mark()` and `run.steps()` work, and so
        does the test's own UI automation against the device, until `run.stop()` or the `with` block ends. The
        package and serial default to --consentmon-app / --consentmon-serial."""
        from monitor.runner.device import DeviceRunConfig, run_device

        package = app or self.app
        if not package:
            raise pytest.UsageError("consent_monitor.device() needs the app: pass app=... or --consentmon-app PKG")
        chosen_apk = apk or self.apk
        run = self._new(f"{package}-{'driven' if drive else Path(str(scenario)).stem}", kind="device", controllable=drive)
        if drive:
            config["driver"] = run._drive_device
        device_config = DeviceRunConfig(package=package, out=run.dir, scenario=scenario, serial=serial or self.serial,
                                        apk=Path(chosen_apk) if chosen_apk else None, duration=duration,
                                        app_domains=list(app_domains), block_upstream=offline, **config)
        run._start(lambda: run_device(device_config))
        return run

    def open(self, run_dir: str | Path) -> MonitoredRun:
        """An existing run directory (recorded earlier, or by `consentmon run`), for assertions only."""
        run = MonitoredRun(Path(run_dir).name, Path(run_dir), kind="existing", controllable=False, nodeid=self.nodeid)
        self.runs.append(run)
        return run

    # -- after the test --

    def finish_all(self) -> None:
        for run in self.runs:
            if run._thread is not None and run._thread.is_alive():
                try:
                    run.stop(timeout=120)
                except Exception:  # noqa: BLE001 - teardown ends what it can; the test reported its own error
                    pass

    def keep(self, destination: Path) -> list[str]:
        """Copy every run (analysed, with report.html) under `destination`; lines saying where each went."""
        lines = []
        self.finish_all()
        destination.mkdir(parents=True, exist_ok=True)
        for run in self.runs:
            if not run.dir.exists():
                lines.append(f"{run.name}: no run directory was written ({run.dir})")
                continue
            note = ""
            try:
                report = run.report()
                note = f"\n  report:        {destination / run.dir.name / report.name}"
            except Exception as error:  # noqa: BLE001 - the evidence is kept even when it cannot be analysed
                note = f"\n  (no report: {str(error).splitlines()[0] if str(error) else type(error).__name__})"
            kept = destination / run.dir.name
            if kept.resolve() != run.dir.resolve():
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(run.dir, kept)
            lines.append(f"{run.name}: run directory kept: {kept}{note}")
        return lines


def _test_dir_name(nodeid: str) -> str:
    return re.sub(r"[^\w.\[\]-]+", "_", nodeid).strip("_")[:150] or "test"


@pytest.fixture
def consent_monitor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsentMonitor]:
    """Start monitored runs in a test: `consent_monitor.demo(...)`, `.host([...])`, `.device(...)`."""
    config = request.config
    monitor = ConsentMonitor(tmp_path / "consentmon", nodeid=request.node.nodeid,
                             serial=config.getoption("consentmon_serial"), app=config.getoption("consentmon_app"),
                             apk=config.getoption("consentmon_apk"))
    request.node.stash[_MONITOR] = monitor
    config.stash.setdefault(_SESSION, []).append(monitor)
    yield monitor
    monitor.finish_all()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    monitor = item.stash.get(_MONITOR, None)
    if monitor is None or not monitor.runs or report.when == "teardown":
        return report
    mode = _keep_mode(item.config)
    wanted = mode == "always" and report.when == "call" or mode == "failed" and report.failed
    if not wanted:
        return report
    destination = _artifacts_dir(item.config) / _test_dir_name(item.nodeid)
    try:
        lines = monitor.keep(destination)
    except Exception as error:  # noqa: BLE001 - never turn a test's report into an internal error
        lines = [f"could not keep the runs under {destination}: {error}"]
    report.sections.append((SECTION, "\n".join(lines)))
    report.user_properties.append(("consentmon_artifacts", str(destination)))
    return report


def session_sarif(monitors: Iterable[ConsentMonitor], *, anchor: str | None = None, lang: str = "en") -> tuple[dict[str, Any], list[str]]:
    """One SARIF log with a run per recorded run; each run's category names its test and run, as GitHub code
    scanning wants one category per run in a file. Returns the log and a line per run it could not add."""
    from monitor.report.sarif import SARIF_SCHEMA_URI, SARIF_VERSION, run_sarif

    runs: list[dict[str, Any]] = []
    problems = []
    for monitor in monitors:
        for run in monitor.runs:
            if not (run.dir / "manifest.json").exists():
                continue  # never recorded (it failed to start): nothing to report
            try:
                log = run_sarif(run.dir, run.analysed, lang=lang, anchor=anchor)
            except Exception as error:  # noqa: BLE001 - one broken run must not lose the others
                problems.append(f"left out of the SARIF: {run.dir}: {error}")
                continue
            sarif_run = log["runs"][0]
            package = ((run.analysed.run.get("app") or {}).get("package") or "app") if isinstance(run.analysed.run.get("app"), dict) else "app"
            sarif_run["automationDetails"] = {"id": f"consentmon/{package}/{_test_dir_name(monitor.nodeid)}/{run.name}/"}
            sarif_run.setdefault("properties", {})["test"] = monitor.nodeid
            runs.append(sarif_run)
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": runs}, problems


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    target = config.getoption("consentmon_sarif", None)
    monitors = config.stash.get(_SESSION, [])
    if not target or not monitors:
        return
    import json

    from monitor.store.files import write_atomic

    for monitor in monitors:
        monitor.finish_all()
    from monitor.errors import MonitorError

    log, problems = session_sarif(monitors, anchor=config.getoption("consentmon_sarif_anchor", None))
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(log, ensure_ascii=False, indent=2) + "\n")
    except (OSError, MonitorError) as error:
        problems.append(f"the SARIF file could not be written: {error}")
        config.stash[_SARIF_WRITTEN] = (path, 0, problems)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR if session.exitstatus == 0 else session.exitstatus
        return
    config.stash[_SARIF_WRITTEN] = (path, len(log["runs"]), problems)


_SARIF_WRITTEN = pytest.StashKey[tuple[Path, int, list[str]]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    written = config.stash.get(_SARIF_WRITTEN, None)
    if written is None:
        return
    path, count, problems = written
    if path.exists():
        terminalreporter.write_line(f"consentmon: SARIF of {count} run(s) written to {path}")
    for problem in problems:
        terminalreporter.write_line(f"consentmon: {problem}")
