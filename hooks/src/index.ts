// consentmon agent. The host loads it, calls `init` with the hook catalogue before the process runs,
// and then receives batched `events:add` messages. See monitor/agent/session.py for the other side.

import Java from "frida-java-bridge";

import type { AgentConfig } from "./config.js";
import { EventQueue } from "./queue.js";
import { Installer, type Job } from "./installer.js";
import { nowNs } from "./clock.js";

let queue: EventQueue | null = null;
let installer: Installer | null = null;
let installedJobs: Job[] = [];
let jvmCreateSeen = false;

function status(phase: string, extra: Record<string, unknown> = {}): void {
    send({ type: "agent:status", phase, device_ts: nowNs(), pid: Process.id, ...extra });
}

function installJavaHooks(): void {
    Java.perform(() => {
        installedJobs = installer!.installAll();
        const failed = installedJobs.filter((job) => job.status === "failed");
        status("hooks-installed", { installed: installedJobs.length - failed.length, failed: failed.length, jobs: installedJobs });
    });
}

// The launcher calls DestroyJavaVM when `main` returns; the VM then waits for every attached thread,
// ours included, so it would never exit while we are attached. Tell the host, which flushes and detaches.
function watchJvmEnd(jvm: Module): void {
    const destroy = jvm.findSymbolByName("jni_DestroyJavaVM");
    if (destroy !== null) {
        Interceptor.attach(destroy, {
            onEnter() {
                queue?.flush();
                status("process-ending", { reason: "DestroyJavaVM" });
            },
        });
    }
    const halt = jvm.findExportByName("JVM_Halt");
    if (halt !== null) {
        Interceptor.attach(halt, {
            onEnter(args) {
                queue?.flush();
                status("process-ending", { reason: "JVM_Halt", code: args[0].toInt32() });
            },
        });
    }
}

// Host JVM targets are spawned suspended, before libjvm is even loaded. Hooking JNI_CreateJavaVM's
// return puts our hooks in on the thread that created the VM, before the launcher loads `main`.
function hookJvmCreation(jvm: Module): void {
    watchJvmEnd(jvm);
    const create = jvm.getExportByName("JNI_CreateJavaVM");
    Interceptor.attach(create, {
        onLeave(result) {
            if (!jvmCreateSeen && result.toInt32() === 0) {
                jvmCreateSeen = true;
                installJavaHooks();
            }
        },
    });
}

function waitForJvm(): void {
    const loaded = Process.findModuleByName("libjvm.so");
    if (loaded !== null) {
        watchJvmEnd(loaded);
        installJavaHooks();
        return;
    }
    const observer = Process.attachModuleObserver({
        onAdded(module) {
            if (module.name === "libjvm.so") {
                hookJvmCreation(module);
                observer.detach();
            }
        },
    });
}

rpc.exports = {
    init(config: AgentConfig): { pid: number; hooks: number } {
        queue = new EventQueue(config.flushIntervalMs, config.flushBatchSize);
        installer = new Installer(config, queue);
        if (config.waitForJvm) {
            waitForJvm();
        } else if (Java.available) {
            installJavaHooks();
        } else {
            status("no-java", { reason: "Java.available is false and waitForJvm is off" });
        }
        return { pid: Process.id, hooks: config.hooks.length };
    },
    jobs(): Job[] {
        return installer === null ? [] : installer.jobs();
    },
    removeJob(id: number): boolean {
        return installer !== null && installer.remove(id);
    },
    flush(): number {
        return queue === null ? 0 : queue.flush();
    },
    stats(): Record<string, unknown> {
        return {
            sent: queue?.sent ?? 0,
            recorded: installer?.counters.recorded ?? 0,
            rate_limited: installer?.counters.rateLimited ?? {},
            record_errors: installer?.counters.recordErrors ?? 0,
            last_record_error: installer?.counters.lastRecordError ?? null,
        };
    },
    // Called by Frida when the script unloads, including at process exit: the last batch goes out here.
    dispose(): void {
        queue?.flush();
        if (installer !== null) {
            status("disposed", { stats: installer.counters });
        }
    },
};
