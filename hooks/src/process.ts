// Which process an event comes from: the name the host gave, else the command line (on Android the
// process name, e.g. com.example.app:push), read once per process.

let cachedName: string | null = null;
let cachedPid = -1;

export function currentProcessName(configured: string | null): string {
    if (configured !== null) {
        return configured;
    }
    // A forked child keeps our module state: the pid tells us the cached name is the parent's.
    if (cachedName === null || cachedPid !== Process.id) {
        let name = `pid:${Process.id}`;
        try {
            // cmdline is NUL-separated: reading it as text fails on the first NUL, so take the bytes.
            const bytes = new Uint8Array(File.readAllBytes("/proc/self/cmdline"));
            const end = bytes.indexOf(0);
            const first = String.fromCharCode(...bytes.subarray(0, end < 0 ? bytes.length : end));
            if (first.length > 0) {
                name = decodeURIComponent(escape(first));
            }
        } catch (error) {
            name = `pid:${Process.id} (${error})`;
        }
        cachedName = name;
        cachedPid = Process.id;
    }
    return cachedName;
}

const threadNames = new Map<number, string>();

// A thread's name without Java (native-only processes): /proc/self/task/TID/comm.
export function nativeThreadName(threadId: number): string | null {
    let name = threadNames.get(threadId);
    if (name === undefined) {
        try {
            name = File.readAllText(`/proc/self/task/${threadId}/comm`).trim();
        } catch (error) {
            name = `tid:${threadId}`;
        }
        threadNames.set(threadId, name);
    }
    return name;
}

// Threads in a native fault the agent reported (crash.ts), on their way into the app's or the runtime's own fault
// handler: what that handler does (ART's crash dump reads /proc/self/maps, thread names…) is not the app's
// behaviour, and no Java may be called from it (JNI inside a signal handler aborts the runtime). The native hooks
// leave these threads alone.
export const dyingThreads = new Set<number>();
