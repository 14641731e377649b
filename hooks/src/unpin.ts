// Certificate-pinning bypass (consentmon run --unpin-tls). The one place where the agent changes what
// the app does, on purpose and only when asked: a pinned connection is let through to the interception
// proxy so its content can be seen. Every bypass is reported as a `tls_unpinned` event, so a run made
// this way can never be mistaken for an untouched one.

import Java from "frida-java-bridge";

import { stampNs } from "./clock.js";
import type { AgentEvent } from "./events.js";
import type { EventQueue } from "./queue.js";
import type { JavaValue } from "./values.js";

export interface UnpinEntry {
    api: string;
    action: "skip" | "return_arg" | "proceed_arg" | "system_trust";
    arg: number | null;
    source: string;
}

export interface UnpinResult {
    api: string;
    overloads: number;
    status: "installed" | "failed";
    error: string | null;
}

function report(queue: EventQueue, entry: UnpinEntry, processName: string | null, detail: string): void {
    const event: AgentEvent = {
        source: "hook", kind: "tls_unpinned", ts: null, device_ts: stampNs(), seq: null,
        pid: Process.id, process: processName ?? `pid:${Process.id}`, thread: null, category: "tls",
        api: entry.api, args: null, value: detail, stack: null, sdk: null, flow_id: null,
        payload: { action: entry.action },
    };
    queue.push(event);
}

// The platform's default TrustManagers: TrustManagerFactory for the default algorithm over the system
// store (init with a null KeyStore).
function systemTrustManagers(): JavaValue {
    const factoryClass = Java.use("javax.net.ssl.TrustManagerFactory") as JavaValue;
    const factory = factoryClass.getInstance(factoryClass.getDefaultAlgorithm());
    factory.init.overload("java.security.KeyStore").call(factory, null);
    return factory.getTrustManagers();
}

// Every overload of the entry's method on this class (OkHttp 3's check(String, List) and check(String,
// Certificate...), OkHttp 4's check$okhttp too): skipped, accepted or proceeded as the entry says.
function unpinOn(wrapper: Java.Wrapper, entry: UnpinEntry, queue: EventQueue, processName: string | null): UnpinResult {
    const methodName = entry.api.slice(entry.api.lastIndexOf(".") + 1);
    const dispatcher = (wrapper as JavaValue)[methodName];
    if (dispatcher === undefined || dispatcher === null || dispatcher.overloads === undefined) {
        return { api: entry.api, overloads: 0, status: "failed", error: "method not found" };
    }
    for (const overload of dispatcher.overloads as Java.Method[]) {
        overload.implementation = function (this: JavaValue, ...args: JavaValue[]): JavaValue {
            if (entry.action === "system_trust") {
                // The app's own TrustManagers (pins, an empty store) give way to the platform's, which
                // trust the system store — where the interception CA was installed.
                const index = entry.arg ?? 0;
                const replaced = args.slice();
                replaced[index] = systemTrustManagers();
                report(queue, entry, processName, "the app's TrustManagers replaced by the system's");
                return overload.apply(this, replaced);
            }
            if (entry.action === "skip") {
                report(queue, entry, processName, `check skipped for ${args.length > 0 ? String(args[0]) : "?"}`);
                return undefined;
            }
            const subject = args[entry.arg ?? 0];
            if (entry.action === "return_arg") {
                report(queue, entry, processName, "chain accepted as presented");
                return subject;
            }
            report(queue, entry, processName, "SSL error handler told to proceed");
            subject.proceed();
            return undefined;
        };
    }
    return { api: entry.api, overloads: dispatcher.overloads.length, status: "installed", error: null };
}

// Called with each class of a name that a class loader defines after start (OkHttp inside a plugin or an
// SDK loaded late).
export type LateClassWatcher = (className: string, install: (wrapper: Java.Wrapper, where: string) => void) => void;

// Must run inside Java.perform. Classes absent at start are unpinned when a class loader defines them
// (`whenDefined`), each such bypass reported by `onLate`.
export function installUnpin(entries: UnpinEntry[], queue: EventQueue, processName: string | null,
                             whenDefined: LateClassWatcher | null = null,
                             onLate: ((result: UnpinResult, where: string) => void) | null = null): UnpinResult[] {
    const results: UnpinResult[] = [];
    for (const entry of entries) {
        const className = entry.api.slice(0, entry.api.lastIndexOf("."));
        if (whenDefined !== null) {
            whenDefined(className, (wrapper, where) => {
                const result = unpinOn(wrapper, entry, queue, processName);
                if (onLate !== null) {
                    onLate(result, where);
                }
            });
        }
        try {
            results.push(unpinOn(Java.use(className), entry, queue, processName));
        } catch (error) {
            // A class absent on this platform (no OkHttp, no Conscrypt on the JVM) is normal: reported, and
            // unpinned if a class loader defines it later.
            results.push({ api: entry.api, overloads: 0, status: "failed", error: String(error) });
        }
    }
    return results;
}
