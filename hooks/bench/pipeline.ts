// Bench-only agent (never in the production bundle): generates synthetic events of a real PI read's
// size inside the target and pushes them through the agent's own EventQueue and `send`, so the host
// measures agent → host → disk throughput without the JVM trampoline in the way.

import type { AgentEvent } from "../src/events.js";
import { stampNs } from "../src/clock.js";
import { EventQueue } from "../src/queue.js";
import { currentProcessName } from "../src/process.js";

let queue: EventQueue | null = null;

// 24 caller frames, as a capped Android stack through an SDK looks.
const frames: string[] = [];
for (let depth = 0; depth < 20; depth++) {
    frames.push(`com.example.sdk.module${depth}.Collector${depth}.collect(Collector${depth}.java:${100 + depth})`);
}
frames.push("android.app.Activity.performCreate(Activity.java:8000)", "android.app.ActivityThread.main(ActivityThread.java:7839)",
    "java.lang.reflect.Method.invoke(Native Method)", "com.android.internal.os.ZygoteInit.main(ZygoteInit.java:947)");

rpc.exports = {
    init(config: { flushIntervalMs: number; flushBatchSize: number; processName: string | null }): { pid: number } {
        queue = new EventQueue(config.flushIntervalMs, config.flushBatchSize);
        currentProcessName(config.processName);
        return { pid: Process.id };
    },
    // Push `count` events as hooks would (each built, time-stamped and queued one by one).
    generate(count: number): number {
        const process = currentProcessName(null);
        for (let index = 0; index < count; index++) {
            const event: AgentEvent = {
                source: "hook", kind: "pi_read", ts: null, device_ts: stampNs(), seq: null,
                pid: Process.id, process, thread: "main", category: "device_id",
                api: "android.telephony.TelephonyManager.getDeviceId", args: null,
                value: `86753091${(1000000 + index).toString()}`, stack: frames.slice(), sdk: null, flow_id: null, payload: null,
            };
            queue!.push(event);
        }
        return count;
    },
    flush(): number {
        return queue === null ? 0 : queue.flush();
    },
    stats(): Record<string, unknown> {
        return { sent: queue?.sent ?? 0 };
    },
    jobs(): unknown[] {
        return [];
    },
};
