"""Agent → disk throughput without the JVM in the way: a bench-only agent (hooks/bench/pipeline.ts)
generates N events of a real PI read's size inside a real process and pushes them through the agent's
EventQueue and `send`; the real AgentHost writes them to a real run directory (RunWriter). Counts events
sent against events on disk (zero loss) and reports events/s from the first push to the last line on disk.

    .venv/bin/python bench/hooks/pipeline.py --events 200000
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import frida

from monitor.agent.session import AgentHost, AgentOptions, local_device
from monitor.data.models import Catalogue
from monitor.store.manifest import verify_run
from monitor.store.writer import RunWriter

ROOT = Path(__file__).resolve().parents[2]


def compile_pipeline_agent() -> str:
    # Compiled with the agent's project (its sources and node_modules), but from hooks/bench: not in the bundle.
    return frida.Compiler().build("bench/pipeline.ts", project_root=str(ROOT / "hooks"))


def measure(events: int, batch: int, script_runtime: str = "v8") -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="consentmon-bench-pipeline-"))
    try:
        writer = RunWriter(work / "run", run_info={"bench": "pipeline"})
        host = AgentHost(local_device(), writer, Catalogue(version="bench", hooks=[]),
                         AgentOptions(flush_batch_size=batch, importance_poll_ms=0, script_runtime=script_runtime))
        host.bundle = compile_pipeline_agent()
        pid = host.spawn([shutil.which("sleep") or "/bin/sleep", "600"])
        script = host.processes[pid].script
        try:
            before = writer.seq
            start = time.perf_counter()
            script.exports_sync.generate(events)
            script.exports_sync.flush()
            generated = time.perf_counter() - start
            deadline = time.monotonic() + 600
            while writer.seq - before < events and time.monotonic() < deadline:
                host.check()
                time.sleep(0.001)
            elapsed = time.perf_counter() - start
            host.check()
            sent = int(script.exports_sync.stats()["sent"])
        finally:
            host.finish()
            frida.get_local_device().kill(pid)
        writer.close()
        on_disk = sum(1 for line in (work / "run" / "events.jsonl").open("rb") if b'"source":"hook"' in line)
        return {"events": events, "batch": batch, "generated_in_agent_s": round(generated, 3), "seconds": round(elapsed, 3),
                "events_per_s": round(on_disk / elapsed), "sent_by_agent": sent, "on_disk": on_disk, "lost": events - on_disk,
                "verify_problems": verify_run(work / "run")}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--script-runtime", choices=("v8", "qjs"), default="v8",
                        help="the agent's JavaScript runtime (QuickJS is what ART targets run on)")
    args = parser.parse_args()
    print(json.dumps(measure(args.events, args.batch, args.script_runtime), indent=2))


if __name__ == "__main__":
    main()
