// Events are queued by hook callbacks and sent in batches on a short timer: a hook only enqueues,
// so the app's thread pays for building the event, never for I/O.
// A batch travels as the `data` of its message (UTF-8 JSON of the events), not inside the message:
// frida-python parses every message with the standard json module, which cost more per event than
// writing it to disk; the host decodes the bytes with msgspec instead.

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
        send({ type: "events:add", count: batch.length, encoding: "json" }, utf8(JSON.stringify(batch)));
        this.sent += batch.length;
        return batch.length;
    }
}
