// consentmon agent. The host loads it, calls `init` with the hook catalogue before the process runs,
// and then receives batched `events:add` messages. See monitor/agent/session.py for the other side.

import Java from "frida-java-bridge";

import type { AgentConfig } from "./config.js";
import { EventQueue } from "./queue.js";
import { installUnpin } from "./unpin.js";
import { Installer } from "./installer.js";
import { type Job, JobRegistry } from "./jobs.js";
import { RateLimiter } from "./limiter.js";
import { NativeInstaller, runningPid } from "./native.js";
import { ImportanceWatcher } from "./importance.js";
import { nowNs } from "./clock.js";
import { ClassWatch } from "./classwatch.js";
import { Stealth } from "./stealth.js";
import { LastApis, noteQueued, watchFaults, watchUncaught } from "./crash.js";

let queue: EventQueue | null = null;
let installer: Installer | null = null;
let nativeInstaller: NativeInstaller | null = null;
let limiter: RateLimiter | null = null;
let classWatch: ClassWatch | null = null;
let stealth: Stealth | null = null;
let lastApis: LastApis | null = null;
const registry = new JobRegistry();
let jvmCreateSeen = false;

function status(phase: string, extra: Record<string, unknown> = {}): void {
    send({ type: "agent:status", phase, device_ts: nowNs(), pid: Process.id, ...extra });
}

function reportInstalled(scope: string, jobs: Job[]): void {
    const failed = jobs.filter((job) => job.status === "failed");
    status("hooks-installed", { scope, installed: jobs.length - failed.length, failed: failed.length, jobs });
}

function installJavaHooks(config: AgentConfig): void {
    Java.perform(() => {
        reportInstalled("java", installer!.installAll());
        const uncaught = watchUncaught(lastApis!, flushAll, (details) => status("crashing", details));
        if (uncaught !== null) {
            status("crash-watch", { java: uncaught });
        }
        if (config.unpin.length > 0) {
            status("tls-unpinning", {
                entries: installUnpin(config.unpin, queue!, config.processName,
                                      (name, install) => installer!.whenDefined(name, install),
                                      (result, where) => status("tls-unpinning", { entries: [result], loader: where })),
            });
        }
        // From here on, every class a class loader defines is looked at: catalogue classes absent at start
        // (or a loader's own copy of one) and overrides of `overrides` entries are hooked as they appear.
        classWatch = new ClassWatch();
        const backend = classWatch.start();
        installer!.watch(classWatch, (jobs, detail) => {
            const failed = jobs.filter((job) => job.status === "failed");
            status("hooks-installed", { scope: "java-late", installed: jobs.length - failed.length, failed: failed.length, jobs, ...detail });
        });
        // A job like every hook: listed, and removable (bench/hooks/classload.py measures start-up without it).
        const watch = classWatch;
        const job = registry.add({
            api: "class-watch", hookClass: "*", method: "defineClass", overload: backend, entries: 0,
            status: watch.watching > 0 ? "installed" : "failed", error: watch.watching > 0 ? null : backend,
        }, () => watch.stop());
        status("class-watch", { backend, job: job.id });
        if (config.importancePollMs > 0) {
            new ImportanceWatcher(config, queue!).start();
        }
    });
}

let dropReportTimer: ReturnType<typeof setTimeout> | null = null;

// Drops by the rate limit go out as an agent event before the events that follow them are flushed.
function reportDrops(): void {
    if (dropReportTimer !== null) {
        clearTimeout(dropReportTimer);
        dropReportTimer = null;
    }
    const report = limiter?.takeReport() ?? null;
    if (report !== null) {
        queue!.push(report);
    }
}

function flushAll(): number {
    reportDrops();
    return queue === null ? 0 : queue.flush();
}

// No hook on fork(): a script listener on fork runs while Frida is preparing the fork, and with one
// installed the parent's session was detached ("application-requested") after a fork or two and later
// forks were no longer gated (measured, frida 17.2; tests/agent/test_exec_children.py). Events pending
// at fork stay with the parent and go out on its next flush; the child's copy of them is dropped with
// the parent's script copy (see dispose).

// The launcher calls DestroyJavaVM when `main` returns; the VM then waits for every attached thread,
// ours included, so it would never exit while we are attached. Tell the host, which flushes and detaches.
function watchJvmEnd(jvm: Module): void {
    announceEnd(jvm.findSymbolByName("jni_DestroyJavaVM"), "DestroyJavaVM");
    announceEnd(jvm.findExportByName("JVM_Halt"), "JVM_Halt", 0);
}

// A VM function that ends the process (when present): on entry the queued events go out and the host is told,
// with the exit code when `codeArg` names the argument holding it.
function announceEnd(address: NativePointer | null, reason: string, codeArg: number | null = null): void {
    if (address === null) {
        return;
    }
    Interceptor.attach(address, {
        onEnter(args) {
            flushAll();
            status("process-ending", codeArg === null ? { reason } : { reason, code: args[codeArg].toInt32() });
        },
    });
}

// Host JVM targets are spawned suspended, before libjvm is even loaded. Hooking JNI_CreateJavaVM's
// return puts our hooks in on the thread that created the VM, before the launcher loads `main`.
function hookJvmCreation(jvm: Module, config: AgentConfig): void {
    watchJvmEnd(jvm);
    const create = jvm.getExportByName("JNI_CreateJavaVM");
    Interceptor.attach(create, {
        onLeave(result) {
            if (!jvmCreateSeen && result.toInt32() === 0) {
                jvmCreateSeen = true;
                installJavaHooks(config);
            }
        },
    });
}

// Host ART (Android's runtime run by a launcher, tests/support/art): the launcher links libart.so, so it is
// mapped at spawn, before JNI_CreateJavaVM has run. The same early point as HotSpot's: that call's return,
// on the thread that created the VM, before the launcher loads `main`. The VM's end tells the host as
// jni_DestroyJavaVM does on HotSpot (ART's JII::DestroyJavaVM, exported weak).
function hookArtCreation(art: Module, config: AgentConfig, running: boolean): void {
    announceEnd(art.findExportByName("_ZN3art3JII13DestroyJavaVMEP7_JavaVM"), "DestroyJavaVM");
    if (running) {
        installJavaHooks(config);
        return;
    }
    Interceptor.attach(art.getExportByName("JNI_CreateJavaVM"), {
        onLeave(result) {
            if (!jvmCreateSeen && result.toInt32() === 0) {
                jvmCreateSeen = true;
                installJavaHooks(config);
            }
        },
    });
}

function waitForJvm(config: AgentConfig): void {
    const art = Process.findModuleByName("libart.so");
    if (art !== null) {
        hookArtCreation(art, config, Java.available);
        return;
    }
    const loaded = Process.findModuleByName("libjvm.so");
    if (loaded !== null) {
        watchJvmEnd(loaded);
        installJavaHooks(config);
        return;
    }
    const observer = Process.attachModuleObserver({
        onAdded(module) {
            if (module.name === "libjvm.so") {
                hookJvmCreation(module, config);
                observer.detach();
            }
        },
    });
}

rpc.exports = {
    init(config: AgentConfig): { pid: number; hooks: number; native: number } {
        queue = new EventQueue(config.flushIntervalMs, config.flushBatchSize);
        // The last APIs recorded go with a native fault (crash.ts): which hooks fired just before the app died.
        lastApis = new LastApis(16);
        noteQueued(queue, lastApis);
        watchFaults(lastApis, flushAll, (details) => status("crashing", details));
        limiter = new RateLimiter(config.maxEventsPerApiPerSecond, config.processName);
        installer = new Installer(config, queue, registry, limiter);
        nativeInstaller = new NativeInstaller(config, queue, registry, limiter);
        // Native hooks need no VM: in every process they are in before its first instruction runs.
        reportInstalled("native", nativeInstaller.installAll());
        if (config.stealth) {
            // After the native installer: its probe records see the call as the app made it.
            stealth = new Stealth(config, registry);
            reportInstalled("stealth", stealth.installAll());
        }
        // No standing timer: a report is scheduled when a drop starts a new one.
        limiter.onFirstDrop = () => {
            if (dropReportTimer === null && config.rateLimitReportMs > 0) {
                dropReportTimer = setTimeout(reportDrops, config.rateLimitReportMs);
            }
        };
        if (config.waitForJvm) {
            waitForJvm(config);
        } else if (Java.available) {
            installJavaHooks(config);
        } else {
            status("no-java", { reason: "no Java VM in this process: native hooks only" });
        }
        return { pid: Process.id, hooks: config.hooks.length, native: config.native.length };
    },
    jobs(): Job[] {
        return registry.list();
    },
    removeJob(id: number): boolean {
        return registry.remove(id);
    },
    flush(): number {
        return flushAll();
    },
    stats(): Record<string, unknown> {
        return {
            sent: queue?.sent ?? 0,
            recorded: (installer?.counters.recorded ?? 0) + (nativeInstaller?.recorded ?? 0),
            recorded_java: installer?.counters.recorded ?? 0,
            recorded_native: nativeInstaller?.recorded ?? 0,
            rate_limited: limiter?.dropped ?? {},
            record_errors: installer?.counters.recordErrors ?? 0,
            last_record_error: installer?.counters.lastRecordError ?? null,
            classes_defined: classWatch?.defined ?? 0,
            class_watch_errors: classWatch?.errors ?? 0,
            class_watch_last_error: classWatch?.lastError ?? null,
            stealth: stealth?.counters ?? null,
        };
    },
    // Called by Frida when the script unloads, including at process exit: the last batch goes out here.
    // Frida also calls it in a forked child, on the parent's copy of this script, while it drops the
    // sessions the child inherited. A message sent from there goes out on the parent's session and
    // the child later dies with SIGSEGV when it execs a program that does not exist (measured: frida
    // 17.2, any script whose dispose sends; tests/agent/test_exec_children.py). The child gets its
    // own agent from the host, and the parent keeps (and sends) its own pending events: this copy has
    // nothing to say.
    dispose(): void {
        if (runningPid() !== Process.id) {
            return;
        }
        flushAll();
        if (installer !== null) {
            status("disposed", { stats: { ...installer.counters, native: nativeInstaller?.recorded ?? 0, rateLimited: limiter?.dropped ?? {} } });
        }
    },
};
