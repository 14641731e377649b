"""Host side of the agent → disk pipeline alone: RunWriter.append, RunWriter.append_many and the
AgentHost message path (`_on_message` with an `events:add` batch: events in the message, and as the agent
sends it, JSON data with each distinct stack once), in events/s.

No target process: this measures what the host can absorb, so the end-to-end figure (pipeline.py)
can be told apart from it. Target: ≥ 150 000 events/s through the message path.

    .venv/bin/python bench/hooks/host_path.py --events 100000
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from monitor.agent.session import AgentHost, AgentOptions, ProcessState, local_device
from monitor.data.models import Catalogue
from monitor.store.manifest import verify_run
from monitor.store.writer import RunWriter

BATCH = 512
BASE_NS = 1_700_000_000_000_000_000

# A pi_read as the agent records it on Android: 24 caller frames, thread, process, value (~2 KB).
FRAMES = [f"com.example.sdk.module{depth}.Collector{depth}.collect(Collector{depth}.java:{100 + depth})" for depth in range(20)]
FRAMES += ["android.app.Activity.performCreate(Activity.java:8000)", "android.app.ActivityThread.main(ActivityThread.java:7839)",
           "java.lang.reflect.Method.invoke(Native Method)", "com.android.internal.os.ZygoteInit.main(ZygoteInit.java:947)"]


def agent_event(index: int) -> dict[str, Any]:
    """One event as it arrives from the agent (device_ts as a decimal string, ts and seq unset)."""
    return {"source": "hook", "kind": "pi_read", "ts": None, "device_ts": str(1_700_000_000_000_000_000 + index), "seq": None,
            "pid": 4242, "process": "com.example.app", "thread": "main", "category": "device_id",
            "api": "android.telephony.TelephonyManager.getDeviceId", "args": None, "value": f"86753091234{index:05d}",
            "stack": FRAMES, "sdk": None, "flow_id": None, "payload": None}


def host_event(index: int) -> dict[str, Any]:
    event = agent_event(index)
    event["ts"] = event["device_ts"] = int(event["device_ts"])
    event["seq"] = -1
    return event


def rate(count: int, seconds: float) -> int:
    return round(count / seconds)


def measure(events: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="consentmon-bench-host-"))
    try:
        figures: dict[str, Any] = {"events": events, "event_bytes": len(json.dumps(host_event(0)))}
        inputs = [host_event(index) for index in range(events)]
        writer = RunWriter(work / "append", run_info={})
        start = time.perf_counter()
        for event in inputs:
            writer.append(event)
        figures["append_per_s"] = rate(events, time.perf_counter() - start)
        writer.close()

        inputs = [host_event(index) for index in range(events)]
        writer = RunWriter(work / "append_many", run_info={})
        start = time.perf_counter()
        if hasattr(writer, "append_many"):
            for offset in range(0, events, BATCH):
                writer.append_many(inputs[offset:offset + BATCH])
        figures["append_many_per_s"] = rate(events, time.perf_counter() - start)
        writer.close()

        writer = RunWriter(work / "host", run_info={})
        host = AgentHost(local_device(), writer, Catalogue(version="bench", hooks=[]), AgentOptions())
        state = ProcessState(pid=4242, session=None, script=None)  # type: ignore[arg-type]  # only pid is read
        messages = [{"type": "send", "payload": {"type": "events:add", "events": [agent_event(index) for index in range(offset, min(events, offset + BATCH))]}}
                    for offset in range(0, events, BATCH)]
        messages = copy.deepcopy(messages)
        start = time.perf_counter()
        for message in messages:
            host._on_message(state, message)
        figures["message_path_per_s"] = rate(events, time.perf_counter() - start)
        host.check()
        host.closed = True
        host.device.off("child-added", host._on_child_added)
        writer.close()
        figures["on_disk"] = sum(1 for _ in (work / "host" / "events.jsonl").open("rb"))
        figures["verify_problems"] = verify_run(work / "host")

        # As hooks/src/queue.ts sends a batch: JSON bytes as the message's data, each distinct stack once,
        # device_ts relative to the batch's clock base.
        writer = RunWriter(work / "shared", run_info={})
        host = AgentHost(local_device(), writer, Catalogue(version="bench", hooks=[]), AgentOptions())
        shared = []
        for offset in range(0, events, BATCH):
            batch = [agent_event(index) for index in range(offset, min(events, offset + BATCH))]
            for event in batch:
                event["stack"] = 0
                event["device_ts"] = int(event["device_ts"]) - BASE_NS  # relative to the batch's clock base
            shared.append(({"type": "send", "payload": {"type": "events:add", "count": len(batch), "encoding": "json", "stacks": 1,
                                                        "clock_base_ns": str(BASE_NS)}},
                           json.dumps({"stacks": [FRAMES], "events": batch}).encode()))
        start = time.perf_counter()
        for message, data in shared:
            host._on_message(state, message, data)
        figures["message_shared_stacks_per_s"] = rate(events, time.perf_counter() - start)
        host.check()
        host.closed = True
        host.device.off("child-added", host._on_child_added)
        writer.close()
        figures["shared_identical_on_disk"] = (work / "shared" / "events.jsonl").read_bytes() == (work / "host" / "events.jsonl").read_bytes()
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(measure(args.events), indent=2))


if __name__ == "__main__":
    main()
