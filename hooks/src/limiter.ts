// Per-API rate limit: floods (a sensor read 1000 times a second) are counted, not stored. The counts
// reach the run as periodic `rate_limited` agent events, so nothing is dropped without a trace.

import type { AgentEvent } from "./events.js";
import { stampNs } from "./clock.js";
import { currentProcessName } from "./process.js";

export class RateLimiter {
    private readonly windowCounts = new Map<string, number>();
    private windowStart = 0;
    readonly dropped: Record<string, number> = {};
    private unreported: Record<string, number> = {};

    // Called once when the first drop after a report happens (the host schedules the next report).
    onFirstDrop: (() => void) | null = null;

    constructor(private readonly maxPerSecond: number, private readonly processName: string | null) {}

    allowed(api: string): boolean {
        const now = Date.now();
        if (now - this.windowStart >= 1000) {
            this.windowStart = now;
            this.windowCounts.clear();
        }
        const count = (this.windowCounts.get(api) ?? 0) + 1;
        this.windowCounts.set(api, count);
        if (count <= this.maxPerSecond) {
            return true;
        }
        this.dropped[api] = (this.dropped[api] ?? 0) + 1;
        const first = Object.keys(this.unreported).length === 0;
        this.unreported[api] = (this.unreported[api] ?? 0) + 1;
        if (first && this.onFirstDrop !== null) {
            this.onFirstDrop();
        }
        return false;
    }

    // The drops since the last report, as one agent event (null when there were none).
    takeReport(): AgentEvent | null {
        if (Object.keys(this.unreported).length === 0) {
            return null;
        }
        const payload = this.unreported;
        this.unreported = {};
        return {
            source: "agent", kind: "agent", ts: null, device_ts: stampNs(), seq: null,
            pid: Process.id, process: currentProcessName(this.processName), thread: null, category: "rate_limited",
            api: null, args: null, value: null, stack: null, sdk: null, flow_id: null, payload,
        };
    }
}
