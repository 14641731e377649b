// Native and side-channel reads: C functions an app or SDK reaches without any Java API (Reardon et
// al., "50 Ways to Leak Your Data"). Entries are data (catalogue `native:`); this is their one
// installer. It needs no JVM, so it runs at init in every process, before the program's first
// instruction. Events carry a native backtrace and the library that made the call (payload.module).

import type { AgentConfig, NativeEntry, NativeWhen } from "./config.js";
import type { AgentEvent } from "./events.js";
import { stampNs } from "./clock.js";
import { EventQueue } from "./queue.js";
import { type Job, JobRegistry } from "./jobs.js";
import { RateLimiter } from "./limiter.js";
import { currentProcessName, dyingThreads, nativeThreadName } from "./process.js";
import { cap } from "./values.js";
import { enclosingJavaCall, javaHookDepth, javaStackOfNativeCaller } from "./installer.js";
import { SYSTEM_READERS } from "./platform.js";

// The VMs' own libraries: a read they make (the JVM opening /proc/cpuinfo) is made with the thread in the
// VM's own state, where no JNI call may be made, so no Java stack is asked for.
const VM_MODULES = new Set(["libjvm.so", "libart.so", "libartd.so", "libdvm.so"]);

const AF_INET = 2;
const AF_INET6 = 10;
const AF_PACKET = 17;

interface CompiledWhen {
    when: NativeWhen;
    patterns: RegExp[];
    integers: number[];
}

interface Group {
    address: NativePointer;
    module: string;
    entries: NativeEntry[];
    conditions: (CompiledWhen | null)[];
}

interface CallState {
    entry: NativeEntry;
    args: string[];
    valuePointer: NativePointer;
    valueText: string | null;
    stack: string[];
    caller: string | null;
    threadId: number;
}

function globToRegExp(glob: string): RegExp {
    const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*");
    return new RegExp(`^${escaped}$`);
}

function compile(when: NativeWhen | null): CompiledWhen | null {
    if (when === null) {
        return null;
    }
    return {
        when,
        patterns: when.match === "glob" ? when.values.map(globToRegExp) : [],
        integers: when.match === "int_in" || when.match === "port_in" ? when.values.map((value) => Number(BigInt(value))) : [],
    };
}

function readCString(pointer: NativePointer): string | null {
    if (pointer.isNull()) {
        return null;
    }
    try {
        return pointer.readUtf8String();
    } catch (error) {
        return `<unreadable: ${error}>`;
    }
}

// struct sockaddr_in { u16 family; u16 port (network order); u8 addr[4] } and sockaddr_in6 { u16 family;
// u16 port; u32 flowinfo; u8 addr[16] }: host and port as Java's Socket.connect records them. connect() only
// reads the struct, so on return it still holds what the caller asked for.
function readSockaddr(address: NativePointer): { value: string | null; extra: Record<string, unknown> } {
    if (address.isNull()) {
        return { value: null, extra: {} };
    }
    const family = address.readU16();
    const host = inetAddress(address);
    if (host === null) {
        return { value: null, extra: { family } };
    }
    const port = (address.add(2).readU8() << 8) | address.add(3).readU8();
    return { value: `${host}:${port}`, extra: { host, port: String(port) } };
}

// What kind of socket a descriptor is, read with getsockopt(SO_TYPE) (Linux and Android: SOL_SOCKET 1,
// SO_TYPE 3, SOCK_STREAM 1, SOCK_DGRAM 2): a UDP connect to port 443 is QUIC, which no HTTP proxy sees.
const SOL_SOCKET = 1;
const SO_TYPE = 3;
const TRANSPORTS: Record<number, string> = { 1: "tcp", 2: "udp" };
let getsockopt: NativeFunction<number, [number, number, number, NativePointerValue, NativePointerValue]> | null = null;

function socketTransport(fd: number): string | null {
    if (!Number.isInteger(fd) || fd < 0) {
        return null;
    }
    try {
        if (getsockopt === null) {
            getsockopt = new NativeFunction(Module.getGlobalExportByName("getsockopt"), "int",
                ["int", "int", "int", "pointer", "pointer"]);
        }
        const value = Memory.alloc(8);
        const length = Memory.alloc(4);
        length.writeU32(4);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, value, length) !== 0) {
            return null;
        }
        const type = value.readS32();
        return TRANSPORTS[type] ?? `type ${type}`;
    } catch (error) {
        return null;
    }
}

// An address family as the catalogue's `family_in` and the interface list name it.
function familyName(family: number): "inet" | "inet6" | "other" {
    return family === AF_INET ? "inet" : family === AF_INET6 ? "inet6" : "other";
}

// The IP address of a struct sockaddr_in / sockaddr_in6 as text (dotted IPv4, eight hex groups for IPv6),
// or null for another family.
function inetAddress(address: NativePointer): string | null {
    const family = address.readU16();
    if (family === AF_INET) {
        return Array.from(new Uint8Array(address.add(4).readByteArray(4)!)).join(".");
    }
    if (family === AF_INET6) {
        const bytes = new Uint8Array(address.add(8).readByteArray(16)!);
        const groups: string[] = [];
        for (let index = 0; index < 16; index += 2) {
            groups.push(((bytes[index] << 8) | bytes[index + 1]).toString(16));
        }
        return groups.join(":");
    }
    return null;
}

function hex(bytes: ArrayBuffer | null): string {
    if (bytes === null) {
        return "";
    }
    return Array.from(new Uint8Array(bytes), (byte) => (byte + 0x100).toString(16).slice(1)).join(":");
}

let getpid: NativeFunction<number, []> | null = null;

// The pid of the process running this code right now. `Process.id` is fixed when the script starts, so
// a forked child running the parent's copy of the script (and a vfork()ed child running in the
// parent's memory) still sees the parent's pid there.
export function runningPid(): number {
    if (getpid === null) {
        getpid = new NativeFunction(Module.getGlobalExportByName("getpid"), "int", []);
    }
    return getpid();
}

// True in a vfork()ed child (posix_spawn, the JVM's process launcher): it runs in the parent's memory
// until it execs, and must not touch the agent's state.
function inVforkChild(): boolean {
    return runningPid() !== Process.id;
}

export class NativeInstaller {
    // Threads running our own reads (the file a hook re-reads to learn the value): not the app's calls.
    private readonly busyThreads = new Set<number>();
    // Threads inside a reported call: fopen → open inside libc is one read by the caller of fopen.
    private readonly activeThreads = new Set<number>();
    private pending: NativeEntry[] = [];
    private readonly groups = new Map<string, Group>();
    recorded = 0;

    constructor(private readonly config: AgentConfig, private readonly queue: EventQueue,
                private readonly registry: JobRegistry, private readonly limiter: RateLimiter) {}

    installAll(): Job[] {
        const jobs = this.install(this.config.native);
        if (this.pending.length > 0) {
            // A library not loaded yet (a vendor .so): hook it the moment it is mapped.
            const observer = Process.attachModuleObserver({
                onAdded: () => {
                    const waiting = this.pending;
                    this.pending = [];
                    this.install(waiting);
                    if (this.pending.length === 0) {
                        observer.detach();
                    }
                },
            });
        }
        return jobs;
    }

    private resolve(entry: NativeEntry): NativePointer | null {
        if (entry.module === null) {
            return Module.findGlobalExportByName(entry.export);
        }
        const module = Process.findModuleByName(entry.module);
        return module === null ? null : module.findExportByName(entry.export);
    }

    private install(entries: NativeEntry[]): Job[] {
        const jobs: Job[] = [];
        const fresh: Group[] = [];
        for (const entry of entries) {
            const address = this.resolve(entry);
            if (address === null) {
                this.pending.push(entry);
                jobs.push(this.registry.add({
                    api: entry.api, hookClass: entry.module ?? "*", method: entry.export, overload: "-", entries: 1,
                    status: "failed", error: `${entry.export} is not exported by ${entry.module ?? "any loaded module"} (yet)`,
                }, null));
                continue;
            }
            const key = address.toString();
            const existing = this.groups.get(key);
            if (existing !== undefined) {
                // An alias of a function already hooked (glibc's open64 is open): one hook serves both. A probe
                // goes first: connect to frida-server's port is that probe, not one more connection.
                const listed = existing.entries.some((other) => other.api === entry.api);
                if (entry.kind === "anti_instrumentation") {
                    existing.entries.unshift(entry);
                    existing.conditions.unshift(compile(entry.when));
                } else {
                    existing.entries.push(entry);
                    existing.conditions.push(compile(entry.when));
                }
                if (listed) {
                    continue;   // the same function under the same name, another condition: its job is there
                }
                jobs.push(this.registry.add({
                    api: entry.api, hookClass: existing.module, method: entry.export, overload: key, entries: 1,
                    status: "installed", error: null,
                }, null));
                continue;
            }
            const module = Process.findModuleByAddress(address);
            const group: Group = { address, module: module?.name ?? "?", entries: [entry], conditions: [compile(entry.when)] };
            this.groups.set(key, group);
            fresh.push(group);
        }
        for (const group of fresh) {
            // Named after the entry that made the group (probes went ahead of it in the list).
            const first = group.entries.find((entry) => entry.kind !== "anti_instrumentation") ?? group.entries[0];
            let listener: InvocationListener | null = null;
            let error: string | null = null;
            try {
                listener = this.attach(group);
            } catch (failure) {
                error = `cannot hook: ${failure}`;
            }
            const attached = listener;
            jobs.push(this.registry.add({
                api: first.api, hookClass: group.module, method: first.export, overload: group.address.toString(),
                entries: group.entries.length, status: attached === null ? "failed" : "installed", error,
            }, attached === null ? null : () => attached.detach()));
        }
        return jobs;
    }

    private matches(condition: CompiledWhen | null, entry: NativeEntry, args: InvocationArguments): boolean {
        if (condition === null) {
            return true;
        }
        const raw = args[condition.when.arg];
        if (condition.when.match === "port_in") {
            // An IPv4/IPv6 struct sockaddr whose port is listed (a probe for frida-server's port).
            if (raw.isNull() || inetAddress(raw) === null) {
                return false;
            }
            return condition.integers.includes((raw.add(2).readU8() << 8) | raw.add(3).readU8());
        }
        if (condition.when.match === "family_in") {
            if (raw.isNull()) {
                return false;
            }
            return condition.when.values.includes(familyName(raw.readU16()));
        }
        if (condition.when.match === "int_in") {
            return condition.integers.includes(raw.toInt32() >>> 0) || condition.integers.includes(raw.toInt32());
        }
        if (entry.args[condition.when.arg] !== "cstring") {
            return false;
        }
        const text = readCString(raw);
        if (text === null) {
            return false;
        }
        const values = condition.when.values;
        switch (condition.when.match) {
            case "equals":
            case "in":
                return values.includes(text);
            case "prefix":
                return values.some((value) => text.startsWith(value));
            case "contains":
                return values.some((value) => text.includes(value));
            case "glob":
                return condition.patterns.some((pattern) => pattern.test(text));
        }
    }

    private attach(group: Group): InvocationListener {
        const installer = this;
        const maxChars = this.config.maxValueChars;
        return Interceptor.attach(group.address, {
            onEnter(args) {
                if (inVforkChild()) {
                    return;
                }
                const threadId = this.threadId;
                if (installer.busyThreads.has(threadId) || installer.activeThreads.has(threadId) || dyingThreads.has(threadId)) {
                    return;
                }
                if (Cloak.hasCurrentThread()) {
                    // One of Frida's own threads (the agent reading /proc/self/task/N/comm for a thread's name):
                    // never the app's call.
                    return;
                }
                let entry: NativeEntry | undefined;
                for (let index = 0; index < group.entries.length; index++) {
                    if (installer.matches(group.conditions[index], group.entries[index], args)) {
                        entry = group.entries[index];
                        break;
                    }
                }
                if (entry === undefined) {
                    return;
                }
                if (entry.kind === "connect" && javaHookDepth(threadId) > 0) {
                    // Java's Socket.connect is hooked and already recorded this connection, with the Java stack.
                    return;
                }
                const shown = entry.args.map((kind, index) => {
                    const raw = args[index];
                    if (kind === "cstring") {
                        return cap(readCString(raw) ?? "null", maxChars);
                    }
                    return kind === "int" ? String(raw.toInt32()) : raw.toString();
                });
                const callerModule = Process.findModuleByAddress(this.returnAddress);
                if (entry.kind === "anti_instrumentation" && callerModule !== null && SYSTEM_READERS.test(callerModule.name)) {
                    // libc's pthread_getattr_np, the loader or the VM reading the map for their own memory: not a probe.
                    return;
                }
                const state: CallState = {
                    entry, args: shown, valuePointer: args[entry.value_arg], threadId,
                    valueText: entry.value === "arg" || entry.value === "file" ? readCString(args[entry.value_arg]) : null,
                    stack: installer.backtrace(this.context),
                    caller: callerModule === null ? null : callerModule.name,
                };
                (this as unknown as { call: CallState }).call = state;
                installer.activeThreads.add(threadId);
            },
            onLeave(retval) {
                const state = (this as unknown as { call?: CallState }).call;
                if (state === undefined) {
                    return;
                }
                installer.activeThreads.delete(state.threadId);
                if (!installer.succeeded(state.entry, retval)) {
                    return;
                }
                if (!installer.limiter.allowed(state.entry.api)) {
                    return;
                }
                installer.busyThreads.add(state.threadId);
                try {
                    installer.emit(state, retval);
                } finally {
                    installer.busyThreads.delete(state.threadId);
                }
            },
        });
    }

    private succeeded(entry: NativeEntry, retval: InvocationReturnValue): boolean {
        switch (entry.success) {
            case "any":
                return true;
            case "nonnegative":
                return retval.toInt32() >= 0;
            case "nonnull":
                return !retval.isNull();
            case "zero":
                return retval.toInt32() === 0;
            case "positive":
                return retval.toInt32() > 0;
        }
    }

    private backtrace(context: CpuContext): string[] {
        const frames = Thread.backtrace(context, Backtracer.ACCURATE).slice(0, this.config.maxStackFrames);
        return frames.map((address) => DebugSymbol.fromAddress(address).toString());
    }

    private readValue(state: CallState): { value: string | null; extra: Record<string, unknown> } {
        const maxChars = this.config.maxValueChars;
        const entry = state.entry;
        switch (entry.value) {
            case "none":
                return { value: null, extra: {} };
            case "arg":
                return { value: state.valueText === null ? null : cap(state.valueText, maxChars), extra: {} };
            case "out_cstring":
                return { value: readCString(state.valuePointer), extra: {} };
            case "file": {
                // What the app got from the file (a MAC, the ARP table): sysfs/procfs files are small
                // and reading them again changes nothing. The path is in args and payload.path.
                const path = state.valueText;
                if (path === null) {
                    return { value: null, extra: {} };
                }
                try {
                    return { value: cap(File.readAllText(path).trim(), maxChars), extra: { path } };
                } catch (error) {
                    return { value: null, extra: { path, unreadable: String(error) } };
                }
            }
            case "ifaddrs":
                return this.readIfaddrs(state.valuePointer);
            case "sockaddr": {
                // Every socket call takes its descriptor first (connect, bind, sendto): its kind goes with the address.
                const read = readSockaddr(state.valuePointer);
                const transport = read.value === null ? null : socketTransport(parseInt(state.args[0], 10));
                return transport === null ? read : { value: read.value, extra: { ...read.extra, transport } };
            }
            case "ifreq_hwaddr": {
                const ifreq = state.valuePointer;
                const name = readCString(ifreq);
                const mac = hex(ifreq.add(18).readByteArray(6));
                return { value: mac, extra: { interface: name } };
            }
        }
    }

    // struct ifaddrs { next; name; flags (unsigned, padded to a pointer); addr; ... }
    private readIfaddrs(listHead: NativePointer): { value: string | null; extra: Record<string, unknown> } {
        const pointerSize = Process.pointerSize;
        const items: string[] = [];
        let node = listHead.readPointer();
        for (let count = 0; !node.isNull() && count < 256; count++) {
            const name = readCString(node.add(pointerSize).readPointer()) ?? "?";
            const address = node.add(pointerSize * 3).readPointer();
            if (!address.isNull()) {
                const family = address.readU16();
                if (family === AF_PACKET) {
                    const length = address.add(11).readU8();
                    items.push(`${name} mac ${hex(address.add(12).readByteArray(Math.min(length, 8)))}`);
                } else if (family === AF_INET || family === AF_INET6) {
                    items.push(`${name} ${familyName(family)} ${inetAddress(address)}`);
                }
            }
            node = node.readPointer();
        }
        return {
            value: cap(items.join(", "), this.config.maxValueChars),
            extra: { count: items.length, items: items.slice(0, this.config.maxListItems) },
        };
    }

    private emit(state: CallState, retval: InvocationReturnValue): void {
        const { value, extra } = this.readValue(state);
        const entry = state.entry;
        const event: AgentEvent = {
            source: "hook",
            kind: entry.kind,
            ts: null,
            device_ts: stampNs(),
            seq: null,
            pid: Process.id,
            process: currentProcessName(this.config.processName),
            thread: nativeThreadName(state.threadId),
            category: entry.category,
            api: entry.api,
            args: state.args,
            value,
            stack: state.stack,
            sdk: null,
            flow_id: null,
            payload: { native: true, module: state.caller, returned: retval.toString(), ...extra },
        };
        // A probe for instrumentation is its own event, whatever Java call it is made under.
        const javaCall = entry.kind === "anti_instrumentation" ? null : enclosingJavaCall(state.threadId);
        if (javaCall !== null) {
            // Made underneath a hooked Java API on this thread (the runtime's NetworkInterface asking the kernel
            // for a MAC): that Java call's read, kept as its detail (installer.ts).
            javaCall.details.push({ api: entry.api, value, args: state.args, module: state.caller, event });
            return;
        }
        if (javaStackOfNativeCaller !== null && (state.caller === null || !VM_MODULES.has(state.caller))) {
            // JNI code on a Java thread: the Java frames say which app or SDK class called into it.
            const javaStack = javaStackOfNativeCaller(state.threadId);
            if (javaStack !== null && javaStack.length > 0) {
                event.stack = javaStack;
                (event.payload as Record<string, unknown>).native_stack = state.stack;
            }
        }
        this.recorded++;
        this.queue.push(event);
    }
}
