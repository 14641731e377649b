// Classes that appear after start: an SDK loaded by a DexClassLoader / InMemoryDexClassLoader or a fresh
// URLClassLoader, a plugin framework, a packer unpacking the real code at run time. Catalogue entries on such
// classes, and the app's own classes overriding a callback the catalogue watches, are hooked the moment the
// class is defined, in whichever class loader defines it, before any of its code can run.
//
// HotSpot: every class a Java class loader defines (the application loader, URLClassLoader, any custom
// loader; not the boot loader's, which are the JDK's own) is defined by one of libjava's JNI functions behind
// ClassLoader.defineClass0/1/2. Their return is watched: the thread is then in native code, inside the app's
// own defineClass call, with the new class and its loader as JNI references, so the class can be looked at
// and hooked there, before defineClass returns to the loader that asked for it. Most classes concern nobody:
// a small C filter (CModule) runs on every definition — the name against a hash table of the watched names,
// IsAssignableFrom against each watched callback base — and only a class that matches enters JavaScript
// (bench/hooks/classload.py measures the cost against start-up time). Without a C compiler in this Frida
// build, the same filter runs in JavaScript.
//
// ART: every class a class loader other than the boot loader defines — through loadClass, or resolved natively
// by ClassLinker from code referencing it (an app's own listener class) — is defined by
// art::ClassLinker::DefineClass, on the app's thread in ART's runnable state. Its return is watched with the
// same kind of C filter (the descriptor against the watched names, IsAssignableFrom against the watched bases).
// JavaScript may not run in the runnable state (a garbage collection waiting for this thread while it waits
// for the script's lock would never end), so a class that matches is handed over the way ART itself calls
// native code: the filter calls a native method of a class of ours (loaded at start from a dex built in memory,
// InMemoryDexClassLoader), and ART's JNI trampoline switches the thread to the native state before our
// JavaScript runs. Without that symbol or loader (Android < 8), the Java path (watchArtJavaPath) is used.

/// <reference path="./mkdex.d.ts" />
import Java from "frida-java-bridge";
import mkdex from "frida-java-bridge/lib/mkdex.js";

import type { JavaValue } from "./values.js";

export interface DefinedClass {
    name: string;
    env: NativePointer;
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

// art::ClassLinker::DefineClass(Thread*, const char* descriptor, size_t hash, Handle<ClassLoader>, const DexFile&,
// const dex::ClassDef&) returning ObjPtr<mirror::Class> (a plain pointer), and JNIEnvExt::NewLocalRef(mirror::Object*):
// both exported by libart on every Android version since 8.
const ART_DEFINE_CLASS = "_ZN3art11ClassLinker11DefineClassEPNS_6ThreadEPKcmNS_6HandleINS_6mirror11ClassLoaderEEERKNS_7DexFileERKNS_3dex8ClassDefE";
const ART_NEW_LOCAL_REF = "_ZN3art9JNIEnvExt11NewLocalRefEPNS_6mirror6ObjectE";
// Thread::DecodeJObject (renamed DecodeGlobalJObject in later versions; both take a global reference).
const ART_DECODE = ["_ZNK3art6Thread13DecodeJObjectEP8_jobject", "_ZNK3art6Thread19DecodeGlobalJObjectEP8_jobject"];
// Our class whose one native method receives a matched class in the native state.
const ART_CALLBACK_CLASS = "consentmon.watch.ClassDefined";
const ART_CALLBACK_METHOD = "defined";
const ART_CALLBACK_SIGNATURE = "(Ljava/lang/Class;Ljava/lang/ClassLoader;I)V";

const TABLE_SLOTS = 8192; // a power of two, far more than the catalogue's classes
const MAX_BASES = 64;

// What both filters share: the struct JavaScript fills (ART's fields unused on HotSpot) and the name lookup.
const FILTER_COMMON = `
#include <gum/guminterceptor.h>

typedef struct {
  unsigned int mask;
  unsigned int base_count;
  unsigned int *table;
  void **bases;
  long long seen;
  void *vm;
  void *new_local_ref;
  void *receiver;
  void *method;
  void *decode;
} Shared;

extern Shared shared;

typedef unsigned char (*IsAssignable) (void *env, void *sub, void *base);

/* The class name from c up to stop (or the end), '/' read as '.', hashed (FNV-1a) and looked up. */
static int is_watched_name (const char *c, char stop) {
  unsigned int hash = 2166136261u;
  for (; *c != 0 && *c != stop; c++) {
    hash = (hash ^ (unsigned char) (*c == '/' ? '.' : *c)) * 16777619u;
  }
  hash |= 1;
  unsigned int slot = hash & shared.mask;
  while (shared.table[slot] != 0) {
    if (shared.table[slot] == hash)
      return 1;
    slot = (slot + 1) & shared.mask;
  }
  return 0;
}
`;

// The filter: on return of a definer, the class's name (GetStringUTFChars) hashed (FNV-1a, '/' read as '.')
// against the watched names' hashes, and the class tested against each watched base; `notify` (JavaScript)
// only on a hit, which JavaScript checks exactly. Shared: what JavaScript writes (table, bases) and the count
// of classes seen.
const FILTER = `${FILTER_COMMON}
typedef struct { void *env; void *loader; void *name; } Saved;

extern void notify (void *env, void *loader, void *klass, const char *name, int why);

typedef const char * (*GetUtf) (void *env, void *string, unsigned char *copy);
typedef void (*ReleaseUtf) (void *env, void *string, const char *chars);

void onEnter (GumInvocationContext *ic) {
  Saved *saved = GUM_IC_GET_INVOCATION_DATA (ic, Saved);
  gsize name_arg = GPOINTER_TO_SIZE (gum_invocation_context_get_listener_function_data (ic));
  saved->env = gum_invocation_context_get_nth_argument (ic, 0);
  saved->loader = gum_invocation_context_get_nth_argument (ic, 2);
  saved->name = gum_invocation_context_get_nth_argument (ic, (guint) name_arg);
}

void onLeave (GumInvocationContext *ic) {
  Saved *saved = GUM_IC_GET_INVOCATION_DATA (ic, Saved);
  void *klass = gum_invocation_context_get_return_value (ic);
  if (klass == NULL)
    return;
  shared.seen++;
  void **functions = *(void ***) saved->env;
  int why = 0;
  const char *chars = NULL;
  if (saved->name != NULL) {
    chars = ((GetUtf) functions[169]) (saved->env, saved->name, NULL);
  }
  if (chars != NULL) {
    if (is_watched_name (chars, 0))
      why |= 1;
  } else {
    why |= 4;
  }
  for (unsigned int i = 0; i < shared.base_count && (why & 2) == 0; i++) {
    if (((IsAssignable) functions[11]) (saved->env, klass, shared.bases[i]))
      why |= 2;
  }
  if (why != 0)
    notify (saved->env, saved->loader, klass, chars, why);
  if (chars != NULL)
    ((ReleaseUtf) functions[170]) (saved->env, saved->name, chars);
}
`;

// ART's filter, on the return of ClassLinker::DefineClass. Shared is FILTER's, followed by what ART needs: the
// JavaVM, JNIEnvExt::NewLocalRef, our callback (receiver, method id) and Thread::DecodeJObject. Heap references are 32 bits (the
// Handle<ClassLoader> points at one; null for the boot class path, whose classes are the platform's).
const ART_FILTER = `${FILTER_COMMON}
typedef struct { const char *descriptor; unsigned int *loader; } Saved;

typedef int (*GetEnv) (void *vm, void **env, int version);
typedef void * (*NewLocalRef) (void *env, void *object);
typedef void (*DeleteLocalRef) (void *env, void *ref);
typedef unsigned char (*ExceptionCheck) (void *env);
typedef void (*ExceptionClear) (void *env);
typedef void (*CallVoidMethodA) (void *env, void *object, void *method, const unsigned long long *args);
typedef void * (*NewGlobalRef) (void *env, void *ref);
typedef void (*DeleteGlobalRef) (void *env, void *ref);
typedef void * (*DecodeJObject) (void *thread, void *ref);

void onEnter (GumInvocationContext *ic) {
  Saved *saved = GUM_IC_GET_INVOCATION_DATA (ic, Saved);
  saved->descriptor = gum_invocation_context_get_nth_argument (ic, 2);
  saved->loader = gum_invocation_context_get_nth_argument (ic, 4);
}

void onLeave (GumInvocationContext *ic) {
  Saved *saved = GUM_IC_GET_INVOCATION_DATA (ic, Saved);
  void *klass = gum_invocation_context_get_return_value (ic);
  if (klass == NULL || saved->loader == NULL || *saved->loader == 0 || shared.receiver == NULL)
    return;
  unsigned long loader = *saved->loader;
  shared.seen++;
  int why = 0;
  const char *c = saved->descriptor;
  if (c != NULL && *c == 'L' && is_watched_name (c + 1, ';'))
    why |= 1;
  if (why == 0 && shared.base_count == 0)
    return;
  void **vm = shared.vm;
  void *env = NULL;
  if (((GetEnv) (*(void ***) vm)[6]) (vm, &env, 0x00010006) != 0 || env == NULL)
    return;
  void **functions = *(void ***) env;
  if (((ExceptionCheck) functions[228]) (env))
    return;
  void *klass_ref = ((NewLocalRef) shared.new_local_ref) (env, klass);
  for (unsigned int i = 0; i < shared.base_count && (why & 2) == 0; i++) {
    if (((IsAssignable) functions[11]) (env, klass_ref, shared.bases[i]))
      why |= 2;
  }
  if (why != 0) {
    void *loader_ref = ((NewLocalRef) shared.new_local_ref) (env, (void *) loader);
    // The class may move while the thread is suspendable in our callback: what DefineClass returns is read
    // back from a global reference afterwards (JNIEnvExt's Thread* follows its function table).
    void *klass_global = ((NewGlobalRef) functions[21]) (env, klass_ref);
    unsigned long long args[3] = { (unsigned long long) klass_ref, (unsigned long long) loader_ref, (unsigned long long) why };
    ((CallVoidMethodA) functions[63]) (env, shared.receiver, shared.method, args);
    if (((ExceptionCheck) functions[228]) (env))
      ((ExceptionClear) functions[17]) (env);
    void *now = ((DecodeJObject) shared.decode) (((void **) env)[1], klass_global);
    if (now != NULL && now != klass)
      gum_invocation_context_replace_return_value (ic, now);
    ((DeleteGlobalRef) functions[22]) (env, klass_global);
    ((DeleteLocalRef) functions[23]) (env, loader_ref);
  }
  ((DeleteLocalRef) functions[23]) (env, klass_ref);
}
`;
const SHARED_SIZE = 80;

// FNV-1a over the name's characters, as the filter computes it (class names are ASCII; a name that is not
// hashes differently from its UTF-8 and is then found by the JavaScript path only).
function nameHash(name: string): number {
    let hash = 2166136261;
    for (let index = 0; index < name.length; index++) {
        hash = Math.imul((hash ^ (name.charCodeAt(index) & 0xff)) >>> 0, 16777619) >>> 0;
    }
    return (hash | 1) >>> 0;
}

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
    // ART: the bridge's replacements of DexFile.defineClassNative.
    private readonly javaHooks: Java.Method[] = [];
    // ART's native path: our callback's implementation, and why it is not used when it is not.
    private callback: NativeCallback<"void", ["pointer", "pointer", "pointer", "pointer", "int"]> | null = null;
    private artNativeError = "";
    private raw: RawJni | null = null;
    private nameBuffer: NativePointer = Memory.alloc(1024);
    private nameCapacity = 1024;
    // Threads running a listener: classes our own hooking loads are seen, never re-entered.
    private readonly busyThreads = new Set<number>();
    // Shared with the C filter: struct Shared, the hash table and the bases (JNI global references).
    private readonly shared: NativePointer = Memory.alloc(SHARED_SIZE);
    private readonly table: NativePointer = Memory.alloc(TABLE_SLOTS * 4);
    private readonly bases: NativePointer = Memory.alloc(MAX_BASES * Process.pointerSize);
    private readonly watchedNames = new Set<string>();
    private readonly baseRefs: NativePointer[] = [];
    private filter: CModule | null = null;
    private notify: NativeCallback<"void", ["pointer", "pointer", "pointer", "pointer", "int"]> | null = null;
    private jsDefined = 0;
    filterError: string | null = null;
    errors = 0;
    lastError: string | null = null;
    backend: string = "none";

    onClass(listener: ClassListener): void {
        this.listeners.push(listener);
    }

    // Classes of this name are looked at when defined.
    watchName(name: string): void {
        if (this.watchedNames.has(name)) {
            return;
        }
        this.watchedNames.add(name);
        const hash = nameHash(name);
        const mask = TABLE_SLOTS - 1;
        let slot = hash & mask;
        for (let probe = 0; probe < TABLE_SLOTS; probe++, slot = (slot + 1) & mask) {
            const current = this.table.add(slot * 4).readU32();
            if (current === hash) {
                return;
            }
            if (current === 0) {
                this.table.add(slot * 4).writeU32(hash);
                return;
            }
        }
        throw new Error("the class watch's name table is full");
    }

    // Classes extending or implementing this class (a JNI global reference) are looked at when defined.
    watchSubclassesOf(base: NativePointer): void {
        if (this.baseRefs.length >= MAX_BASES) {
            throw new Error(`more than ${MAX_BASES} watched callback bases`);
        }
        this.bases.add(this.baseRefs.length * Process.pointerSize).writePointer(base);
        this.baseRefs.push(base);
        this.shared.add(4).writeU32(this.baseRefs.length);
    }

    // Classes defined since start (seen by the filter, or by the JavaScript path without one).
    get defined(): number {
        return this.filter !== null ? Number(this.shared.add(24).readS64()) : this.jsDefined;
    }

    // Must run inside Java.perform. Returns what was watched, for the host's status.
    start(): string {
        const libjava = Process.findModuleByName("libjava.so");
        if (libjava !== null && libjava.findExportByName("Java_java_lang_ClassLoader_defineClass1") !== null) {
            this.raw = rawJni();
            this.shared.writeU32(TABLE_SLOTS - 1);
            this.shared.add(4).writeU32(0);
            this.shared.add(8).writePointer(this.table);
            this.shared.add(16).writePointer(this.bases);
            this.shared.add(24).writeS64(0);
            this.filter = this.compileFilter();
            for (const [symbol, nameArg] of HOTSPOT_DEFINERS) {
                const address = libjava.findExportByName(symbol);
                if (address !== null) {
                    this.hooks.push(this.filter !== null
                        ? Interceptor.attach(address, this.filter as unknown as InvocationListenerCallbacks, ptr(nameArg))
                        : this.watchDefiner(address, nameArg));
                }
            }
            this.backend = `hotspot:libjava defineClass (${this.hooks.length} definers, ${this.filter !== null ? "C filter" : `JavaScript filter: ${this.filterError}`})`;
            return this.backend;
        }
        if (Java.available && this.watchArtDefineClass()) {
            this.backend = "art:ClassLinker::DefineClass (C filter, native callback)";
            return this.backend;
        }
        if (Java.available && this.watchArtJavaPath()) {
            this.backend = `art:ClassLoader.loadClass path (VMClassLoader.findLoadedClass, DexFile.defineClassNative); classes ART resolves natively are not seen (${this.artNativeError})`;
            return this.backend;
        }
        this.backend = "none: no known class-definition point in this VM";
        return this.backend;
    }

    // ART: the return of ClassLinker::DefineClass, filtered in C; a match reaches JavaScript through our
    // callback class's native method (see the note at the top). False, with the reason kept, when this ART
    // lacks a piece of it.
    private watchArtDefineClass(): boolean {
        const libart = Process.findModuleByName("libart.so");
        const defineClass = libart?.findExportByName(ART_DEFINE_CLASS) ?? null;
        const newLocalRef = libart?.findExportByName(ART_NEW_LOCAL_REF) ?? null;
        const decode = ART_DECODE.map((symbol) => libart?.findExportByName(symbol) ?? null).find((address) => address !== null) ?? null;
        if (defineClass === null || newLocalRef === null || decode === null) {
            this.artNativeError = "libart exports no ClassLinker::DefineClass / JNIEnvExt::NewLocalRef / Thread::DecodeJObject";
            return false;
        }
        let callback: [NativePointer, NativePointer];
        try {
            callback = this.artCallback();
        } catch (error) {
            this.artNativeError = `no callback class: ${error}`;
            return false;
        }
        this.raw = this.raw ?? rawJni();
        this.shared.writeU32(TABLE_SLOTS - 1);
        this.shared.add(4).writeU32(this.baseRefs.length);
        this.shared.add(8).writePointer(this.table);
        this.shared.add(16).writePointer(this.bases);
        this.shared.add(24).writeS64(0);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        this.shared.add(32).writePointer((Java.vm as any).handle as NativePointer);
        this.shared.add(40).writePointer(newLocalRef);
        this.shared.add(48).writePointer(callback[0]);
        this.shared.add(56).writePointer(callback[1]);
        this.shared.add(64).writePointer(decode);
        try {
            this.filter = new CModule(ART_FILTER, { shared: this.shared });
        } catch (error) {
            this.shared.add(48).writePointer(NULL);
            this.artNativeError = `no C filter: ${error}`;
            return false;
        }
        this.hooks.push(Interceptor.attach(defineClass, this.filter as unknown as InvocationListenerCallbacks));
        return true;
    }

    // Our class with one native method, defined from a dex built in memory (no file: an app may not write one),
    // its method bound to JavaScript. Returns a global reference to an instance and the method's id.
    private artCallback(): [NativePointer, NativePointer] {
        const dex = mkdex({
            name: `L${ART_CALLBACK_CLASS.replace(/\./g, "/")};`,
            sourceFileName: "ClassDefined.java",
            superClass: "Ljava/lang/Object;",
            interfaces: [],
            fields: [],
            methods: [[ART_CALLBACK_METHOD, "V", ["Ljava/lang/Class;", "Ljava/lang/ClassLoader;", "I"], [], 0]],
        });
        const klass = defineInMemory(dex as Uint8Array, ART_CALLBACK_CLASS);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const env: any = Java.vm.getEnv();
        const classRef: NativePointer = env.newGlobalRef(klass.$h);
        const watch = this;
        this.callback = new NativeCallback((callEnv: NativePointer, _self: NativePointer, classHandle: NativePointer, loaderHandle: NativePointer, why: number) => {
            watch.artNativeDefined(callEnv, loaderHandle, classHandle, why);
        }, "void", ["pointer", "pointer", "pointer", "pointer", "int"]);
        const name = Memory.allocUtf8String(ART_CALLBACK_METHOD);
        const signature = Memory.allocUtf8String(ART_CALLBACK_SIGNATURE);
        const entry = Memory.alloc(3 * Process.pointerSize);
        entry.writePointer(name);
        entry.add(Process.pointerSize).writePointer(signature);
        entry.add(2 * Process.pointerSize).writePointer(this.callback);
        if (env.registerNatives(classRef, entry, 1) !== 0) {
            env.exceptionClear();
            throw new Error("RegisterNatives failed");
        }
        const method: NativePointer = env.getMethodId(classRef, ART_CALLBACK_METHOD, ART_CALLBACK_SIGNATURE);
        const instance: NativePointer = env.allocObject(classRef);
        if (method.isNull() || instance.isNull()) {
            env.exceptionClear();
            throw new Error("the callback class has no method or instance");
        }
        const receiver: NativePointer = env.newGlobalRef(instance);
        env.deleteLocalRef(instance);
        return [receiver, method];
    }

    // A class the ART filter let through, on the app's thread in the native state.
    private artNativeDefined(env: NativePointer, loader: NativePointer, klass: NativePointer, why: number): void {
        try {
            const name = this.className(env, NULL, klass);
            if (name !== null) {
                this.artDefined(env, loader, klass, name, why);
            }
        } catch (error) {
            this.recordError(error);
        }
    }

    // ART: a class a BaseDexClassLoader defines through its Java path — loader.loadClass(name) of a
    // DexClassLoader / InMemoryDexClassLoader / PathClassLoader, as plugin frameworks and packers load an SDK's
    // entry classes — passes DexFile.defineClassNative(name, loader, cookie, dexFile). Hooked through the bridge,
    // its return runs on the app's thread in native code, as on HotSpot. Classes ART resolves natively (a
    // reference from code, Class.forName: ClassLinker::FindClassInBaseDexClassLoader) never pass there.
    private watchArtJavaPath(): boolean {
        // [class, method, index of the ClassLoader argument, index of the name argument]
        const definers: [string, string, number, number][] = [
            // ClassLoader.loadClass → findLoadedClass: for a BaseDexClassLoader ART defines the class right there
            // (ClassLinker::FindClassInBaseDexClassLoader), so this is where a DexClassLoader's classes appear.
            ["java.lang.VMClassLoader", "findLoadedClass", 0, 1],
            // Other loaders' dex classes (custom parents, DexFile.loadClass).
            ["dalvik.system.DexFile", "defineClassNative", 1, 0],
        ];
        const watch = this;
        for (const [className, methodName, loaderArg, nameArg] of definers) {
            let dispatcher: JavaValue;
            try {
                dispatcher = (Java.use(className) as JavaValue)[methodName];
            } catch (error) {
                continue;
            }
            if (dispatcher === undefined || dispatcher === null || dispatcher.overloads === undefined) {
                continue;
            }
            this.raw = this.raw ?? rawJni();
            for (const overload of dispatcher.overloads as Java.Method[]) {
                overload.implementation = function (this: JavaValue, ...args: JavaValue[]): JavaValue {
                    const defined = overload.apply(this, args);
                    if (defined !== null && defined !== undefined && args[nameArg] !== null && args[loaderArg] !== null) {
                        watch.jsDefined++;
                        try {
                            // eslint-disable-next-line @typescript-eslint/no-explicit-any
                            const env = (Java.vm.getEnv() as any).handle as NativePointer;
                            watch.artDefined(env, args[loaderArg].$h as NativePointer, defined.$h as NativePointer, String(args[nameArg]));
                        } catch (error) {
                            watch.recordError(error);
                        }
                    }
                    return defined;
                };
                this.javaHooks.push(overload);
            }
        }
        return this.javaHooks.length > 0;
    }

    // findLoadedClass also answers for classes defined long ago: each class is looked at once.
    private readonly artSeen = new Set<string>();

    private artDefined(env: NativePointer, loader: NativePointer, klass: NativePointer, name: string, filtered = 0): void {
        const className = name.replace(/\//g, ".");
        let why = (this.watchedNames.has(className) ? 1 : 0) | (filtered & 2);
        for (const base of this.baseRefs) {
            if (why >= 2) {
                break;
            }
            if (this.isSubclass(env, klass, base)) {
                why |= 2;
            }
        }
        if (why === 0) {
            return;
        }
        // The same name in another loader is another class: keyed by the class object's identity hash.
        const key = `${className}@${Java.cast(klass, Java.use("java.lang.Object")).hashCode()}`;
        if (this.artSeen.has(key)) {
            return;
        }
        this.artSeen.add(key);
        this.matched(env, loader, klass, className, why);
    }

    private compileFilter(): CModule | null {
        const watch = this;
        this.notify = new NativeCallback((env: NativePointer, loader: NativePointer, klass: NativePointer, name: NativePointer, why: number) => {
            watch.matched(env, loader, klass, name.isNull() ? null : name.readUtf8String(), why);
        }, "void", ["pointer", "pointer", "pointer", "pointer", "int"]);
        try {
            return new CModule(FILTER, { shared: this.shared, notify: this.notify });
        } catch (error) {
            this.filterError = String(error);
            return null;
        }
    }

    // A class the filter let through: its exact name, then the listeners (which check it exactly).
    // `nameHandle`: the definer's name argument (a jstring), read when `name` is not given.
    private matched(env: NativePointer, loader: NativePointer, klass: NativePointer, name: string | null, why: number,
                    nameHandle: NativePointer = NULL): void {
        const threadId = Process.getCurrentThreadId();
        if (this.busyThreads.has(threadId)) {
            return;
        }
        this.busyThreads.add(threadId);
        try {
            const className = name !== null ? name.replace(/\//g, ".") : this.className(env, nameHandle, klass);
            if (className === null || ((why & 1) !== 0 && (why & 2) === 0 && !this.watchedNames.has(className))) {
                return; // a hash collision with a watched name
            }
            const defined: DefinedClass = { name: className, env, classHandle: klass, loaderHandle: loader };
            for (const listener of this.listeners) {
                listener(defined);
            }
        } catch (error) {
            this.recordError(error);
        } finally {
            this.busyThreads.delete(threadId);
        }
    }

    // Stops watching (the job's removal): classes defined from now on are not looked at.
    stop(): void {
        this.shared.add(48).writePointer(NULL);
        for (const hook of this.hooks.splice(0)) {
            hook.detach();
        }
        const javaHooks = this.javaHooks.splice(0);
        if (javaHooks.length > 0) {
            Java.perform(() => {
                for (const overload of javaHooks) {
                    overload.implementation = null;
                }
            });
        }
    }

    get watching(): number {
        return this.hooks.length + this.javaHooks.length;
    }

    private recordError(error: unknown): void {
        this.errors++;
        this.lastError = `${error} ${(error as Error).stack ?? ""}`;
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
                if (watch.busyThreads.has(this.threadId)) {
                    return; // our own hooking's classes: neither counted nor looked at
                }
                const state = this as unknown as { env: NativePointer; loader: NativePointer; name: NativePointer };
                watch.jsDefined++;
                watch.matched(state.env, state.loader, retval, null, 4, state.name);
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

// Defines the class `name` of `dex` without writing a file: InMemoryDexClassLoader (Android 8+).
function defineInMemory(dex: Uint8Array, name: string): JavaValue {
    const bytes = Java.array("byte", Array.from(dex, (value) => (value << 24) >> 24));
    const buffer = (Java.use("java.nio.ByteBuffer") as JavaValue).wrap(bytes);
    const platform = (Java.use("java.lang.String") as JavaValue).class.getClassLoader();
    return (Java.use("dalvik.system.InMemoryDexClassLoader") as JavaValue).$new(buffer, platform).loadClass(name);
}

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
