// What the host sends in rpc `init`: the catalogue (monitor/data/catalogue.yaml, validated on the host)
// and the limits. The agent trusts its shape; the host's pydantic models are the schema.

export type Match = "equals" | "in" | "prefix" | "contains" | "authority_in" | "other_package";

export interface When {
    arg: number;
    match: Match;
    values: string[];
}

export interface RecordSpec {
    args: boolean;
    returns: "value" | "list" | "fields" | "none";
    fields: string[];
    item: string | null;
    this_as: string | null;
    this_fields: string[];
}

export interface HookEntry {
    api: string;
    impl: string | null;
    overloads: "all" | string[][];
    kind: string;
    category: string;
    what: string | null;
    permission: string;
    record: RecordSpec;
    when: When | null;
    source: string;
}

export interface AgentConfig {
    hooks: HookEntry[];
    // Wait for libjvm and hook at JNI_CreateJavaVM (host JVM targets); Android apps have ART already.
    waitForJvm: boolean;
    ownPackage: string | null;
    processName: string | null;
    maxStackFrames: number;
    maxListItems: number;
    maxValueChars: number;
    // Per-API cap of stored events per second; calls beyond it are counted, not stored.
    maxEventsPerApiPerSecond: number;
    flushIntervalMs: number;
    flushBatchSize: number;
}
