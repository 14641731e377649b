"""Analysis speed: seconds and peak memory to read and judge a run of N events (+10% flows).

    .venv/bin/python bench/analysis/run.py [--sizes 100000,1000000,5000000] [--write BENCHMARKS.md]

Each size runs in a fresh process so peak memory (ru_maxrss) is that size's alone. The run directory is
generated once per size under /tmp (events.jsonl in the writer's own line format; no hash chain needed, the
reader does not verify). Network matching is another module's cost: flows here carry ready-made matches
(one per flow) so the join and the flow rules are measured, not the Aho-Corasick scan.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test rig (support.*) is not part of the package

from monitor.store.writer import dump_line  # noqa: E402
from support.benchwriter import replace_section  # noqa: E402
from monitor.testing.factories import (APP_FRAME, UMENG_FRAME, at, click, dialog, flow_event, lifecycle,  # noqa: E402
                                       pi_read, run_info)

APIS = [("android.telephony.TelephonyManager.getDeviceId", "device_id"),
        ("android.provider.Settings$Secure.getString", "device_id"),
        ("android.location.LocationManager.getLastKnownLocation", "location"),
        ("android.content.pm.PackageManager.getInstalledPackages", "installed_apps"),
        ("android.net.wifi.WifiInfo.getMacAddress", "device_id")]
FRAMES = [UMENG_FRAME, APP_FRAME, "com.tencent.bugly.crashreport.CrashReport.init(CrashReport.java:9)",
          "a.b.c(SourceFile:1)", "org.unknownlib.Tracker.collect(Tracker.java:9)"]
PLATFORM = ["android.os.Handler.dispatchMessage(Handler.java:106)", "android.os.Looper.loop(Looper.java:223)",
            "android.app.ActivityThread.main(ActivityThread.java:7656)", "java.lang.reflect.Method.invoke(Native Method)"]
HOSTS = ["alog.umeng.com", "api.example.com", "bugly.qq.com", "tracker.unknown-ads.net"]


def generate(root: Path, events: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(events)
    flows = events // 10
    span_s = 3600.0
    with open(root / "events.jsonl", "wb") as out:
        records = [lifecycle(ts=at(0), state="foreground"), dialog(ts=at(30)), click(ts=at(60), text="同意"),
                   lifecycle(ts=at(span_s / 2), state="background"), lifecycle(ts=at(span_s * 0.75), state="foreground")]
        seq = 0
        for record in records:
            out.write(dump_line({**record, "seq": seq}))
            seq += 1
        for index in range(events - len(records) - flows):
            api, category = APIS[index % len(APIS)]
            frames = [rng.choice(FRAMES), *PLATFORM[: 2 + index % 3]]
            record = pi_read(ts=at(rng.uniform(0, span_s)), api=api, category=category, value=f"v{index % 997}", stack=frames)
            out.write(dump_line({**record, "seq": seq}))
            seq += 1
        for index in range(flows):
            record = flow_event(ts=at(rng.uniform(0, span_s)), flow_id=f"flow-{index}", host=HOSTS[index % len(HOSTS)])
            out.write(dump_line({**record, "seq": seq}))
            seq += 1
    (root / "run.json").write_text(json.dumps(run_info()), encoding="utf-8")


def measure(root: Path) -> dict[str, float]:
    import pandas as pd

    from monitor.analysis import analyze
    from monitor.store.reader import read_run

    started = time.perf_counter()
    run = read_run(root)
    read_s = time.perf_counter() - started
    flows = run.events[run.events["kind"] == "flow"]
    matches = pd.DataFrame({"flow_id": flows["flow_id"].tolist(), "event_seq": pd.array([5] * len(flows), dtype="Int64"),
                            "category": "device_id", "value": "v0", "field": "query:id", "encoding": "plain", "offset": 0,
                            "confidence": "exact", "detector": None})
    phases = _time_phases()
    started = time.perf_counter()
    findings = analyze(run, matches=matches)
    analyze_s = time.perf_counter() - started
    started = time.perf_counter()
    text = findings.to_json()
    json_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    phases["other"] = analyze_s - sum(phases.values())
    return {"events": len(run.events), "read_s": read_s, "analyze_s": analyze_s, "json_s": json_s,
            "total_s": read_s + analyze_s + json_s, "peak_mb": peak_mb, "findings": len(findings.findings), "bytes": len(text),
            "phases": phases}


PHASES = {"build_timeline": "timeline", "background_intervals": "background", "mark_background": "background",
          "consent_history": "consent", "mark_consent": "consent", "attribute_events": "attribution",
          "prepare_flow_matches": "network join"}


def _time_phases() -> dict[str, float]:
    """Seconds per analysis phase, by wrapping the step functions `analyze` calls (its module globals) and the
    rule engine. "other" (filled in by the caller) is loading the knowledge files and the summary."""
    import monitor.analysis as analysis

    phases: dict[str, float] = {}

    def timed(function, phase):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - started
        return wrapper

    for name, phase in PHASES.items():
        setattr(analysis, name, timed(getattr(analysis, name), phase))
    analysis.REGISTRY.run = timed(analysis.REGISTRY.run, "rules")
    return phases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--write", type=Path, default=None, help="update the '## analysis' section of this file")
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        root = Path(f"/tmp/consentmon-bench-analysis-{size}")
        if not (root / "events.jsonl").exists():
            generate(root, size)
        out = subprocess.run([sys.executable, __file__, "--one", str(root)], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), flush=True)
    if args.write:
        write_section(args.write, results)


def write_section(path: Path, results: list[dict[str, float]]) -> None:
    lines = ["## analysis", "",
             "`bench/analysis/run.py`: read a run directory (events.jsonl, +10% of them flows) and judge it with every",
             "rule; network matching replaced by one ready match per flow (matching has its own benchmark).",
             f"Machine: 2 shared cores; Python {sys.version.split()[0]}. Each size in a fresh process.", "",
             "| events | read s | analyze s | findings.json s | total s | peak MB | findings |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['events']:,} | {r['read_s']:.1f} | {r['analyze_s']:.1f} | {r['json_s']:.2f} | {r['total_s']:.1f} | "
                     f"{r['peak_mb']:.0f} | {r['findings']} |")
    names = list(dict.fromkeys(name for r in results for name in r["phases"]))
    lines += ["", "Where the analyze seconds go (same run):", "",
              "| events | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for r in results:
        lines.append(f"| {r['events']:,} | " + " | ".join(f"{r['phases'].get(name, 0.0):.2f}" for name in names) + " |")
    million = next((r for r in results if r["events"] == 1_000_000), None)
    if million is not None:
        met = million["total_s"] <= 10 and million["peak_mb"] <= 2048
        lines += ["", f"Target (1 M events + 100 k flows ≤ 10 s and ≤ 2 GB): **{'met' if met else 'not met'}** — "
                      f"{million['total_s']:.1f} s, {million['peak_mb']:.0f} MB."]
    lines += ["",
              "How: the reader decodes events.jsonl with msgspec into typed rows (the Event schema checked in C) in 16 MB "
              "blocks and fills preallocated columns, keeping each distinct text and each distinct stack once (stacks stay "
              "JSON text until then); a bad line is still named by file:line. Analysis reorders the timeline only when "
              "it is out of time order (this generator's times are random, the worst case), attributes each distinct "
              "(stack, API) once, and groups reads by ranked integer key codes, copying only the columns checks use. "
              "Where the time still goes: the reader is about half (msgspec's decode itself is ~2 s of it per million "
              "lines on this machine, the rest is filling columns); `timeline` is the reorder of every column; `rules` "
              "is mostly copying the PI reads out of the timeline and grouping them; `network join` includes importing "
              "mitmproxy/tldextract (~0.3 s); `other` is loading the YAML knowledge files (PyYAML's pure-Python loader, "
              "each file parsed twice by monitor/data/yamlfile.py: ~0.4 s fixed) and the summary. 5 M events fit in "
              "memory (peak above) without streaming; time grows slightly faster than linearly (page faults of larger "
              "arrays on this VM)."]
    lines.append("")
    section = "\n".join(lines) + "\n"
    replace_section("## analysis", section, path)


if __name__ == "__main__":
    main()
