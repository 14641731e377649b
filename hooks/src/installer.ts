// The one generic Java installer: every catalogue entry becomes a hook on each overload of its method.
// Entries for the same method (e.g. ContentResolver.query told apart by URI authority) share one hook
// that reports the first entry whose condition holds. Whatever is recorded, the app gets exactly the
// original return value or the original exception.

import Java from "frida-java-bridge";

import type { AgentConfig, HookEntry, When } from "./config.js";
import type { AgentEvent } from "./events.js";
import { stampNs } from "./clock.js";
import { EventQueue } from "./queue.js";
import { type Job, JobRegistry } from "./jobs.js";
import { RateLimiter } from "./limiter.js";
import { currentProcessName } from "./process.js";
import { type JavaValue, isInstance, member, payloadValue, spanLinks, summariseList, toText, useClass, walk } from "./values.js";
import type { ClassWatch, DefinedClass } from "./classwatch.js";

export interface Counters {
    recorded: number;
    recordErrors: number;
    lastRecordError: string | null;
}

function argText(value: JavaValue, maxChars: number): string | null {
    try {
        return toText(value, maxChars);
    } catch (error) {
        return `<unreadable: ${error}>`;
    }
}

function authorityOf(uri: string): string {
    const afterScheme = uri.includes("://") ? uri.slice(uri.indexOf("://") + 3) : uri;
    const end = afterScheme.search(/[/?#]/);
    return end < 0 ? afterScheme : afterScheme.slice(0, end);
}

// The analyzer reads the receiver's class only for these kinds (which activity, view, dialog); for a
// PI read it costs two JNI calls per event that nobody reads.
const KINDS_WITH_RECEIVER_CLASS = new Set(["lifecycle", "click", "dialog"]);

// Threads inside a hooked Java call that opens connections (Socket.connect): a hooked connect it makes
// underneath, Java (DatagramChannel under DatagramSocket) or native (libc connect(), native.ts), is the same
// connection, already recorded with the Java stack of the outer call.
const connectDepth = new Map<number, number>();

export function javaHookDepth(threadId: number): number {
    return connectDepth.get(threadId) ?? 0;
}

// A native read made underneath a hooked Java call on the same thread (NetworkInterface.getHardwareAddress →
// ioctl(SIOCGIFHWADDR) in the runtime) is that Java call's read: native.ts hands it to the innermost open
// call here instead of recording it again as code of no known owner. When the Java call records an event,
// the native reads go into its payload (`native_reads`); when it records none (its `when` did not hold, the
// rate limit) they are recorded on their own, with the Java stack, so nothing is dropped.
export interface NativeDetail {
    api: string;
    value: string | null;
    args: string[];
    module: string | null;
    // The event native.ts would have recorded; sent as it is if the Java call records nothing.
    event: AgentEvent;
}

interface JavaCallFrame {
    details: NativeDetail[];
}

const javaCalls = new Map<number, JavaCallFrame[]>();

// The innermost hooked Java call running on this thread, or null.
export function enclosingJavaCall(threadId: number): JavaCallFrame | null {
    const frames = javaCalls.get(threadId);
    return frames === undefined || frames.length === 0 ? null : frames[frames.length - 1];
}

// The Java stack of the current thread for a native read with no hooked Java caller, when the thread is a
// Java thread inside JNI code (a JNI method of the app or an SDK). Set by the Installer once Java is up.
export let javaStackOfNativeCaller: ((threadId: number) => string[] | null) | null = null;

// One marker per (class, kind, category) and thread: a hooked call inside another hooked call of the same
// class and the same meaning is the same call (getDeviceId() → getDeviceId(slot); OkHttp 4's
// CertificatePinner.check → check$okhttp; a subclass's override calling super): one event, the outermost.
const markers = new Map<string, Set<number>>();

function markerFor(hookClass: string, entry: HookEntry): Set<number> {
    const key = `${hookClass}|${entry.kind}|${entry.category}`;
    let marker = markers.get(key);
    if (marker === undefined) {
        marker = new Set<number>();
        markers.set(key, marker);
    }
    return marker;
}

interface Group {
    hookClass: string;
    methodName: string;
    entries: HookEntry[];
    activeThreads: Set<number>;
}

// A catalogue method whose overrides are hooked too (entry `overrides: true`): the base class or interface
// as a JNI global reference once it exists in this process.
interface OverrideBase {
    group: Group;
    baseRef: NativePointer | null;
}

type LateInstall = (wrapper: Java.Wrapper, where: string) => Job[];

export type LateJobsListener = (jobs: Job[], detail: Record<string, unknown>) => void;

export class Installer {
    private threadClass: Java.Wrapper | null = null;
    // Java thread name per OS thread id: asking Java costs two JNI calls per event. A thread renamed
    // after its first hooked call keeps its first name in events (Android names threads at start).
    private readonly threadNames = new Map<number, string>();
    // The four calls of a stack capture, each resolved to its one overload once: a bare `$new(...)` or
    // method call makes the bridge match the arguments against every overload on every event.
    private stackCalls: {
        newThrowable: Java.Method; newStringWriter: Java.Method; newPrintWriter: Java.Method;
        printStackTrace: Java.Method; writerText: Java.Method;
        throwable: Java.Wrapper; stringWriter: Java.Wrapper; printWriter: Java.Wrapper;
    } | null = null;
    // The stack through raw JNI (see stack()); null when a method ID was not found, then stackCalls serve.
    private rawStack: RawStackCalls | null = null;
    private ownPackageName: string | null;
    // Threads inside our own recording: API calls we make to describe a value are not the app's.
    private readonly recordingThreads = new Set<number>();
    readonly counters: Counters = { recorded: 0, recordErrors: 0, lastRecordError: null };
    // Class name → what to install when a loader defines a class of that name (catalogue groups, unpinning).
    private readonly lateClasses = new Map<string, LateInstall[]>();
    private readonly overrideBases: OverrideBase[] = [];
    private classWatch: ClassWatch | null = null;
    private onLateJobs: LateJobsListener | null = null;

    constructor(private readonly config: AgentConfig, private readonly queue: EventQueue,
                private readonly registry: JobRegistry, private readonly limiter: RateLimiter) {
        this.ownPackageName = config.ownPackage;
    }

    // Must run inside Java.perform.
    installAll(): Job[] {
        if (Process.findModuleByName("libjvm.so") !== null) {
            // HotSpot: the bridge finds a class again (after its LRU of 10 class handles let it go) with JNI
            // FindClass, which searches the loader of the Java frame calling into native code — the system
            // loader almost everywhere, the boot loader inside ClassLoader.defineClass, where the class watch
            // works: the app's classes (android.location.Location of a listener's signature) were then not
            // found. The handles of the classes the agent uses stay held (a few hundred global references).
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            (Java.classFactory as any)._classHandles.capacity = 1 << 20;
        }
        this.threadClass = Java.use("java.lang.Thread");
        const throwable = Java.use("java.lang.Throwable");
        const stringWriter = Java.use("java.io.StringWriter");
        const printWriter = Java.use("java.io.PrintWriter");
        this.stackCalls = {
            throwable, stringWriter, printWriter,
            newThrowable: throwable.$new.overload(),
            newStringWriter: stringWriter.$new.overload(),
            newPrintWriter: printWriter.$new.overload("java.io.Writer"),
            printStackTrace: throwable.printStackTrace.overload("java.io.PrintWriter"),
            writerText: (stringWriter as JavaValue).toString.overload(),
        };
        try {
            this.rawStack = rawStackCalls();
        } catch (error) {
            this.rawStack = null; // the wrapper path below still gives the same frames
        }
        const groups = new Map<string, HookEntry[]>();
        for (const entry of this.config.hooks) {
            const hookClass = entry.impl ?? entry.api.slice(0, entry.api.lastIndexOf("."));
            // Entries listing their own overloads are hooks of their own (one method's signatures differ
            // across Android versions, each read differently).
            const overloads = entry.overloads === "all" ? "all" : JSON.stringify(entry.overloads);
            const key = `${hookClass}#${entry.api.slice(entry.api.lastIndexOf(".") + 1)}#${overloads}`;
            const group = groups.get(key);
            if (group === undefined) {
                groups.set(key, [entry]);
            } else {
                group.push(entry);
            }
        }
        const created: Job[] = [];
        for (const [key, entries] of groups) {
            const [hookClass, methodName] = key.split("#");
            const group: Group = { hookClass, methodName, entries, activeThreads: markerFor(hookClass, entries[0]) };
            // Any class loader may define this class later (a plugin's own copy of an SDK): each is hooked then.
            this.watchClass(hookClass, (wrapper) => this.installOn(wrapper, group));
            let wrapper: Java.Wrapper | null = null;
            try {
                wrapper = useClass(hookClass);
            } catch (error) {
                // Normal on an Android version without this class, or for an SDK not loaded yet: reported,
                // never silently skipped, and hooked when a class loader defines it.
                created.push(this.failed(entries[0].api, hookClass, methodName, "*", `class not found at start (hooked if it appears later): ${error}`));
            }
            if (wrapper !== null) {
                created.push(...this.installOn(wrapper, group));
            }
            if (entries.some((entry) => entry.overrides)) {
                this.overrideBases.push({ group, baseRef: wrapper === null ? null : globalClassRef(wrapper) });
            }
        }
        javaStackOfNativeCaller = (threadId: number) => this.javaStackForNative(threadId);
        return created;
    }

    // Called for each class name the watch should react to: `install` runs with the class's wrapper in the
    // loader that defined it.
    private watchClass(className: string, install: LateInstall): void {
        const list = this.lateClasses.get(className);
        if (list === undefined) {
            this.lateClasses.set(className, [install]);
        } else {
            list.push(install);
        }
    }

    // Start reacting to classes defined from now on (after installAll and the unpinning, whose own lookups
    // define classes too).
    watch(classWatch: ClassWatch, onLateJobs: LateJobsListener): void {
        this.classWatch = classWatch;
        this.onLateJobs = onLateJobs;
        for (const name of this.lateClasses.keys()) {
            classWatch.watchName(name);
        }
        for (const base of this.overrideBases) {
            if (base.baseRef !== null) {
                classWatch.watchSubclassesOf(base.baseRef);
            }
        }
        classWatch.onClass((defined) => this.classDefined(defined));
    }

    // For unpin.ts: run `install` for each class of this name a loader defines from now on.
    whenDefined(className: string, install: (wrapper: Java.Wrapper, where: string) => void): void {
        this.classWatch?.watchName(className);
        this.watchClass(className, (wrapper, where) => {
            install(wrapper, where);
            return [];
        });
    }

    private lateJobs(jobs: Job[], detail: Record<string, unknown>): void {
        if (this.onLateJobs !== null && jobs.length > 0) {
            this.onLateJobs(jobs, detail);
        }
    }

    private classDefined(defined: DefinedClass): void {
        const installs = this.lateClasses.get(defined.name);
        let env: NativePointer | null = null;
        const overriding: OverrideBase[] = [];
        if (this.overrideBases.length > 0) {
            env = defined.env;
            for (const base of this.overrideBases) {
                if (base.baseRef !== null && base.group.hookClass !== defined.name
                    && this.classWatch!.isSubclass(env, defined.classHandle, base.baseRef)) {
                    overriding.push(base);
                }
            }
        }
        if (installs === undefined && overriding.length === 0) {
            return;
        }
        if (defined.loaderHandle.isNull()) {
            return; // the boot loader's classes are the platform's, present at start
        }
        const loader = Java.cast(defined.loaderHandle, useClass("java.lang.ClassLoader")) as JavaValue;
        const where = String(Java.cast(loader, useClass("java.lang.Object")).getClass().getName());
        // Reflection through the default factory: a loader's own factory resolves array types (Method[]) by
        // asking that loader, which cannot load arrays.
        const classObject = Java.cast(defined.classHandle, useClass("java.lang.Class")) as JavaValue;
        const declared = Array.prototype.slice.call(classObject.getDeclaredMethods()) as JavaValue[];
        const wrapper = wrapperOf(loader, defined.name, defined.classHandle);
        // One status per class defined: every hook put on it, catalogue methods and overrides.
        const jobs: Job[] = [];
        for (const install of installs ?? []) {
            jobs.push(...install(wrapper, where));
        }
        for (const base of overriding) {
            jobs.push(...this.installOverrides(wrapper, declared, defined.name, base.group));
        }
        this.lateJobs(jobs, { class: defined.name, loader: where, overrides: overriding.map((base) => base.group.entries[0].api) });
        // A base class or interface of an `overrides` entry that was not there at start: its subclasses are
        // watched from now on.
        for (const base of this.overrideBases) {
            if (base.baseRef === null && base.group.hookClass === defined.name) {
                base.baseRef = globalClassRef(wrapper);
                this.classWatch!.watchSubclassesOf(base.baseRef);
            }
        }
    }

    // The methods of `className` (just defined) that override the group's method: each hooked like the
    // catalogue's own, reporting the catalogue's api, sharing its per-thread marker (an override calling
    // super is one call).
    private installOverrides(wrapper: Java.Wrapper, declared: JavaValue[], className: string, group: Group): Job[] {
        const signatures: string[][] = [];
        for (const method of declared) {
            const modifiers = Number(method.getModifiers());
            // An abstract redeclaration has no body to run; a static method of the same name overrides nothing.
            if (String(method.getName()) !== group.methodName || (modifiers & (0x400 | 0x8)) !== 0 || method.isBridge()) {
                continue;
            }
            signatures.push(Array.prototype.slice.call(method.getParameterTypes()).map((type: JavaValue) => String(type.getName())));
        }
        if (signatures.length === 0) {
            return [];
        }
        const dispatcher = (wrapper as JavaValue)[group.methodName];
        const overloads: Java.Method[] = [];
        for (const signature of signatures) {
            try {
                overloads.push(dispatcher.overload(...signature));
            } catch (error) {
                return [this.failed(group.entries[0].api, className, group.methodName, signature.join(","), `override not found: ${error}`)];
            }
        }
        return this.hookOverloads(className, group, overloads, className);
    }

    private failed(api: string, hookClass: string, method: string, overload: string, error: string): Job {
        return this.registry.add({ api, hookClass, method, overload, entries: 0, status: "failed", error }, null);
    }

    private installOn(wrapper: Java.Wrapper, group: Group): Job[] {
        const { hookClass, methodName, entries } = group;
        const api = entries[0].api;
        const dispatcher = (wrapper as JavaValue)[methodName];
        if (dispatcher === undefined || dispatcher === null || dispatcher.overloads === undefined) {
            return [this.failed(api, hookClass, methodName, "*", "method not found")];
        }
        const wanted = entries[0].overloads;
        let overloads: Java.Method[];
        if (wanted === "all") {
            overloads = dispatcher.overloads;
        } else {
            overloads = [];
            for (const signature of wanted) {
                try {
                    overloads.push(dispatcher.overload(...signature));
                } catch (error) {
                    return [this.failed(api, hookClass, methodName, signature.join(","), `overload not found: ${error}`)];
                }
            }
        }
        if (entries.some((entry) => entry.overrides)) {
            // An interface's method (LocationListener.onLocationChanged) has no body to hook: its overrides
            // are hooked as their classes are defined.
            const abstract = abstractSignatures(wrapper, methodName);
            const concrete = overloads.filter((overload) => !abstract.has(overload.argumentTypes.map((type) => type.className ?? type.name).join(",")));
            const jobs = this.hookOverloads(hookClass, group, concrete, null);
            if (concrete.length < overloads.length) {
                jobs.push(this.registry.add({
                    api, hookClass, method: methodName, overload: "abstract: its overrides are hooked as their classes are defined",
                    entries: entries.length, status: "installed", error: null,
                }, null));
            }
            return jobs;
        }
        return this.hookOverloads(hookClass, group, overloads, null);
    }

    private hookOverloads(hookClass: string, group: Group, overloads: Java.Method[], overrideClass: string | null): Job[] {
        const { methodName, entries } = group;
        const api = entries[0].api;
        const jobs: Job[] = [];
        for (const overload of overloads) {
            const signature = overload.argumentTypes.map((type) => type.className ?? type.name).join(",");
            const job = this.registry.add({
                api, hookClass, method: methodName, overload: signature, entries: entries.length, status: "installed", error: null,
            }, () => {
                Java.perform(() => {
                    overload.implementation = null;
                });
            });
            try {
                this.replace(overload, entries, job, group.activeThreads, overrideClass);
            } catch (error) {
                job.status = "failed";
                job.error = `cannot hook: ${error}`;
            }
            jobs.push(job);
        }
        return jobs;
    }

    private replace(overload: Java.Method, entries: HookEntry[], job: Job, activeThreads: Set<number>, overrideClass: string | null): void {
        const installer = this;
        // MethodType.Static === 2: a static method's `this` is the class wrapper, not an instance.
        const isStatic = (overload.type as number) === 2;
        const opensConnections = entries.some((entry) => entry.kind === "connect");
        const ownsNativeReads = overrideClass === null && entries.every((entry) => entry.kind === "pi_read" && !entry.overrides);
        overload.implementation = function (this: JavaValue, ...args: JavaValue[]): JavaValue {
            const threadId = Process.getCurrentThreadId();
            const outermost = !activeThreads.has(threadId);
            // The event's time is when the app made the call, not when it returned: a click whose listener
            // initialises SDKs must come before the reads those SDKs make inside it.
            const calledAt = outermost ? stampNs() : -1;
            if (outermost) {
                activeThreads.add(threadId);
            }
            let result: JavaValue = undefined;
            let thrown: JavaValue = null;
            // A connect hooked inside another hooked connect on this thread is the same connection (a JDK's
            // DatagramSocket.connect runs DatagramChannel.connect): recorded once, as the app called it.
            const depthBefore = opensConnections ? javaHookDepth(threadId) : 0;
            const innerConnect = depthBefore > 0;
            if (opensConnections) {
                connectDepth.set(threadId, depthBefore + 1);
            }
            // Only a reading API's call owns the native reads beneath it: a callback (a click, a lifecycle
            // method, an override running the app's own code) does not.
            const frame: JavaCallFrame | null = ownsNativeReads ? { details: [] } : null;
            let frames = javaCalls.get(threadId);
            if (frame !== null) {
                if (frames === undefined) {
                    frames = [];
                    javaCalls.set(threadId, frames);
                }
                frames.push(frame);
            }
            try {
                result = overload.apply(this, args);
            } catch (error) {
                thrown = error;
            } finally {
                if (frame !== null && frames !== undefined) {
                    frames.pop();
                    if (frames.length === 0) {
                        javaCalls.delete(threadId);
                    }
                }
                if (outermost) {
                    activeThreads.delete(threadId);
                }
                if (opensConnections) {
                    const depth = connectDepth.get(threadId)! - 1;
                    if (depth === 0) {
                        connectDepth.delete(threadId);
                    } else {
                        connectDepth.set(threadId, depth);
                    }
                }
            }
            let recorded = false;
            if (outermost && !innerConnect && job.status === "installed" && !installer.recordingThreads.has(threadId)) {
                installer.recordingThreads.add(threadId);
                try {
                    recorded = installer.record(entries, isStatic ? null : this, args, result, thrown, calledAt, overrideClass,
                                                frame === null ? [] : frame.details);
                } catch (error) {
                    installer.counters.recordErrors++;
                    installer.counters.lastRecordError = `${job.api}: ${error} ${(error as Error).stack ?? ""}`;
                } finally {
                    installer.recordingThreads.delete(threadId);
                }
            }
            if (frame !== null && !recorded && frame.details.length > 0) {
                const outer = enclosingJavaCall(threadId);
                if (outer !== null) {
                    outer.details.push(...frame.details); // the enclosing hooked call may still record them
                } else {
                    // The Java call recorded nothing: each native read is recorded on its own, with the Java
                    // stack of this thread (the hooked method's frames included: they made the read).
                    const javaStack = installer.javaStackForNative(threadId);
                    for (const detail of frame.details) {
                        if (javaStack !== null && javaStack.length > 0) {
                            (detail.event.payload as Record<string, unknown>).native_stack = detail.event.stack;
                            detail.event.stack = javaStack;
                        }
                        installer.queue.push(detail.event);
                    }
                }
            }
            if (thrown !== null) {
                throw thrown;
            }
            return result;
        };
    }

    // A native read on a Java thread with no hooked Java call around it (JNI code of the app or an SDK): the
    // thread's Java stack, so the read is attributed like a Java one. Null when the thread is not attached
    // to the VM or the stack cannot be taken.
    javaStackForNative(threadId: number): string[] | null {
        if (this.recordingThreads.has(threadId)) {
            return null;
        }
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const env = (Java.vm as any).tryGetEnv();
        if (env === null) {
            return null;
        }
        this.recordingThreads.add(threadId);
        try {
            return this.frameTexts().slice(0, this.config.maxStackFrames);
        } finally {
            this.recordingThreads.delete(threadId);
        }
    }

    // The app's own package: given by the host, else (Android) asked of ActivityThread once it is known.
    private ownPackage(): string | null {
        if (this.ownPackageName === null) {
            try {
                const name = useClass("android.app.ActivityThread").currentPackageName();
                this.ownPackageName = name === null || name === undefined ? null : String(name);
            } catch (error) {
                this.ownPackageName = null; // not Android (host JVM without a package): nothing to compare
            }
        }
        return this.ownPackageName;
    }

    private matches(when: When | null, self: JavaValue, args: JavaValue[]): boolean {
        if (when === null) {
            return true;
        }
        let subject: JavaValue = when.receiver ? self : args[when.arg ?? 0];
        if (when.path.length > 0) {
            subject = walk(subject, when.path);
        }
        const text = argText(subject, 4096);
        switch (when.match) {
            case "equals":
            case "in":
                return text !== null && when.values.includes(text);
            case "prefix":
                return text !== null && when.values.some((value) => text.startsWith(value));
            case "contains":
                return text !== null && when.values.some((value) => text.includes(value));
            case "authority_in":
                return text !== null && when.values.includes(authorityOf(text));
            case "other_package":
                return text !== null && text !== this.ownPackage();
        }
    }

    // True when an event was recorded.
    private record(entries: HookEntry[], self: JavaValue, args: JavaValue[], result: JavaValue, thrown: JavaValue,
                   calledAt: number, overrideClass: string | null, nativeReads: NativeDetail[]): boolean {
        const entry = entries.find((candidate) => this.matches(candidate.when, self, args)
            && (!candidate.record.thrown_only || thrown !== null));
        if (entry === undefined || !this.limiter.allowed(entry.api)) {
            return false;
        }
        const deviceTs = calledAt;
        const maxChars = this.config.maxValueChars;
        const spec = entry.record;
        const payload: Record<string, unknown> = {};
        let value: string | null = null;
        if (thrown !== null) {
            payload.threw = String(thrown);
        } else if (spec.returns === "value") {
            value = toText(result, maxChars);
        } else if (spec.returns === "list") {
            const summary = summariseList(result, spec.item, this.config.maxListItems, maxChars);
            if (summary !== null) {
                value = `${summary.count} items`;
                Object.assign(payload, summary);
            }
        } else if (spec.returns === "fields" && result !== null && result !== undefined) {
            const fields: Record<string, string | null> = {};
            for (const name of spec.fields) {
                fields[name] = member(result, name, maxChars);
            }
            payload.fields = fields;
            value = spec.fields.map((name) => `${name}=${fields[name]}`).join(",");
        }
        if (spec.value_arg !== null) {
            value = argText(args[spec.value_arg], spec.value_chars ?? maxChars);
            if (spec.links) {
                payload.links = spanLinks(args[spec.value_arg], maxChars);
            }
        }
        for (const [key, field] of Object.entries(spec.payload)) {
            if (field.constant !== null) {
                payload[key] = field.constant;
                continue;
            }
            if (field.result && thrown !== null) {
                continue; // nothing was returned
            }
            const origin = field.result ? result : args[field.arg ?? 0];
            payload[key] = payloadValue(walk(origin, field.path), field.names, this.config.maxListItems, maxChars);
        }
        if (spec.this_as !== null && isInstance(self, spec.this_as)) {
            const receiver = Java.cast(self, useClass(spec.this_as));
            const thisFields: Record<string, string | null> = {};
            for (const name of spec.this_fields) {
                thisFields[name] = member(receiver, name, maxChars);
            }
            payload.this_fields = thisFields;
        }
        if (self !== null && KINDS_WITH_RECEIVER_CLASS.has(entry.kind)) {
            payload.this_class = String(self.getClass().getName());
        }
        if (overrideClass !== null) {
            // The app's (or an SDK's) own method that received the callback, overriding the catalogue's.
            payload.override_class = overrideClass;
        }
        if (nativeReads.length > 0) {
            payload.native_reads = nativeReads.map((detail) => ({ api: detail.api, value: detail.value, args: detail.args, module: detail.module }));
        }
        const event: AgentEvent = {
            source: "hook",
            kind: entry.kind,
            ts: null,
            device_ts: deviceTs,
            seq: null,
            pid: Process.id,
            process: currentProcessName(this.config.processName),
            thread: this.threadName(),
            category: entry.category,
            api: entry.api,
            args: spec.args ? args.map((arg) => argText(arg, maxChars) ?? "null") : null,
            value,
            stack: this.stack(entry),
            sdk: null,
            flow_id: null,
            payload: Object.keys(payload).length > 0 ? payload : null,
        };
        this.counters.recorded++;
        this.queue.push(event);
        return true;
    }

    private threadName(): string {
        const threadId = Process.getCurrentThreadId();
        let name = this.threadNames.get(threadId);
        if (name === undefined) {
            name = String(this.threadClass!.currentThread().getName());
            this.threadNames.set(threadId, name);
        }
        return name;
    }

    // The frames as text "class.method(File:line)", top first, the hooked method's own frames included.
    private frameTexts(): string[] {
        if (this.rawStack !== null) {
            return rawFrames(this.rawStack);
        }
        // printStackTrace into a StringWriter: five wrapper calls, where walking getStackTrace() from
        // JavaScript costs three per frame.
        const calls = this.stackCalls!;
        const writer = calls.newStringWriter.call(calls.stringWriter);
        calls.printStackTrace.call(calls.newThrowable.call(calls.throwable), calls.newPrintWriter.call(calls.printWriter, writer));
        const out: string[] = [];
        for (const line of String(calls.writerText.call(writer)).split("\n")) {
            if (line.startsWith("\tat ")) {
                out.push(line.slice(4).trimEnd()); // not the Throwable's own line nor "... N more"
            }
        }
        return out;
    }

    private stack(entry: HookEntry): string[] {
        const lines = this.frameTexts();
        const method = entry.api.slice(entry.api.lastIndexOf(".") + 1);
        const owners = [entry.api.slice(0, entry.api.lastIndexOf(".")), entry.impl].filter((owner) => owner !== null);
        const hooked = owners.map((owner) => `${owner}.${method}(`);
        const out: string[] = [];
        let skipping = true;
        for (const frame of lines) {
            // The top frames are the hooked method itself (HotSpot shows it as a native frame): skip them,
            // so the first frame is the code that called the API.
            // JDK 9+ prints a module before the class ("java.base/java.lang.Runtime.exec(...)").
            const bare = frame.replace(/^[^/(]+\//, "");
            if (skipping && hooked.some((prefix) => bare.startsWith(prefix))) {
                continue;
            }
            skipping = false;
            out.push(frame);
            if (out.length >= this.config.maxStackFrames) {
                break;
            }
        }
        return out;
    }
}

// JNI handles for a stack capture in three calls: new Throwable(), getStackTrace(), Arrays.toString(...).
// Through the bridge's wrappers every call converts and checks its arguments and wraps its result (an
// array comes back as one wrapper per frame); raw JNI hands back only the one string we read.
interface RawStackCalls {
    throwableClass: NativePointer;
    arraysClass: NativePointer;
    init: NativePointer;
    getStackTrace: NativePointer;
    arraysToString: NativePointer;
    newObject: (env: NativePointer, cls: NativePointer, method: NativePointer) => NativePointer;
    callObject: (env: NativePointer, obj: NativePointer, method: NativePointer) => NativePointer;
    callStaticObject: (env: NativePointer, cls: NativePointer, method: NativePointer, arg: NativePointer) => NativePointer;
    // Calls that never run Java code, so they may keep the script's lock ("exclusive"): the bridge's own
    // bindings release and retake it around every call, about a third of the capture's cost.
    exceptionCheck: NativeFunction<number, [NativePointerValue]>;
    deleteLocalRef: NativeFunction<void, [NativePointerValue, NativePointerValue]>;
    stringLength: NativeFunction<number, [NativePointerValue, NativePointerValue]>;
    stringChars: NativeFunction<NativePointer, [NativePointerValue, NativePointerValue, NativePointerValue]>;
    releaseStringChars: NativeFunction<void, [NativePointerValue, NativePointerValue, NativePointerValue]>;
}

// Indices into the JNI function table (jni.h).
const JNI_DELETE_LOCAL_REF = 23;
const JNI_GET_STRING_LENGTH = 164;
const JNI_GET_STRING_CHARS = 165;
const JNI_RELEASE_STRING_CHARS = 166;
const JNI_EXCEPTION_CHECK = 228;

// Must run inside Java.perform. The same JNI calls exist on HotSpot and ART.
function rawStackCalls(): RawStackCalls {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const env: any = Java.vm.getEnv();
    const globalClass = (name: string): NativePointer => {
        const local = env.findClass(name);
        const global = env.newGlobalRef(local);
        env.deleteLocalRef(local);
        return global;
    };
    const throwableClass = globalClass("java/lang/Throwable");
    const arraysClass = globalClass("java/util/Arrays");
    const methodId = (id: NativePointer, what: string): NativePointer => {
        env.throwIfExceptionPending();
        if (id.isNull()) {
            throw new Error(`no JNI method ${what}`);
        }
        return id;
    };
    // One function table serves every thread of the VM; only the env pointer passed differs.
    const table: NativePointer = env.handle.readPointer();
    const jni = (index: number) => table.add(index * Process.pointerSize).readPointer();
    const exclusive: NativeFunctionOptions = { scheduling: "exclusive", exceptions: "propagate" };
    return {
        exceptionCheck: new NativeFunction(jni(JNI_EXCEPTION_CHECK), "uint8", ["pointer"], exclusive),
        deleteLocalRef: new NativeFunction(jni(JNI_DELETE_LOCAL_REF), "void", ["pointer", "pointer"], exclusive),
        stringLength: new NativeFunction(jni(JNI_GET_STRING_LENGTH), "int32", ["pointer", "pointer"], exclusive),
        stringChars: new NativeFunction(jni(JNI_GET_STRING_CHARS), "pointer", ["pointer", "pointer", "pointer"], exclusive),
        releaseStringChars: new NativeFunction(jni(JNI_RELEASE_STRING_CHARS), "void", ["pointer", "pointer", "pointer"], exclusive),
        throwableClass,
        arraysClass,
        init: methodId(env.getMethodId(throwableClass, "<init>", "()V"), "Throwable()"),
        getStackTrace: methodId(env.getMethodId(throwableClass, "getStackTrace", "()[Ljava/lang/StackTraceElement;"), "getStackTrace"),
        arraysToString: methodId(env.getStaticMethodId(arraysClass, "toString", "([Ljava/lang/Object;)Ljava/lang/String;"), "Arrays.toString"),
        newObject: env.constructor([]),
        callObject: env.vaMethod("pointer", []),
        callStaticObject: env.staticVaMethod("pointer", ["pointer"]),
    };
}

function rawFrames(calls: RawStackCalls): string[] {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const env: any = Java.vm.getEnv();
    const handle: NativePointer = env.handle;
    // The slow path only when Java threw (out of memory): it clears the exception and names it.
    const check = (): void => {
        if (calls.exceptionCheck(handle) !== 0) {
            env.throwIfExceptionPending();
        }
    };
    const throwable = calls.newObject(handle, calls.throwableClass, calls.init);
    check();
    let frames: NativePointer = NULL;
    let text: NativePointer = NULL;
    try {
        frames = calls.callObject(handle, throwable, calls.getStackTrace);
        check();
        text = calls.callStaticObject(handle, calls.arraysClass, calls.arraysToString, frames);
        check();
        const chars = calls.stringChars(handle, text, NULL);
        if (chars.isNull()) {
            throw new Error("cannot read the stack text (out of memory)");
        }
        let joined: string;
        try {
            joined = chars.readUtf16String(calls.stringLength(handle, text))!;
        } finally {
            calls.releaseStringChars(handle, text, chars);
        }
        // "[f1, f2, …]": a frame's text has no ", " (class, method and file names carry no spaces).
        return joined.length <= 2 ? [] : joined.slice(1, -1).split(", ");
    } finally {
        for (const ref of [text, frames, throwable]) {
            if (!ref.isNull()) {
                calls.deleteLocalRef(handle, ref);
            }
        }
    }
}

// A JNI global reference to a wrapper's class, kept for IsAssignableFrom on every class defined later.
function globalClassRef(wrapper: Java.Wrapper): NativePointer {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const env: any = Java.vm.getEnv();
    return env.newGlobalRef((wrapper as JavaValue).class.$h) as NativePointer;
}

// The parameter lists ("int,java.lang.String") of the abstract methods called `methodName` declared by a class.
function abstractSignatures(wrapper: Java.Wrapper, methodName: string): Set<string> {
    const out = new Set<string>();
    for (const method of Array.prototype.slice.call((wrapper as JavaValue).class.getDeclaredMethods()) as JavaValue[]) {
        if (String(method.getName()) === methodName && (Number(method.getModifiers()) & 0x400) !== 0) {
            out.add(Array.prototype.slice.call(method.getParameterTypes()).map((type: JavaValue) => String(type.getName())).join(","));
        }
    }
    return out;
}

// The wrapper of a class just defined, in its loader's class factory, made from the class itself rather than
// by asking the loader for it (ClassFactory.use → loadClass) from inside its own defineClass. `classObject`
// (its java.lang.Class through the default factory) has had getDeclaredMethods called, which links the class:
// making the wrapper of the still unlinked class took the JVM down (measured, HotSpot 17, frida-java-bridge 7).
function wrapperOf(loader: JavaValue, name: string, classHandle: NativePointer): Java.Wrapper {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const factory = Java.ClassFactory.get(loader) as any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const env: any = Java.vm.getEnv();
    let wrapper = factory._getUsedClass(name);
    if (wrapper === undefined) {
        const global: NativePointer = env.newGlobalRef(classHandle);
        try {
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            wrapper = factory._make(name, (callerEnv: any) => callerEnv.newLocalRef(global), env);
        } finally {
            factory._setUsedClass(name, wrapper);
        }
    }
    return wrapper as Java.Wrapper;
}
