// Foreground/background from the system's view of the process, for apps whose activities never reach
// Activity.onResume/onPause through super (or that have no activity, e.g. a `:push` service process).
// Samples ActivityManager.getMyMemoryState and reports changes as lifecycle events.

import Java from "frida-java-bridge";

import type { AgentConfig } from "./config.js";
import type { AgentEvent } from "./events.js";
import { stampNs } from "./clock.js";
import { EventQueue } from "./queue.js";
import { currentProcessName } from "./process.js";
import { type JavaValue, useClass } from "./values.js";

const API = "android.app.ActivityManager.getMyMemoryState";
// RunningAppProcessInfo.IMPORTANCE_FOREGROUND and IMPORTANCE_FOREGROUND_SERVICE: the user sees the app.
const FOREGROUND_MAX = 125;

export class ImportanceWatcher {
    private last: number | null = null;

    constructor(private readonly config: AgentConfig, private readonly queue: EventQueue) {}

    // Must run inside Java.perform. A VM without these classes (a host JVM) simply has no importance.
    start(): boolean {
        let infoClass: JavaValue;
        let managerClass: JavaValue;
        try {
            managerClass = useClass("android.app.ActivityManager");
            infoClass = useClass("android.app.ActivityManager$RunningAppProcessInfo");
            if (managerClass.getMyMemoryState === undefined) {
                return false;
            }
        } catch (error) {
            return false;
        }
        setInterval(() => {
            Java.perform(() => {
                const info = infoClass.$new();
                managerClass.getMyMemoryState(info);
                this.observe(Number(info.importance.value));
            });
        }, this.config.importancePollMs);
        return true;
    }

    private observe(importance: number): void {
        if (importance === this.last) {
            return;
        }
        this.last = importance;
        const event: AgentEvent = {
            source: "hook", kind: "lifecycle", ts: null, device_ts: stampNs(), seq: null,
            pid: Process.id, process: currentProcessName(this.config.processName), thread: null,
            category: importance <= FOREGROUND_MAX ? "foreground" : "background", api: API, args: null,
            value: String(importance), stack: null, sdk: null, flow_id: null,
            payload: { importance, this_class: null, sampled: true },
        };
        this.queue.push(event);
    }
}
