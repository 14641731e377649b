// An app that dies under the hooks: the last APIs the agent recorded before it died, and the native fault
// itself. Frida's exception handler sees a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT…) before the app's
// own handlers; this one only writes down what happened — the events still queued go out, then an
// `agent:status` "crashing" with the fault and the last APIs, and the faulting thread waits for the host's
// `crash:ack` (without it the messages die with the process) — and returns false, so the fault goes on to the
// app's handler or the kernel exactly as without the agent (the app still dies, or recovers, as it would).

import Java from "frida-java-bridge";

import type { AgentEvent } from "./events.js";
import type { EventQueue } from "./queue.js";
import { runningPid } from "./native.js";
import { dyingThreads } from "./process.js";

export class LastApis {
    private readonly ring: (string | null)[];
    private next = 0;
    private count = 0;

    constructor(private readonly size: number) {
        this.ring = new Array<string | null>(size).fill(null);
    }

    note(event: AgentEvent): void {
        this.ring[this.next] = event.category === null ? event.api : `${event.api} (${event.category})`;
        this.next = (this.next + 1) % this.size;
        this.count++;
    }

    // Oldest first.
    list(): string[] {
        const out: string[] = [];
        const start = this.count < this.size ? 0 : this.next;
        for (let index = 0; index < Math.min(this.count, this.size); index++) {
            const api = this.ring[(start + index) % this.size];
            if (api !== null) {
                out.push(api);
            }
        }
        return out;
    }
}

// Every event the agent queues is noted (the queue is the one way out for Java and native hooks alike).
export function noteQueued(queue: EventQueue, last: LastApis): void {
    const push = queue.push.bind(queue);
    queue.push = (event: AgentEvent): void => {
        last.note(event);
        push(event);
    };
}

// Faults a runtime takes on purpose and handles itself: HotSpot's and ART's implicit null checks, safepoint and
// suspend polls and stack banging fault in generated code (anonymous memory: no module), in AOT code (.oat,
// .odex) or in the VM library (SafeFetch). Reporting those would call every JVM and every app a crash (measured:
// a Java loop catching NullPointerException faulted at address 0 in HotSpot's JIT code). An abort() is always
// the end.
const RUNTIME_MODULE = /^(libjvm\.so|libart\.so|libartd\.so|libdvm\.so)$|\.(oat|odex|vdex|art)$/;

function runtimeFault(details: ExceptionDetails, module: Module | null): boolean {
    if (details.type === "abort") {
        return false;
    }
    return module === null || RUNTIME_MODULE.test(module.name);
}

export function watchFaults(last: LastApis, flush: () => number,
                            report: (details: Record<string, unknown>) => void): void {
    let reported = false;
    Process.setExceptionHandler((details) => {
        // A forked or vfork()ed child runs this copy of the script without a host listening to it: no waiting there.
        if (reported || runningPid() !== Process.id) {
            return false;
        }
        const module = Process.findModuleByAddress(details.address);
        if (runtimeFault(details, module)) {
            return false;
        }
        {
            reported = true;
            dyingThreads.add(Process.getCurrentThreadId());
            try {
                flush();
                report({
                    fault: details.type,
                    address: details.address.toString(),
                    module: module === null ? null : module.name,
                    memory: details.memory === undefined ? null
                        : { operation: details.memory.operation, address: details.memory.address.toString() },
                    thread: Process.getCurrentThreadId(),
                    last_apis: last.list(),
                });
                // A message is sent by the agent's own thread later, and the process is about to die: wait until
                // the host says it has the report (and the events flushed before it, sent in order).
                recv("crash:ack", () => undefined).wait();
            } catch (error) {
                // Nothing may be thrown into a faulting thread; the host still sees the process end.
            }
        }
        return false;
    });
}

// An uncaught Java exception: Thread.dispatchUncaughtException (ART and HotSpot alike) hands it to the handler
// that kills the app on Android (RuntimeInit's KillApplicationHandler: logcat's FATAL EXCEPTION, then
// Process.killProcess). Before the handler runs, the queued events go out with a `crashing` report naming the
// exception and the last APIs; the thread waits for the host's ack (the kill follows at once); then the
// original runs with the very same exception object.
export function watchUncaught(last: LastApis, flush: () => number,
                              report: (details: Record<string, unknown>) => void): string | null {
    try {
        const Thread = Java.use("java.lang.Thread");
        const dispatch = Thread.dispatchUncaughtException;
        dispatch.implementation = function (this: Java.Wrapper, error: Java.Wrapper) {
            if (runningPid() === Process.id) {
                try {
                    flush();
                    report({ fault: "uncaught-exception", exception: String(error), thread: String(this.getName()),
                             last_apis: last.list() });
                    recv("crash:ack", () => undefined).wait();
                } catch (failure) {
                    // Never thrown into the app: the original runs below whatever happened here.
                }
            }
            return dispatch.call(this, error);
        };
        return null;
    } catch (failure) {
        return String(failure);
    }
}
