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

    constructor(private readonly config: AgentConfig, private readonly queue: EventQueue,
                private readonly registry: JobRegistry, private readonly limiter: RateLimiter) {
        this.ownPackageName = config.ownPackage;
    }

    // Must run inside Java.perform.
    installAll(): Job[] {
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
            const key = `${hookClass}#${entry.api.slice(entry.api.lastIndexOf(".") + 1)}`;
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
            created.push(...this.installGroup(hookClass, methodName, entries));
        }
        return created;
    }

    private failed(api: string, hookClass: string, method: string, overload: string, error: string): Job {
        return this.registry.add({ api, hookClass, method, overload, entries: 0, status: "failed", error }, null);
    }

    private installGroup(hookClass: string, methodName: string, entries: HookEntry[]): Job[] {
        const api = entries[0].api;
        let wrapper: Java.Wrapper;
        try {
            wrapper = useClass(hookClass);
        } catch (error) {
            // Normal on an Android version without this class: reported, never silently skipped.
            return [this.failed(api, hookClass, methodName, "*", `class not found: ${error}`)];
        }
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
        // One marker per group and thread: an overload that delegates to another overload of the same
        // API (getDeviceId() → getDeviceId(slot), query(5 args) → query(4 args)) is one call, one event.
        const activeThreads = new Set<number>();
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
                this.replace(overload, entries, job, activeThreads);
            } catch (error) {
                job.status = "failed";
                job.error = `cannot hook: ${error}`;
            }
            jobs.push(job);
        }
        return jobs;
    }

    private replace(overload: Java.Method, entries: HookEntry[], job: Job, activeThreads: Set<number>): void {
        const installer = this;
        // MethodType.Static === 2: a static method's `this` is the class wrapper, not an instance.
        const isStatic = (overload.type as number) === 2;
        const opensConnections = entries.some((entry) => entry.kind === "connect");
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
            try {
                result = overload.apply(this, args);
            } catch (error) {
                thrown = error;
            } finally {
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
            if (outermost && !innerConnect && job.status === "installed" && !installer.recordingThreads.has(threadId)) {
                installer.recordingThreads.add(threadId);
                try {
                    installer.record(entries, isStatic ? null : this, args, result, thrown, calledAt);
                } catch (error) {
                    installer.counters.recordErrors++;
                    installer.counters.lastRecordError = `${job.api}: ${error} ${(error as Error).stack ?? ""}`;
                } finally {
                    installer.recordingThreads.delete(threadId);
                }
            }
            if (thrown !== null) {
                throw thrown;
            }
            return result;
        };
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

    private record(entries: HookEntry[], self: JavaValue, args: JavaValue[], result: JavaValue, thrown: JavaValue,
                   calledAt: number): void {
        const entry = entries.find((candidate) => this.matches(candidate.when, self, args));
        if (entry === undefined || !this.limiter.allowed(entry.api)) {
            return;
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
