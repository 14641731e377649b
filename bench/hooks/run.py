"""Hook cost on the JVM and agent → disk throughput, in one JVM run.

One Java program times, in one process: an unhooked call, a call hooked by our agent (catalogue entry,
batched events, Java stack capped), and a call hooked by a baseline script that does what the common
tools do (one `send` per call carrying a Throwable stack). Then it floods our hooked call and we count
events sent by the agent against events written to a real run directory (RunWriter, on disk).
Prints the figures and, with --write, records them in BENCHMARKS.md under "## hooks" only.

    .venv/bin/python bench/hooks/run.py --calls 20000 --flood 30000 --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import frida

from monitor.agent.session import AgentHost, AgentOptions, local_device
from monitor.data.models import Catalogue, HookEntry
from monitor.store.writer import RunWriter

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

# What camille / MobSF-style hooks do per call: one message, with the Java stack as text.
BASELINE_TS = """import Java from "frida-java-bridge";

Java.perform(() => {
    const Probe = Java.use("consentbench.Probe");
    const Throwable = Java.use("java.lang.Throwable");
    Probe.baseline.implementation = function (i: number): string {
        const value: string = this.baseline(i);
        const stack = Throwable.$new().getStackTrace().map((frame: { toString(): string }) => frame.toString());
        send({ api: "consentbench.Probe.baseline", value, stack });
        return value;
    };
    send({ ready: true });
});
"""


def compile_program(work: Path) -> Path:
    source = work / "src" / "consentbench" / "Probe.java"
    source.parent.mkdir(parents=True)
    source.write_text(PROGRAM)
    classes = work / "classes"
    subprocess.run([shutil.which("javac") or "javac", "-d", str(classes), str(source)], check=True)
    return classes


def compile_baseline() -> str:
    # Bundled with the agent's own node_modules (frida-java-bridge), outside the agent's sources.
    hooks = ROOT / "hooks"
    entry = hooks / "bench" / "baseline.ts"
    entry.parent.mkdir(exist_ok=True)
    entry.write_text(BASELINE_TS)
    return frida.Compiler().build("bench/baseline.ts", project_root=str(hooks))


def measure(calls: int, flood: int) -> dict[str, float | int | str]:
    work = Path(tempfile.mkdtemp(prefix="consentmon-bench-hooks-"))
    try:
        classes = compile_program(work)
        catalogue = Catalogue(version="bench", hooks=[HookEntry(
            api="consentbench.Probe.ours", signatures=["static java.lang.String ours(int)"], category="device_id",
            source="bench/hooks/run.py: a local probe with a device ID's shape")])
        writer = RunWriter(work / "run", run_info={"bench": "hooks"})
        lines: list[dict] = []
        ready = threading.Event()

        def on_output(pid: int, fd: int, data: bytes) -> None:
            for line in data.decode(errors="replace").splitlines():
                if line.startswith("{"):
                    item = json.loads(line)
                    lines.append(item)
                    if item.get("ready"):
                        ready.set()

        device = local_device()
        options = AgentOptions(wait_for_jvm=True, importance_poll_ms=0, max_events_per_api_per_second=10**9,
                               flush_batch_size=512)
        host = AgentHost(device, writer, catalogue, options, on_output=on_output)
        pid = host.spawn([shutil.which("java") or "java", "-cp", str(classes), "consentbench.Probe", str(calls), str(flood)])
        host.resume(pid)
        if not ready.wait(60):
            raise RuntimeError("the bench program did not start")
        baseline_messages = [0]
        baseline_ready = threading.Event()

        def on_baseline(message: dict, data: bytes | None) -> None:
            payload = message.get("payload") or {}
            if payload.get("ready"):
                baseline_ready.set()
            elif payload.get("api"):
                baseline_messages[0] += 1

        baseline = host.processes[pid].session.create_script(compile_baseline(), name="baseline")
        baseline.on("message", on_baseline)
        baseline.load()
        baseline_ready.wait(30)
        device.input(pid, b"go\n")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not any("flood_s" in item for item in lines):
            host.check()
            time.sleep(0.05)
        # Everything the agent batched reaches the writer before we count.
        summary = host.finish()
        stats = summary[pid]["stats"]
        recorded = writer.counts.get("hook:pi_read", 0) if hasattr(writer, "counts") else -1
        writer.close()
        figures = {key: value for item in lines for key, value in item.items() if key != "ready"}
        ours_events = calls + flood + 2000
        sent = int(stats.get("sent", 0))
        hook_written = sum(1 for line in (work / "run" / "events.jsonl").read_text().splitlines()
                           if '"consentbench.Probe.ours"' in line)
        return {
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


def write_section(figures: dict) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lost = figures["events_expected"] - figures["events_on_disk"]
    ratio_met = figures["ratio_ours_to_baseline"] <= 0.5
    rate_met = figures["flood_events_per_s"] >= 100_000
    verdict = (f"Per-call target {'met' if ratio_met else 'NOT met'} (ours/baseline {figures['ratio_ours_to_baseline']}); "
               f"throughput target {'met' if rate_met else 'NOT met'} ({figures['flood_events_per_s']} events/s); "
               f"loss {'none' if lost == 0 else lost}.")
    section = (
        f"{SECTION}\n"
        f"`bench/hooks/run.py --calls {figures['calls']} --flood {figures['flood_calls']}` — one HotSpot JVM (OpenJDK "
        f"17) spawned under the agent; a static method returning a device ID's shape, timed in-process. Targets: "
        f"ours ≤ 0.5 × the baseline per call; ≥ 100 000 events/s agent → disk with zero loss.\n\n"
        f"| measure | value |\n|---|---|\n"
        f"| unhooked call | {figures['plain_ns']} ns |\n"
        f"| hooked by our agent (batched event, Java stack ≤ 24 frames) | {figures['ours_us']} µs |\n"
        f"| baseline hook (one `send` per call with a Throwable stack) | {figures['baseline_us']} µs |\n"
        f"| ours / baseline | {figures['ratio_ours_to_baseline']} |\n"
        f"| ours / unhooked | {figures['ratio_ours_to_unhooked']}× |\n"
        f"| flood: hooked calls → events on disk | {figures['flood_events_per_s']} events/s |\n"
        f"| events: calls made / sent by the agent / on disk | {figures['events_expected']} / "
        f"{figures['events_sent_by_agent']} / {figures['events_on_disk']} (lost: {lost}) |\n\n"
        f"{verdict}\n\n"
        f"Where the time goes: every hooked call crosses frida-java-bridge's HotSpot trampoline into JavaScript "
        f"and back (lab facts: ~40 µs batched without a stack), and a Java stack costs several JNI round trips "
        f"(ours: one `printStackTrace` into a StringWriter; the baseline: `getStackTrace()` mapped in JS). Both "
        f"hooks pay these; batching only removes the per-call `send`, which is small next to them, so ours is "
        f"not cheaper than the baseline although it records more (thread, process, caller frames, arguments). "
        f"The flood rate is that per-call cost on the app's one thread (2 shared cores), not the agent → host → "
        f"disk pipeline, which drained every batch with zero loss. 100 000 events/s is out of reach for hooked "
        f"Java calls on HotSpot while every event carries a Java stack; it would need stacks sampled (e.g. the "
        f"first N per API and caller) or a native stack walker instead of JNI.\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs, Python {platform.python_version()}, "
        f"frida {frida.__version__}; one run.\n")
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--flood", type=int, default=30000)
    parser.add_argument("--write", action="store_true", help="record the figures in BENCHMARKS.md")
    args = parser.parse_args()
    figures = measure(args.calls, args.flood)
    print(json.dumps(figures, indent=2))
    if args.write:
        write_section(figures)


if __name__ == "__main__":
    main()
