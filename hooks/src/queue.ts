// Events are queued by hook callbacks and sent in batches on a short timer: a hook only enqueues,
// so the app's thread pays for building the event, never for I/O.
// A batch travels as the `data` of its message (UTF-8 JSON of the events), not inside the message:
// frida-python parses every message with the standard json module, which cost more per event than
// writing it to disk; the host decodes the bytes with msgspec instead.
// Most events of a batch share a few call stacks (the same hook, the same callers), so a batch is sent
// as {"stacks": [distinct stacks], "events": [... each "stack" an index into them, or null]}: the agent
// stringifies each distinct stack once, and the host expands the indexes back to full stacks before
// anything is written (monitor/agent/session.py), so the events on disk are unchanged.
// Each event's device_ts is relative to the batch's `clock_base_ns` (see clock.ts); the host adds it.

import { clockBaseNs } from "./clock.js";
import type { AgentEvent } from "./events.js";

let strlen: NativeFunction<UInt64, [NativePointerValue]> | null = null;

function utf8(text: string): ArrayBuffer {
    if (strlen === null) {
        strlen = new NativeFunction(Module.getGlobalExportByName("strlen"), "size_t", ["pointer"],
            { scheduling: "exclusive", exceptions: "propagate" });
    }
    // JSON text has no NUL byte (a NUL inside a string is written \u0000), so strlen is its UTF-8 length.
    const bytes = Memory.allocUtf8String(text);
    return bytes.readByteArray(strlen(bytes).toNumber())!;
}

// Replaces each event's stack by its index in the returned list of distinct stacks (the batch is the
// queue's own: nothing else holds its events once pushed). Equal stacks share one index; a key collision
// (frames containing the separator) is ruled out by comparing frame by frame.
function shareStacks(batch: AgentEvent[]): string[][] {
    const stacks: string[][] = [];
    const byKey = new Map<string, number[]>();
    let last: string[] | null = null;
    let lastIndex = -1;
    for (const event of batch) {
        const stack = event.stack;
        if (stack === null || stack === undefined) {
            continue;
        }
        let index = -1;
        if (last !== null && sameFrames(stack, last)) {
            index = lastIndex;
        } else {
            const key = stack.join("\n");
            const candidates = byKey.get(key);
            if (candidates !== undefined) {
                for (const candidate of candidates) {
                    if (sameFrames(stack, stacks[candidate])) {
                        index = candidate;
                        break;
                    }
                }
            }
            if (index < 0) {
                index = stacks.length;
                stacks.push(stack);
                if (candidates !== undefined) {
                    candidates.push(index);
                } else {
                    byKey.set(key, [index]);
                }
            }
            last = stack;
            lastIndex = index;
        }
        (event as unknown as { stack: number }).stack = index;
    }
    return stacks;
}

function sameFrames(a: string[], b: string[]): boolean {
    if (a === b) {
        return true;
    }
    if (a.length !== b.length) {
        return false;
    }
    for (let i = 0; i < a.length; i++) {
        if (a[i] !== b[i]) {
            return false;
        }
    }
    return true;
}

export class EventQueue {
    private pending: AgentEvent[] = [];
    private timer: ReturnType<typeof setTimeout> | null = null;
    sent = 0;

    constructor(private readonly intervalMs: number, private readonly batchSize: number) {}

    push(event: AgentEvent): void {
        this.pending.push(event);
        if (this.pending.length >= this.batchSize) {
            this.flush();
        } else if (this.timer === null) {
            this.timer = setTimeout(() => {
                this.timer = null;
                this.flush();
            }, this.intervalMs);
        }
    }

    flush(): number {
        if (this.timer !== null) {
            clearTimeout(this.timer);
            this.timer = null;
        }
        const batch = this.pending;
        if (batch.length === 0) {
            return 0;
        }
        this.pending = [];
        const stacks = shareStacks(batch);
        send({ type: "events:add", count: batch.length, encoding: "json", stacks: stacks.length, clock_base_ns: clockBaseNs() },
            utf8(JSON.stringify({ stacks, events: batch })));
        this.sent += batch.length;
        return batch.length;
    }
}
