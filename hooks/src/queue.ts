// Events are queued by hook callbacks and sent in batches on a short timer: a hook only enqueues,
// so the app's thread pays for building the event, never for I/O.

import type { AgentEvent } from "./events.js";

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
        send({ type: "events:add", events: batch });
        this.sent += batch.length;
        return batch.length;
    }
}
