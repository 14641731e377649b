"""Hook cost on the JVM (HotSpot, and Android's ART beside it) and agent → disk throughput.

One Java program times, in one process: an unhooked call, a call hooked by our agent (catalogue entry,
batched events, Java stack capped), and a call hooked by a baseline script that does what the common
tools do (one `send` per call carrying a Throwable stack). Then it floods our hooked call and we count
events sent by the agent against events written to a real run directory (RunWriter, on disk).
The same program then runs on host ART 10 (tests/support/art, interpreter), dexed, under the host-ART agent
bundle and a baseline built against the same patched bridge (skipped, and said, when ART cannot be built).
Prints the figures and, with --write, records them in BENCHMARKS.md under "## hooks" only.

    .venv/bin/python bench/hooks/run.py --calls 20000 --flood 30000 --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import frida

from monitor.agent.session import AgentHost, AgentOptions, local_device, wait_for_exit
from monitor.data.models import Catalogue, HookEntry
from monitor.hostart import HostArt
from monitor.store.writer import RunWriter
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # the test rig (support.*) is not part of the package
from support.benchwriter import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## hooks"

PROGRAM = """package consentbench;

public final class Probe {
    public static String plain(int i) { return "867530912345675"; }
    public static String ours(int i) { return "867530912345675"; }
    public static String baseline(int i) { return "867530912345675"; }

    static long time(String which, int calls) {
        long start = System.nanoTime();
        long sink = 0;
        for (int i = 0; i < calls; i++) {
            String value = which.equals("plain") ? plain(i) : which.equals("ours") ? ours(i) : baseline(i);
            sink += value.length();
        }
        long elapsed = System.nanoTime() - start;
        if (sink == 42) System.out.print("");
        return elapsed;
    }

    public static void main(String[] args) throws Exception {
        int calls = Integer.parseInt(args[0]);
        int flood = Integer.parseInt(args[1]);
        System.out.println("{\\"ready\\": true}");
        System.out.flush();
        new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
        for (String which : new String[] {"plain", "ours", "baseline"}) time(which, 2000);  // warm up
        System.out.println("{\\"plain_ns\\": " + time("plain", calls * 10) / (calls * 10.0) + "}");
        System.out.println("{\\"ours_ns\\": " + time("ours", calls) / (double) calls + "}");
        System.out.println("{\\"baseline_ns\\": " + time("baseline", calls) / (double) calls + "}");
        long start = System.nanoTime();
        time("ours", flood);
        System.out.println("{\\"flood_s\\": " + (System.nanoTime() - start) / 1e9 + "}");
        System.out.flush();
    }
}
"""

def compile_program(work: Path) -> Path:
    source = work / "src" / "consentbench" / "Probe.java"
    source.parent.mkdir(parents=True)
    source.write_text(PROGRAM)
    classes = work / "classes"
    subprocess.run([shutil.which("javac") or "javac", "-d", str(classes), str(source)], check=True)
    return classes


def compile_baseline(variant: str = "phone") -> str:
    # hooks/bench/baseline.ts: what camille / MobSF-style hooks do per call (one message with the Java
    # stack as text), bundled with the agent's node_modules but outside the agent's sources. On host ART
    # the bridge needs the same host guards as our agent (monitor/agent/host-art/frida-java-bridge.patch).
    if variant == "phone":
        return frida.Compiler().build("bench/baseline.ts", project_root=str(ROOT / "hooks"))
    from monitor.agent.build import HOOKS_DIR, VARIANT_PATCHES, _patched_copy
    with tempfile.TemporaryDirectory(prefix="consentmon-bench-baseline-") as scratch:
        project = _patched_copy(HOOKS_DIR, VARIANT_PATCHES[variant], Path(scratch))  # type: ignore[arg-type]
        shutil.copytree(HOOKS_DIR / "bench", project / "bench")
        return frida.Compiler().build("bench/baseline.ts", project_root=str(project))


def art_program(work: Path) -> tuple[list[str], dict[str, str], str] | str:
    """The probe dexed for host ART 10 and the argv/environment that run it; a one-line reason when ART cannot be built."""
    from support.art.build import BuildError, RegistryUnreachable, ensure_runtime
    from support.art.dex import dex_jar

    try:
        runtime = HostArt(ensure_runtime())
        app = dex_jar(runtime, {"consentbench/Probe.java": PROGRAM}, name="bench-probe")
    except (RegistryUnreachable, BuildError) as error:
        return f"host ART not built: {error}"
    version = runtime.info.get("packages", {}).get("android-libart", "?")
    argv = runtime.command("consentbench.Probe", classpath=[app.dex], args=["{calls}", "{flood}"])
    return argv, runtime.environment(work / "android"), f"ART 10, android-libart {version} (interpreter)"


def measure(calls: int, flood: int, *, runtime: str = "hotspot") -> dict[str, float | int | str]:
    work = Path(tempfile.mkdtemp(prefix="consentmon-bench-hooks-"))
    try:
        env: dict[str, str] | None = None
        art_version = ""
        if runtime == "art":
            program = art_program(work)
            if isinstance(program, str):
                return {"skipped": program}
            template, env, art_version = program
            argv = [item.replace("{calls}", str(calls)).replace("{flood}", str(flood)) for item in template]
        else:
            classes = compile_program(work)
            argv = [shutil.which("java") or "java", "-cp", str(classes), "consentbench.Probe", str(calls), str(flood)]
        catalogue = Catalogue(version="bench", hooks=[HookEntry(
            api="consentbench.Probe.ours", signatures=["static java.lang.String ours(int)"], category="device_id",
            source="bench/hooks/run.py: a local probe with a device ID's shape")])
        writer = RunWriter(work / "run", run_info={"bench": "hooks"})
        output = ProbeOutput()
        on_output = output.on_output

        device = local_device()
        options = AgentOptions(wait_for_jvm=True, importance_poll_ms=0, max_events_per_api_per_second=10**9,
                               flush_batch_size=512, bundle_variant="host-art" if runtime == "art" else "phone",
                               follow_children=runtime != "art")
        host = AgentHost(device, writer, catalogue, options, on_output=on_output)
        pid = host.spawn(argv, env=env)
        host.resume(pid)
        output.wait_ready(pid)
        baseline_messages = [0]
        if runtime != "art":
            arm_baseline(host.processes[pid].session, "phone", baseline_messages)
        device.input(pid, b"go\n")
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline and "flood_s" not in output.figures(pid):
            host.check()
            time.sleep(0.05)
        # Everything the agent batched reaches the writer before we count.
        summary = host.finish()
        if runtime == "art" and not wait_for_exit(pid, timeout=5):
            device.kill(pid)   # a VM still in DestroyJavaVM after the detach (tests/support/art/agent.py says when)
        stats = summary[pid]["stats"]
        recorded = writer.counts.get("hook:pi_read", 0) if hasattr(writer, "counts") else -1
        writer.close()
        figures = output.figures(pid)
        if runtime == "art":
            # A second frida-java-bridge in an ART process where ours already runs cannot start (it parses
            # ART's quick trampolines, which ours has replaced: "missing argument" in
            # getArtQuickEntrypointFromTrampoline), so on ART the baseline times the same calls in a second
            # process of the same program, under the baseline script alone, in the same run.
            alone = baseline_alone(device, argv, env, output, baseline_messages)
            figures = {**figures, "baseline_ns": alone["baseline_ns"]}
        ours_events = calls + flood + 2000
        sent = int(stats.get("sent", 0))
        hook_written = sum(1 for line in (work / "run" / "events.jsonl").read_text().splitlines()
                           if '"consentbench.Probe.ours"' in line)
        return {
            "runtime": runtime,
            "runtime_version": art_version if runtime == "art" else _java_version(),
            "plain_ns": round(figures["plain_ns"], 1),
            "ours_us": round(figures["ours_ns"] / 1000, 1),
            "baseline_us": round(figures["baseline_ns"] / 1000, 1),
            "ratio_ours_to_baseline": round(figures["ours_ns"] / figures["baseline_ns"], 2),
            "ratio_ours_to_unhooked": round(figures["ours_ns"] / figures["plain_ns"]),
            "flood_calls": flood,
            "flood_events_per_s": round(flood / figures["flood_s"]),
            "events_expected": ours_events,
            "events_sent_by_agent": sent,
            "events_on_disk": hook_written,
            "recorded_counter": recorded,
            "baseline_messages": baseline_messages[0],
            "calls": calls,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


class ProbeOutput:
    """The probe's JSON lines, per process."""

    def __init__(self) -> None:
        self.lines: dict[int, list[dict]] = {}
        self.ready: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def _ready(self, pid: int) -> threading.Event:
        with self._lock:
            return self.ready.setdefault(pid, threading.Event())

    def on_output(self, pid: int, fd: int, data: bytes) -> None:
        for line in data.decode(errors="replace").splitlines():
            if line.startswith("{"):
                item = json.loads(line)
                self.lines.setdefault(pid, []).append(item)
                if item.get("ready"):
                    self._ready(pid).set()

    def wait_ready(self, pid: int) -> None:
        if not self._ready(pid).wait(120):
            raise RuntimeError("the bench program did not start")

    def figures(self, pid: int) -> dict:
        return {key: value for item in self.lines.get(pid, []) for key, value in item.items() if key != "ready"}


def arm_baseline(session: frida.core.Session, variant: str, messages: list[int]) -> frida.core.Script:
    errors: list[str] = []
    armed = threading.Event()

    def on_baseline(message: dict, data: bytes | None) -> None:
        if message.get("type") == "error":
            errors.append(f"{message.get('description')} {message.get('stack')}")
        payload = message.get("payload") or {}
        if payload.get("ready"):
            armed.set()
        elif payload.get("api"):
            messages[0] += 1

    baseline = session.create_script(compile_baseline(variant), name="baseline")
    baseline.on("message", on_baseline)
    baseline.load()
    if not armed.wait(60):
        raise RuntimeError(f"the baseline script did not arm ({variant}): {errors or 'no error reported'}")
    return baseline


def baseline_alone(device: frida.core.Device, argv: list[str], env: dict[str, str] | None, output: ProbeOutput,
                   messages: list[int]) -> dict:
    """The probe in a process of its own under the baseline script only (host ART), attached once it waits on stdin."""
    pid = device.spawn(argv, env=env, stdio="pipe")
    try:
        device.resume(pid)
        output.wait_ready(pid)
        session = device.attach(pid)
        arm_baseline(session, "host-art", messages)
        device.input(pid, b"go\n")
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline and "flood_s" not in output.figures(pid):
            time.sleep(0.05)
        session.detach()
        return output.figures(pid)
    finally:
        if not wait_for_exit(pid, timeout=5):
            device.kill(pid)


def measure_art(calls: int, flood: int, rounds: int) -> dict:
    """ART in rounds, each ours then the baseline's process right after: on ART the two are timed in two
    processes, so the ratio is taken per round (the two adjacent in time) and the median reported."""
    runs = [measure(calls, flood, runtime="art") for _ in range(rounds)]
    if any("skipped" in run for run in runs):
        return runs[0]
    ratios = sorted(run["ratio_ours_to_baseline"] for run in runs)
    median = dict(sorted(runs, key=lambda run: run["ratio_ours_to_baseline"])[len(runs) // 2])
    for key in ("events_expected", "events_sent_by_agent", "events_on_disk", "baseline_messages"):
        median[key] = sum(run[key] for run in runs)
    median.update(rounds=len(runs), ratio_min=ratios[0], ratio_max=ratios[-1])
    return median


def _java_version() -> str:
    answer = subprocess.run([shutil.which("java") or "java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return answer[0].strip() if answer else "?"


def kept_subsections() -> str:
    """The hooks section's subsections other benchmarks write (bench/hooks/classload.py's "### class-load
    watch"), kept as they are when this one rewrites the section."""
    from support.benchwriter import BENCHMARKS_FILE

    text = BENCHMARKS_FILE.read_text(encoding="utf-8") if BENCHMARKS_FILE.exists() else ""
    start = text.find(f"{SECTION}\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(SECTION))
    current = text[start:] if end < 0 else text[start:end + 1]
    at = current.find("\n### ")
    return "" if at < 0 else "\n" + current[at + 1:].rstrip("\n") + "\n"


def write_section(figures: dict) -> None:
    lost = figures["events_expected"] - figures["events_on_disk"]
    ratio_met = figures["ratio_ours_to_baseline"] <= 0.5
    art = figures.get("art") or {"skipped": "not measured"}
    art_lost = None if "skipped" in art else art["events_expected"] - art["events_on_disk"]

    def on_art(key: str, form: str = "{}") -> str:
        return "—" if "skipped" in art else form.format(art[key])
    rate = figures["pipeline_events_per_s"]
    pipeline_lost = figures["pipeline_lost"]
    art_verdict = (f"ART: {art['skipped']}" if "skipped" in art else
                   f"Per-call target on ART {'met' if art['ratio_ours_to_baseline'] <= 0.5 else 'NOT met'} "
                   f"(ours/baseline {art['ratio_ours_to_baseline']}; loss {art_lost or 'none'}).")
    verdict = (f"Per-call target on HotSpot {'met' if ratio_met else 'NOT met'} (ours/baseline {figures['ratio_ours_to_baseline']}); "
               f"agent → disk target {'met' if rate >= 100_000 else 'NOT met'} ({rate} events/s); "
               f"loss {'none' if lost == 0 and pipeline_lost == 0 else lost + pipeline_lost}. {art_verdict} "
               f"Agent → disk on QuickJS (ART targets): {figures['pipeline_qjs_events_per_s']} events/s, "
               f"{'meeting' if figures['pipeline_qjs_events_per_s'] >= 100_000 else 'below'} the 100 000 target"
               f"{'' if figures['pipeline_qjs_lost'] == 0 else '; lost ' + str(figures['pipeline_qjs_lost'])}.")
    section = (
        f"{SECTION}\n"
        f"`bench/hooks/run.py --calls {figures['calls']} --flood {figures['flood_calls']} --pipeline-events "
        f"{figures['pipeline_events'] // figures['pipeline_rounds']} --pipeline-rounds {figures['pipeline_rounds']}` — one HotSpot JVM (OpenJDK 17) spawned under the agent; a static method "
        f"returning a device ID's shape, timed in-process; the same program dexed and spawned on host ART 10 "
        f"(tests/support/art: Android's runtime from Debian's packages, interpreter only, no boot image) under the "
        f"host-ART bundle — there the baseline times the same calls in a second process of the program under the "
        f"baseline script alone (built against the same patched bridge), because a second frida-java-bridge cannot "
        f"start in an ART process where ours has replaced ART's quick trampolines; then `bench/hooks/pipeline.py`: a bench-only agent "
        f"(hooks/bench/pipeline.ts) pushes synthetic events (~2 KB, 24 frames) through the real EventQueue → send → "
        f"AgentHost → RunWriter. Targets: ours ≤ 0.5 × the baseline per call; ≥ 100 000 events/s agent → disk, "
        f"zero loss. The host side alone: `bench/hooks/host_path.py`.\n\n"
        f"| measure | HotSpot ({figures['runtime_version']}) | ART ({art.get('runtime_version', '—')}) |\n|---|---|---|\n"
        f"| unhooked call | {figures['plain_ns']} ns | {on_art('plain_ns', '{} ns')} |\n"
        f"| hooked by our agent (batched event, Java stack ≤ 24 frames) | {figures['ours_us']} µs | {on_art('ours_us', '{} µs')} |\n"
        f"| baseline hook (one `send` per call with a Throwable stack, Frida's default runtime) | {figures['baseline_us']} µs | "
        f"{on_art('baseline_us', '{} µs')} |\n"
        f"| ours / baseline | {figures['ratio_ours_to_baseline']} | {on_art('ratio_ours_to_baseline')}"
        + ("" if "skipped" in art else f" (median of {art['rounds']} rounds, {art['ratio_min']}-{art['ratio_max']}; this "
           f"column's figures are that round's, its event counts all rounds')") + " |\n"
        f"| ours / unhooked | {figures['ratio_ours_to_unhooked']}× | {on_art('ratio_ours_to_unhooked', '{}×')} |\n"
        f"| flood: hooked Java calls → events on disk | {figures['flood_events_per_s']} events/s | "
        f"{on_art('flood_events_per_s', '{} events/s')} |\n"
        f"| events: calls made / sent by the agent / on disk | {figures['events_expected']} / "
        f"{figures['events_sent_by_agent']} / {figures['events_on_disk']} (lost: {lost}) | "
        + ("—" if "skipped" in art else f"{art['events_expected']} / {art['events_sent_by_agent']} / {art['events_on_disk']} (lost: {art_lost})")
        + " |\n"
        f"| agent → disk, synthetic events (pipeline.py) | {rate} events/s (median of {figures['pipeline_rounds']} runs, "
        f"{figures['pipeline_min_events_per_s']}-{figures['pipeline_max_events_per_s']}; V8) | "
        f"{figures['pipeline_qjs_events_per_s']} events/s (QuickJS, the runtime ART targets run on; median of "
        f"{figures['pipeline_qjs_rounds']} runs, {figures['pipeline_qjs_min_events_per_s']}-{figures['pipeline_qjs_max_events_per_s']}) |\n"
        f"| pipeline: generated / sent / on disk | {figures['pipeline_events']} / {figures['pipeline_sent_by_agent']} / "
        f"{figures['pipeline_on_disk']} (lost: {pipeline_lost}) | {figures['pipeline_qjs_events']} / "
        f"{figures['pipeline_qjs_sent_by_agent']} / {figures['pipeline_qjs_on_disk']} (lost: {figures['pipeline_qjs_lost']}) |\n\n"
        f"{verdict}\n\n"
        f"Where the time goes. Per hooked Java call: the bridge's HotSpot trampoline into JavaScript and back "
        f"(~72 µs per call, ~30k calls/s flooded, measured with recording switched off), then the event and its "
        f"stack. The stack is three JNI calls that run Java (new Throwable(), getStackTrace(), Arrays.toString() "
        f"split on \", \"), made raw, without the bridge's wrappers; the JNI calls that run no Java "
        f"(ExceptionCheck, DeleteLocalRef, reading the string) keep the script's lock (exclusive scheduling), "
        f"where the bridge's bindings release and retake it on every call. Steps measured in one run each: "
        f"printStackTrace into a StringWriter through wrappers 216.8 µs (flood 4.8k events/s) → raw JNI ~215 µs "
        f"(flood 7.7k/s) → exclusive scheduling ~157 µs (flood 14k/s, the same as with no stack at all). Thread "
        f"names are cached per OS thread and the receiver's class is read only for lifecycle/click/dialog events. "
        f"The baseline's figure moves a lot between runs on this shared machine (351-636 µs seen), so the ratio is "
        f"noisy. Every event still carries its full capped stack; on ART the same raw JNI calls make it (ART's "
        f"frames, the same text), and the wrapper path remains as a fallback if a method ID cannot be found. On "
        f"ART everything runs in the interpreter (Debian packages no ART compiler): the unhooked call is slower, "
        f"and the bridge reaches our hook through art::interpreter::DoCall instead of a HotSpot trampoline. "
        f"Measured beside this run on ART (5000 calls, one run each, loaded machine): a hook that only calls the "
        f"original 52-76 µs; ours with a `when` that never holds (hooked, nothing recorded) 73-117 µs; ours recording "
        f"144-299 µs. So on ART recording costs ~100 µs more than on HotSpot, where it is nearly free. Where: "
        f"agent bundles built from the same sources with the stack capture cut after each step (scratch "
        f"builds, 5000 calls, two runs each, baseline 311-434 µs): no stack 89-90 µs; new Throwable() only "
        f"80-91 µs; + getStackTrace() 97-105 µs; + Arrays.toString() (the agent as it is) 147-161 µs. On ART "
        f"the frames are formatted by interpreted Java (StackTraceElement.toString per frame, ~12 µs a frame "
        f"here): a third of the call, and more on deeper stacks. Formatting them outside Java (the four fields "
        f"of each StackTraceElement read through JNI, in C as the class watch's filter is) is the next step "
        f"for the ART ratio; not done here (read from JavaScript instead, ~18 JNI calls a frame, a scratch "
        f"build gave 123-132 µs against the agent's 137-149: little gained). The script runtime made no difference beyond the noise (QuickJS "
        f"93-192 µs, V8 120-221 µs). "
        f"Agent → disk: QuickJS's JSON.stringify cost ~17 µs per 2 KB event and frida-python's json.loads ~9 µs; "
        f"the agent runs on V8 where the target is not ART, on QuickJS where it is (AgentOptions.script_runtime_for: V8 cannot run the crash handler under ART's signal chain; the ART column above is QuickJS's) and sends each batch as binary data with each distinct "
        f"stack once (~51k → ~80k events/s). Then, measured inside the agent per event: the clock read 2.4 µs, of "
        f"which the libc call was 0.3 µs and building epoch nanoseconds as decimal text the rest; building the event "
        f"1.4 µs; JSON.stringify 2.1 µs; UTF-8 copy 0.5 µs; send 0.3 µs. So events now carry device_ts as a plain "
        f"number, nanoseconds since a whole-second clock base taken when the agent loads (exact for 104 days of "
        f"process life), and each batch names its base; the host adds it back, so the times on disk are the same "
        f"epoch nanoseconds. On the host, each batch is decoded straight into msgspec records typed like Event "
        f"(one C pass checks every field; a batch outside msgspec's strict types still goes through pydantic, "
        f"with the same lines as result), the stacks are put back by index, and the writer encodes and chains them "
        f"(host side alone ~150k events/s; the SHA-256 chain ~2 µs and encoding ~1.5 µs per event are its floor). "
        f"End to end the two processes share 2 busy cores.\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs, Python {platform.python_version()}, "
        f"frida {frida.__version__}; one run, load average {figures['load_before']} before it and {figures['load_after']} after "
        f"(other jobs: figures on a loaded machine are slower and noisier, and the ART ratio most, its two processes "
        f"being timed one after the other).\n")
    replace_section(SECTION, section.rstrip("\n") + "\n" + kept_subsections())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--flood", type=int, default=30000)
    parser.add_argument("--pipeline-events", type=int, default=200_000)
    parser.add_argument("--pipeline-rounds", type=int, default=5)
    parser.add_argument("--art-rounds", type=int, default=3, help="ART rounds (ours, then the baseline's process), medians")
    parser.add_argument("--no-art", action="store_true", help="HotSpot only (host ART is built on first use, ~6 min cold)")
    parser.add_argument("--write", action="store_true", help="record the figures in BENCHMARKS.md")
    args = parser.parse_args()
    load_before = round(os.getloadavg()[0], 1)
    figures = measure(args.calls, args.flood)
    # The same probe on Android's own runtime (host ART 10), in the same run.
    figures["art"] = measure_art(args.calls, args.flood, args.art_rounds) if not args.no_art else {"skipped": "--no-art"}
    # The same pipeline without the JVM: synthetic events pushed through the agent's queue (pipeline.py).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline import measure as measure_pipeline  # noqa: PLC0415 - a sibling script, not a package

    def pipeline_rounds(script_runtime: str) -> dict:
        runs = [measure_pipeline(args.pipeline_events, 512, script_runtime) for _ in range(args.pipeline_rounds)]
        rates = sorted(run["events_per_s"] for run in runs)
        pipeline = dict(runs[0])
        for key in ("sent_by_agent", "on_disk", "lost"):  # every run counts: one lost event in any run shows
            pipeline[key] = sum(run[key] for run in runs)
        pipeline["events"] = sum(run["events"] for run in runs)
        if any(run["verify_problems"] for run in runs):
            raise SystemExit(f"a pipeline run directory does not verify: {[run['verify_problems'] for run in runs]}")
        pipeline.update(events_per_s=rates[len(rates) // 2], min_events_per_s=rates[0], max_events_per_s=rates[-1], rounds=len(runs))
        return {key: value for key, value in pipeline.items() if key != "verify_problems"}

    # V8 for HotSpot targets; QuickJS, which ART targets run on (AgentOptions.script_runtime_for), beside it.
    figures.update({f"pipeline_{key}": value for key, value in pipeline_rounds("v8").items()})
    figures.update({f"pipeline_qjs_{key}": value for key, value in pipeline_rounds("qjs").items()})
    figures.update(load_before=load_before, load_after=round(os.getloadavg()[0], 1))
    print(json.dumps(figures, indent=2))
    if args.write:
        write_section(figures)


if __name__ == "__main__":
    main()
