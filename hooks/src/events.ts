// The event the agent emits. Field for field the same as monitor/events.py `Event`
// (tests/agent/test_early_and_schema.py compares them). The host adds `seq` and turns `device_ts` into `ts`.

export type Source = "hook" | "net" | "ui" | "scenario" | "device" | "agent";

export interface AgentEvent {
    source: Source;
    kind: string;
    ts: number | null;
    device_ts: number;  // ns since the batch's clock_base_ns on the wire (clock.ts); epoch ns on disk
    seq: number | null;
    pid: number;
    process: string;
    thread: string | null;
    category: string | null;
    api: string | null;
    args: string[] | null;
    value: string | null;
    stack: string[] | null;
    sdk: string | null;
    flow_id: string | null;
    payload: Record<string, unknown> | null;
}

// Messages from agent to host. Typed, batched, never pre-formatted. The batch itself, AgentEvent[]
// as UTF-8 JSON, is the message's binary `data` (see queue.ts).
export interface EventsMessage {
    type: "events:add";
    count: number;
    encoding: "json";
    stacks: number;
    clock_base_ns: string;
}
