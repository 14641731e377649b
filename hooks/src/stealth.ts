// `run --stealth`: the agent hidden from the usual anti-instrumentation probes, and nothing else changed.
// The probes are catalogue data (native entries of kind anti_instrumentation, recorded as events by the
// native installer whether or not stealth is on); an entry's `hide` says what is removed from its answer:
//   cloaked_ranges  — the lines of the process's own memory map that are Frida's memory (Cloak ranges:
//                     the agent library, its heaps and its threads' stacks);
//   cloaked_threads — Frida's threads (Cloak threads) left out of a listing of /proc/self/task (readdir), and
//                     /proc/self/task/TID/{comm,stat,status} of one of them fails to open (ENOENT), as for a
//                     thread that does not exist;
//   refuse          — a loopback connect to one of the entry's ports refused by the kernel itself (the
//                     address is swapped for port 0 of the same loopback: ECONNREFUSED, or EINPROGRESS then
//                     ECONNREFUSED on a non-blocking socket, exactly as when nothing listens).
// Files are answered by swapping the descriptor the app got for one holding the filtered text (a memfd
// moved onto the same descriptor number, close-on-exec kept): the app's own read/fgets/fscanf then read it.
// Only files of this process are touched (/proc/self, /proc/thread-self, /proc/<own pid>).

import type { AgentConfig, NativeEntry, NativeWhen } from "./config.js";
import { runningPid } from "./native.js";
import { SYSTEM_READERS } from "./platform.js";
import { type Job, JobRegistry } from "./jobs.js";

type FileHide = "cloaked_ranges" | "cloaked_threads";

interface Matcher {
    entry: NativeEntry;
    test: (args: InvocationArguments) => boolean;
}

interface Natives {
    read: NativeFunction<number, [number, NativePointerValue, number]>;
    write: NativeFunction<number, [number, NativePointerValue, number]>;
    close: NativeFunction<number, [number]>;
    lseek: NativeFunction<number, [number, number, number]>;
    dup3: NativeFunction<number, [number, number, number]>;
    fcntl: NativeFunction<number, [number, number]>;
    fileno: NativeFunction<number, [NativePointerValue]>;
    fclose: NativeFunction<number, [NativePointerValue]>;
    dirfd: NativeFunction<number, [NativePointerValue]>;
    readlink: NativeFunction<number, [NativePointerValue, NativePointerValue, number]>;
    memfdCreate: (name: NativePointer) => number;
}

const F_GETFD = 1;
const FD_CLOEXEC = 1;
const O_CLOEXEC = 0o2000000;
const SEEK_SET = 0;
const ENOENT = 2;
const MEMFD_SYSCALL: Record<string, number> = { x64: 319, arm64: 279, arm: 385, ia32: 356 };

export interface StealthCounters {
    map_lines_hidden: number;
    thread_files_hidden: number;
    tasks_hidden: number;
    connects_refused: number;
    errors: number;
    last_error: string | null;
}

function globToRegExp(glob: string): RegExp {
    const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*");
    return new RegExp(`^${escaped}$`);
}

function isLoopback(address: NativePointer): boolean {
    const family = address.readU16();
    if (family === 2) {
        return address.add(4).readU8() === 127 || address.add(4).readU32() === 0;
    }
    if (family === 10) {
        const bytes = new Uint8Array(address.add(8).readByteArray(16)!);
        const v4mapped = bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
        if (v4mapped) {
            return bytes[12] === 127;
        }
        return bytes.slice(0, 15).every((byte) => byte === 0) && (bytes[15] === 1 || bytes[15] === 0);
    }
    return false;
}

function sockaddrPort(address: NativePointer): number {
    return (address.add(2).readU8() << 8) | address.add(3).readU8();
}

export class Stealth {
    readonly counters: StealthCounters = {
        map_lines_hidden: 0, thread_files_hidden: 0, tasks_hidden: 0, connects_refused: 0, errors: 0, last_error: null,
    };
    private natives: Natives | null = null;
    private readonly busy = new Set<number>();
    // DIR* the app reads → whether it lists this process's threads (/proc/<own pid>/task); forgotten at closedir.
    private readonly taskDirs = new Map<string, boolean>();
    private readonly hooked = new Set<string>();

    constructor(private readonly config: AgentConfig, private readonly registry: JobRegistry) {}

    installAll(): Job[] {
        const entries = this.config.native.filter((entry) => entry.kind === "anti_instrumentation" && entry.hide !== null);
        const byAddress = new Map<string, { address: NativePointer; matchers: Matcher[] }>();
        const jobs: Job[] = [];
        for (const entry of entries) {
            const address = entry.module === null ? Module.findGlobalExportByName(entry.export)
                : Process.findModuleByName(entry.module)?.findExportByName(entry.export) ?? null;
            if (address === null) {
                jobs.push(this.registry.add({
                    api: `stealth:${entry.category}`, hookClass: entry.module ?? "*", method: entry.export, overload: "-",
                    entries: 1, status: "failed", error: `${entry.export} is not exported`,
                }, null));
                continue;
            }
            const key = address.toString();
            const group = byAddress.get(key) ?? { address, matchers: [] };
            group.matchers.push({ entry, test: this.compile(entry) });
            byAddress.set(key, group);
        }
        for (const [key, group] of byAddress) {
            if (this.hooked.has(key)) {
                continue;
            }
            this.hooked.add(key);
            const first = group.matchers[0].entry;
            let listener: InvocationListener | null = null;
            let error: string | null = null;
            try {
                listener = this.attach(group.address, group.matchers);
            } catch (failure) {
                error = `cannot hook: ${failure}`;
            }
            const attached = listener;
            jobs.push(this.registry.add({
                api: `stealth:${group.matchers.map((matcher) => matcher.entry.category).join("+")}`, hookClass: "*",
                method: first.export, overload: key, entries: group.matchers.length,
                status: attached === null ? "failed" : "installed", error,
            }, attached === null ? null : () => attached.detach()));
        }
        if (entries.some((entry) => entry.hide === "cloaked_threads")) {
            jobs.push(...this.hookReaddir());
        }
        return jobs;
    }

    private compile(entry: NativeEntry): (args: InvocationArguments) => boolean {
        const when: NativeWhen | null = entry.when;
        if (when === null) {
            return () => true;
        }
        if (when.match === "port_in") {
            const ports = when.values.map((value) => Number(BigInt(value)));
            return (args) => {
                const address = args[when.arg];
                if (address.isNull()) {
                    return false;
                }
                const family = address.readU16();
                return (family === 2 || family === 10) && ports.includes(sockaddrPort(address)) && isLoopback(address);
            };
        }
        const patterns = when.match === "glob" ? when.values.map(globToRegExp) : [];
        return (args) => {
            const raw = args[when.arg];
            if (raw.isNull()) {
                return false;
            }
            let text: string | null;
            try {
                text = raw.readUtf8String();
            } catch (error) {
                return false;
            }
            if (text === null) {
                return false;
            }
            switch (when.match) {
                case "glob":
                    return patterns.some((pattern) => pattern.test(text!));
                case "equals":
                case "in":
                    return when.values.includes(text);
                case "prefix":
                    return when.values.some((value) => text!.startsWith(value));
                case "contains":
                    return when.values.some((value) => text!.includes(value));
                default:
                    return false;
            }
        };
    }

    private attach(address: NativePointer, matchers: Matcher[]): InvocationListener {
        const stealth = this;
        return Interceptor.attach(address, {
            onEnter(args) {
                if (runningPid() !== Process.id || stealth.busy.has(this.threadId) || Cloak.hasCurrentThread()) {
                    return;
                }
                const matched = matchers.find((matcher) => matcher.test(args));
                if (matched === undefined) {
                    return;
                }
                const caller = Process.findModuleByAddress(this.returnAddress);
                if (caller !== null && SYSTEM_READERS.test(caller.name)) {
                    // libc, the loader or the VM reading the map for its own memory management: answered truly.
                    return;
                }
                const entry = matched.entry;
                if (entry.hide === "refuse") {
                    // Kept with the call: the swapped address must live until connect returns.
                    (this as unknown as { address: NativePointer }).address = stealth.refuse(args);
                    return;
                }
                const path = entry.args[entry.value_arg] === "cstring" ? args[entry.value_arg].readUtf8String() : null;
                if (path === null || !stealth.ownProcessFile(path)) {
                    return;
                }
                (this as unknown as { stealth: { entry: NativeEntry; path: string } }).stealth = { entry, path };
            },
            onLeave(retval) {
                const call = (this as unknown as { stealth?: { entry: NativeEntry; path: string } }).stealth;
                if (call === undefined) {
                    return;
                }
                stealth.busy.add(this.threadId);
                try {
                    stealth.answer(call.entry, call.path, retval, this);
                } catch (error) {
                    stealth.counters.errors++;
                    stealth.counters.last_error = `${call.entry.export} ${call.path}: ${error}`;
                } finally {
                    stealth.busy.delete(this.threadId);
                }
            },
        });
    }

    // /proc/self/…, /proc/thread-self/…, /proc/<own pid>/…: another process's files are not ours to filter.
    private ownProcessFile(path: string): boolean {
        const parts = path.split("/");
        if (parts.length < 3 || parts[1] !== "proc") {
            return false;
        }
        const who = parts[2];
        return who === "self" || who === "thread-self" || who === String(runningPid());
    }

    private refuse(args: InvocationArguments): NativePointer {
        // The same loopback address with port 0: the kernel refuses it as it refuses a port nobody listens on.
        const original = args[1];
        const length = Math.max(16, Math.min(args[2].toInt32(), 128));
        const copy = Memory.alloc(length);
        Memory.copy(copy, original, length);
        copy.add(2).writeU16(0);
        args[1] = copy;
        this.counters.connects_refused++;
        return copy;
    }

    private answer(entry: NativeEntry, path: string, retval: InvocationReturnValue, context: InvocationContext): void {
        const natives = this.resolveNatives();
        let fd: number;
        if (entry.export.startsWith("fopen")) {
            if (retval.isNull()) {
                return;
            }
            fd = natives.fileno(retval);
        } else if (entry.export.startsWith("open")) {
            fd = retval.toInt32();
        } else {
            return;
        }
        if (fd < 0) {
            return;
        }
        if (entry.hide === "cloaked_threads") {
            const tid = /\/task\/(\d+)\//.exec(path);
            if (tid !== null && Cloak.hasThread(Number(tid[1]))) {
                // One of Frida's threads: for the app it does not exist, as in the listing.
                this.counters.thread_files_hidden++;
                if (entry.export.startsWith("fopen")) {
                    natives.fclose(retval);
                    retval.replace(ptr(0));
                } else {
                    natives.close(fd);
                    retval.replace(ptr(-1));
                }
                context.errno = ENOENT;
                return;
            }
            return;
        }
        const text = this.readAll(fd);
        const filtered = this.filter(entry.hide as FileHide, path, text);
        if (filtered === text) {
            this.rewind(fd);
            return;
        }
        this.swap(fd, filtered);
    }

    private filter(hide: FileHide, path: string, text: string): string {
        if (hide === "cloaked_ranges") {
            const kept: string[] = [];
            let hidden = 0;
            // smaps: a range's header line is followed by its attribute lines; all go with the header.
            let hiding = false;
            for (const line of text.split("\n")) {
                const range = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
                if (range !== null) {
                    hiding = Cloak.hasRangeContaining(ptr(`0x${range[1]}`));
                    if (hiding) {
                        hidden++;
                    }
                }
                if (!hiding) {
                    kept.push(line);
                }
            }
            this.counters.map_lines_hidden += hidden;
            return hidden === 0 ? text : kept.join("\n");
        }
        return text;
    }

    // The whole file as one character per byte (/proc text is ASCII but for file names, which then go back
    // out byte for byte).
    private readAll(fd: number): string {
        const natives = this.resolveNatives();
        const size = 65536;
        const buffer = Memory.alloc(size);
        const chunks: string[] = [];
        for (;;) {
            const count = natives.read(fd, buffer, size);
            if (count <= 0) {
                break;
            }
            const view = new Uint8Array(buffer.readByteArray(count)!);
            for (let index = 0; index < view.length; index += 8192) {
                chunks.push(String.fromCharCode(...view.subarray(index, index + 8192)));
            }
        }
        return chunks.join("");
    }

    private rewind(fd: number): void {
        this.resolveNatives().lseek(fd, 0, SEEK_SET);
    }

    private swap(fd: number, text: string): void {
        const natives = this.resolveNatives();
        const name = Memory.allocUtf8String("stealth");
        const memfd = natives.memfdCreate(name);
        if (memfd < 0) {
            throw new Error("memfd_create failed");
        }
        try {
            const length = text.length;
            const data = Memory.alloc(Math.max(length, 1));
            const bytes = new Uint8Array(length);
            for (let index = 0; index < length; index++) {
                bytes[index] = text.charCodeAt(index);
            }
            data.writeByteArray(bytes.buffer as ArrayBuffer);
            let written = 0;
            while (written < length) {
                const count = natives.write(memfd, data.add(written), length - written);
                if (count <= 0) {
                    throw new Error("write to memfd failed");
                }
                written += count;
            }
            natives.lseek(memfd, 0, SEEK_SET);
            const cloexec = (natives.fcntl(fd, F_GETFD) & FD_CLOEXEC) !== 0;
            if (natives.dup3(memfd, fd, cloexec ? O_CLOEXEC : 0) < 0) {
                throw new Error("dup3 failed");
            }
        } finally {
            natives.close(memfd);
        }
    }

    // readdir is answered from its onEnter: under child gating Frida's own agent replaces readdir and opendir
    // (to hide its descriptors), and a listener's onLeave on them never runs (measured, frida 17.2). So before
    // the app's readdir runs, the entries that are Frida's threads are read past and the position set (seekdir)
    // at the first entry the app may see: the app's own call then returns it, or the end of the list.
    private hookReaddir(): Job[] {
        const jobs: Job[] = [];
        const stealth = this;
        const wide = Process.pointerSize === 8 || Process.findModuleByName("libc.so.6") === null;
        const telldir = new NativeFunction(Module.getGlobalExportByName("telldir"), "long", ["pointer"]);
        const seekdir = new NativeFunction(Module.getGlobalExportByName("seekdir"), "void", ["pointer", "long"]);
        for (const name of ["readdir", "readdir64"]) {
            const address = Module.findGlobalExportByName(name);
            if (address === null || this.hooked.has(address.toString())) {
                continue;
            }
            this.hooked.add(address.toString());
            // struct dirent64 (and Bionic's dirent, and glibc's on 64-bit): u64 ino, s64 off, u16 reclen, u8 type,
            // name; glibc's 32-bit dirent: u32, s32, u16, u8, name.
            const nameOffset = name === "readdir64" || wide ? 19 : 11;
            const original = new NativeFunction(address, "pointer", ["pointer"]);
            const listener = Interceptor.attach(address, {
                onEnter(args) {
                    const dir = args[0];
                    if (stealth.busy.has(this.threadId) || runningPid() !== Process.id || Cloak.hasCurrentThread()) {
                        return;
                    }
                    stealth.busy.add(this.threadId);
                    try {
                        if (!stealth.isTaskDir(dir)) {
                            return;
                        }
                        for (;;) {
                            const position = telldir(dir);
                            const entry = original(dir);
                            if (entry.isNull() || !stealth.hiddenTask(entry.add(nameOffset).readUtf8String())) {
                                seekdir(dir, position);
                                return;
                            }
                            stealth.counters.tasks_hidden++;
                        }
                    } catch (error) {
                        stealth.counters.errors++;
                        stealth.counters.last_error = `${name}: ${error}`;
                    } finally {
                        stealth.busy.delete(this.threadId);
                    }
                },
            });
            jobs.push(this.registry.add({
                api: "stealth:thread_list", hookClass: "*", method: name, overload: address.toString(), entries: 1,
                status: "installed", error: null,
            }, () => listener.detach()));
        }
        const closedir = Module.findGlobalExportByName("closedir");
        if (closedir !== null && !this.hooked.has(closedir.toString())) {
            this.hooked.add(closedir.toString());
            const listener = Interceptor.attach(closedir, {
                onEnter(args) {
                    stealth.taskDirs.delete(args[0].toString());
                },
            });
            jobs.push(this.registry.add({
                api: "stealth:thread_list", hookClass: "*", method: "closedir", overload: closedir.toString(), entries: 1,
                status: "installed", error: null,
            }, () => listener.detach()));
        }
        return jobs;
    }

    private isTaskDir(dir: NativePointer): boolean {
        const key = dir.toString();
        let known = this.taskDirs.get(key);
        if (known === undefined) {
            const natives = this.resolveNatives();
            const fd = natives.dirfd(dir);
            known = false;
            if (fd >= 0) {
                const buffer = Memory.alloc(512);
                const length = natives.readlink(Memory.allocUtf8String(`/proc/self/fd/${fd}`), buffer, 511);
                if (length > 0) {
                    known = buffer.readUtf8String(length) === `/proc/${runningPid()}/task`;
                }
            }
            this.taskDirs.set(key, known);
        }
        return known;
    }

    private hiddenTask(name: string | null): boolean {
        return name !== null && /^\d+$/.test(name) && Cloak.hasThread(Number(name));
    }

    private resolveNatives(): Natives {
        if (this.natives === null) {
            const find = (name: string): NativePointer => Module.getGlobalExportByName(name);
            const memfdExport = Module.findGlobalExportByName("memfd_create");
            let memfdCreate: (name: NativePointer) => number;
            if (memfdExport !== null) {
                const call = new NativeFunction(memfdExport, "int", ["pointer", "uint"]);
                memfdCreate = (name) => call(name, 1);   // MFD_CLOEXEC: our own descriptor, closed after dup3
            } else {
                const syscall = new NativeFunction(find("syscall"), "long", ["long", "pointer", "uint"]);
                const number = MEMFD_SYSCALL[Process.arch];
                memfdCreate = (name) => Number(syscall(number, name, 1));
            }
            this.natives = {
                read: new NativeFunction(find("read"), "int", ["int", "pointer", "int"]),
                write: new NativeFunction(find("write"), "int", ["int", "pointer", "int"]),
                close: new NativeFunction(find("close"), "int", ["int"]),
                lseek: new NativeFunction(find("lseek"), "int", ["int", "int", "int"]),
                dup3: new NativeFunction(find("dup3"), "int", ["int", "int", "int"]),
                fcntl: new NativeFunction(find("fcntl"), "int", ["int", "int"]),
                fileno: new NativeFunction(find("fileno"), "int", ["pointer"]),
                fclose: new NativeFunction(find("fclose"), "int", ["pointer"]),
                dirfd: new NativeFunction(find("dirfd"), "int", ["pointer"]),
                readlink: new NativeFunction(find("readlink"), "int", ["pointer", "pointer", "int"]),
                memfdCreate,
            };
        }
        return this.natives;
    }
}
