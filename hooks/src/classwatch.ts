// Classes that appear after start: an SDK loaded by a DexClassLoader / InMemoryDexClassLoader or a fresh
// URLClassLoader, a plugin framework, a packer unpacking the real code at run time. Catalogue entries on such
// classes, and the app's own classes overriding a callback the catalogue watches, are hooked the moment the
// class is defined, in whichever class loader defines it, before any of its code can run.
//
// HotSpot: every class a Java class loader defines (the application loader, URLClassLoader, any custom
// loader; not the boot loader's, which are the JDK's own) is defined by one of libjava's JNI functions behind
// ClassLoader.defineClass0/1/2. Their return is watched: the thread is then in native code, inside the app's
// own defineClass call, with the new class and its loader as JNI references, so the class can be looked at
// and hooked there, before defineClass returns to the loader that asked for it. Per class this costs one
// Interceptor round trip, reading the name and one IsAssignableFrom per watched base
// (bench/hooks/classload.py measures it against start-up time).
//
// ART: see the ArtClassWatch note below.

import Java from "frida-java-bridge";

import type { JavaValue } from "./values.js";

export interface DefinedClass {
    name: string;
    // JNI local references, valid only during the callback.
    classHandle: NativePointer;
    loaderHandle: NativePointer;
}

export type ClassListener = (defined: DefinedClass) => void;

// Indices into the JNI function table (jni.h).
const JNI_IS_ASSIGNABLE_FROM = 11;
const JNI_GET_STRING_LENGTH = 164;
const JNI_GET_STRING_UTF_LENGTH = 168;
const JNI_GET_STRING_UTF_REGION = 221;
const JNI_EXCEPTION_CHECK = 228;

// ClassLoader's native define methods in libjava (JDK 9+), and which argument is the class's name (a
// jstring "a.b.C", null when the caller gave none).
const HOTSPOT_DEFINERS: [string, number][] = [
    ["Java_java_lang_ClassLoader_defineClass1", 3],
    ["Java_java_lang_ClassLoader_defineClass2", 3],
    // MethodHandles.Lookup.defineClass / defineHiddenClass.
    ["Java_java_lang_ClassLoader_defineClass0", 4],
];

interface RawJni {
    isAssignableFrom: NativeFunction<number, [NativePointerValue, NativePointerValue, NativePointerValue]>;
    utfLength: NativeFunction<number, [NativePointerValue, NativePointerValue]>;
    length: NativeFunction<number, [NativePointerValue, NativePointerValue]>;
    utfRegion: NativeFunction<void, [NativePointerValue, NativePointerValue, number, number, NativePointerValue]>;
    exceptionCheck: NativeFunction<number, [NativePointerValue]>;
}

export class ClassWatch {
    private readonly listeners: ClassListener[] = [];
    private readonly hooks: InvocationListener[] = [];
    private raw: RawJni | null = null;
    private nameBuffer: NativePointer = Memory.alloc(1024);
    private nameCapacity = 1024;
    // Threads running a listener: classes our own hooking loads are seen, never re-entered.
    private readonly busyThreads = new Set<number>();
    defined = 0;
    errors = 0;
    lastError: string | null = null;
    backend: string = "none";

    onClass(listener: ClassListener): void {
        this.listeners.push(listener);
    }

    // Must run inside Java.perform. Returns what was watched, for the host's status.
    start(): string {
        const libjava = Process.findModuleByName("libjava.so");
        if (libjava !== null && libjava.findExportByName("Java_java_lang_ClassLoader_defineClass1") !== null) {
            this.raw = rawJni();
            for (const [symbol, nameArg] of HOTSPOT_DEFINERS) {
                const address = libjava.findExportByName(symbol);
                if (address !== null) {
                    this.hooks.push(this.watchDefiner(address, nameArg));
                }
            }
            this.backend = `hotspot:libjava defineClass (${this.hooks.length} definers)`;
            return this.backend;
        }
        this.backend = "none: no known class-definition point in this VM";
        return this.backend;
    }

    // IsAssignableFrom(sub, base) on this thread's env: true when `classHandle` extends or implements `base`.
    isSubclass(env: NativePointer, classHandle: NativePointer, base: NativePointer): boolean {
        return this.raw!.isAssignableFrom(env, classHandle, base) !== 0;
    }

    private watchDefiner(address: NativePointer, nameArg: number): InvocationListener {
        const watch = this;
        return Interceptor.attach(address, {
            onEnter(args) {
                const state = this as unknown as { env: NativePointer; loader: NativePointer; name: NativePointer };
                state.env = args[0];
                state.loader = args[2];
                state.name = args[nameArg];
            },
            onLeave(retval) {
                if (retval.isNull()) {
                    return; // the definition failed: the app gets its LinkageError / ClassFormatError untouched
                }
                const threadId = this.threadId;
                if (watch.busyThreads.has(threadId)) {
                    return;
                }
                const state = this as unknown as { env: NativePointer; loader: NativePointer; name: NativePointer };
                watch.defined++;
                watch.busyThreads.add(threadId);
                try {
                    const name = watch.className(state.env, state.name, retval);
                    if (name !== null) {
                        const defined: DefinedClass = { name, classHandle: retval, loaderHandle: state.loader };
                        for (const listener of watch.listeners) {
                            listener(defined);
                        }
                    }
                } catch (error) {
                    watch.errors++;
                    watch.lastError = `${error} ${(error as Error).stack ?? ""}`;
                } finally {
                    watch.busyThreads.delete(threadId);
                }
            },
        });
    }

    // The class's binary name "a.b.C$D": from the name argument when the caller gave one (the usual case;
    // two raw JNI calls), else from Class.getName().
    private className(env: NativePointer, nameHandle: NativePointer, classHandle: NativePointer): string | null {
        const raw = this.raw!;
        if (!nameHandle.isNull()) {
            const bytes = raw.utfLength(env, nameHandle);
            if (bytes + 1 > this.nameCapacity) {
                this.nameCapacity = bytes + 1;
                this.nameBuffer = Memory.alloc(this.nameCapacity);
            }
            // GetStringUTFRegion takes its range in UTF-16 units and writes modified UTF-8 plus a NUL.
            raw.utfRegion(env, nameHandle, 0, raw.length(env, nameHandle), this.nameBuffer);
            if (raw.exceptionCheck(env) === 0) {
                const text = this.nameBuffer.readUtf8String(bytes);
                if (text !== null) {
                    return text.replace(/\//g, ".");
                }
            }
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            (Java.vm.getEnv() as any).exceptionClear();
        }
        const classObject = Java.cast(classHandle, Java.use("java.lang.Class")) as JavaValue;
        return String(classObject.getName());
    }
}

// ART (Android; host ART in tests/support/art): classes of a BaseDexClassLoader (PathClassLoader,
// DexClassLoader, InMemoryDexClassLoader) are defined natively by art::ClassLinker::DefineClass, mostly
// without a Java call on the way (ClassLinker::FindClassInBaseDexClassLoader), with the thread in the
// runnable state, where no JNI call may be made. The definition point there is the mirror::Class pointer
// going through ClassLinker's class-load callbacks; that backend is not written yet (no ART to prove it on
// at the time of writing): on ART `start` reports "none" and late classes are not hooked.

function rawJni(): RawJni {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const env: any = Java.vm.getEnv();
    const table: NativePointer = env.handle.readPointer();
    const jni = (index: number) => table.add(index * Process.pointerSize).readPointer();
    // None of these run Java code: the script's lock can stay held across them.
    const exclusive: NativeFunctionOptions = { scheduling: "exclusive", exceptions: "propagate" };
    return {
        isAssignableFrom: new NativeFunction(jni(JNI_IS_ASSIGNABLE_FROM), "uint8", ["pointer", "pointer", "pointer"], exclusive),
        utfLength: new NativeFunction(jni(JNI_GET_STRING_UTF_LENGTH), "int32", ["pointer", "pointer"], exclusive),
        length: new NativeFunction(jni(JNI_GET_STRING_LENGTH), "int32", ["pointer", "pointer"], exclusive),
        utfRegion: new NativeFunction(jni(JNI_GET_STRING_UTF_REGION), "void", ["pointer", "pointer", "int32", "int32", "pointer"], exclusive),
        exceptionCheck: new NativeFunction(jni(JNI_EXCEPTION_CHECK), "uint8", ["pointer"], exclusive),
    };
}
