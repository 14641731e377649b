// What the host sends in rpc `init`: the catalogue (monitor/data/catalogue.yaml, validated on the host)
// and the limits. The agent trusts its shape; the host's pydantic models are the schema.

import type { UnpinEntry } from "./unpin.js";

export type Match = "equals" | "in" | "prefix" | "contains" | "authority_in" | "other_package";

export interface When {
    arg: number | null;
    receiver: boolean;
    path: string[];
    match: Match;
    values: string[];
}

export interface PayloadField {
    arg: number | null;
    result: boolean;
    constant: string | null;
    path: string[];
    names: Record<string, string>;
}

export interface RecordSpec {
    args: boolean;
    returns: "value" | "list" | "fields" | "none";
    fields: string[];
    item: string | null;
    this_as: string | null;
    this_fields: string[];
    payload: Record<string, PayloadField>;
    value_arg: number | null;
    // This entry's own cap on the value's length (a privacy policy's text or HTML), else maxValueChars.
    value_chars: number | null;
    // Keep the URLs of the links (URLSpan) inside the recorded text as payload.links.
    links: boolean;
    // Record only calls that threw (a pin check failing), not those that returned.
    thrown_only: boolean;
}

export interface HookEntry {
    api: string;
    impl: string | null;
    signatures: string[];
    overloads: "all" | string[][];
    kind: string;
    category: string;
    what: string | null;
    permission: string;
    record: RecordSpec;
    when: When | null;
    // Also hook, in every class that extends or implements the api's class, the methods overriding it
    // (callbacks apps override without calling super), found as each class is defined.
    overrides: boolean;
    source: string;
}

export type NativeArg = "cstring" | "int" | "pointer";

export interface NativeWhen {
    arg: number;
    match: "equals" | "in" | "prefix" | "contains" | "glob" | "int_in" | "family_in" | "port_in";
    values: string[];
}

export interface NativeEntry {
    api: string;
    module: string | null;
    export: string;
    kind: string;
    category: string;
    what: string | null;
    permission: string;
    args: NativeArg[];
    when: NativeWhen | null;
    value: "none" | "arg" | "out_cstring" | "file" | "ifaddrs" | "ifreq_hwaddr" | "sockaddr";
    value_arg: number;
    success: "any" | "nonnegative" | "nonnull" | "zero" | "positive";
    // anti_instrumentation probes: what `stealth` removes from the answer (stealth.ts).
    hide: "cloaked_ranges" | "cloaked_threads" | "refuse" | null;
    source: string;
}

export interface AgentConfig {
    hooks: HookEntry[];
    native: NativeEntry[];
    // Wait for libjvm and hook at JNI_CreateJavaVM (host JVM targets); Android apps have ART already.
    waitForJvm: boolean;
    // null: learn it on Android from ActivityThread.currentPackageName() once the app is bound.
    ownPackage: string | null;
    processName: string | null;
    maxStackFrames: number;
    maxListItems: number;
    maxValueChars: number;
    // Per-API cap of stored events per second; calls beyond it are counted, not stored.
    maxEventsPerApiPerSecond: number;
    // How often the counts of calls dropped by the cap are sent as `rate_limited` agent events.
    rateLimitReportMs: number;
    // How often to sample the process importance (foreground/background) on Android; 0: never.
    importancePollMs: number;
    flushIntervalMs: number;
    flushBatchSize: number;
    // Pinning checks to neutralise (monitor/data/unpin.yaml); empty unless `run --unpin-tls`.
    unpin: UnpinEntry[];
    // Hide the agent from the anti-instrumentation probes whose catalogue entries say `hide` (`run --stealth`).
    stealth: boolean;
}
