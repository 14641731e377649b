// Turning what a hooked call returned into text the host can store and search. Every read here is
// defensive: a value we cannot describe becomes a note, never an exception in the app's thread.

import Java from "frida-java-bridge";

// Java objects crossing the bridge are dynamically typed wrappers.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JavaValue = any;

const classCache = new Map<string, Java.Wrapper>();

export function useClass(name: string): Java.Wrapper {
    let wrapper = classCache.get(name);
    if (wrapper === undefined) {
        wrapper = Java.use(name);
        classCache.set(name, wrapper);
    }
    return wrapper;
}

function isJavaObject(value: JavaValue): boolean {
    return value !== null && typeof value === "object" && typeof value.$className === "string";
}

export function cap(text: string, maxChars: number): string {
    return text.length <= maxChars ? text : text.slice(0, maxChars) + `…(${text.length} chars)`;
}

function hexByte(byte: number): string {
    return ((byte & 0xff) + 0x100).toString(16).slice(1);
}

// A Java byte[] arrives as a JS array of numbers; a MAC (6 bytes) is written the way Android prints it.
function bytesToText(bytes: number[]): string {
    const hex = bytes.map(hexByte);
    return bytes.length === 6 ? hex.join(":") : hex.join("");
}

export function toText(value: JavaValue, maxChars: number): string | null {
    if (value === null || value === undefined) {
        return null;
    }
    if (typeof value === "string") {
        return cap(value, maxChars);
    }
    if (typeof value === "number" || typeof value === "boolean") {
        return String(value);
    }
    if (Array.isArray(value) || (typeof value === "object" && typeof value.length === "number" && !isJavaObject(value))) {
        const items: JavaValue[] = Array.prototype.slice.call(value);
        if (items.every((item) => typeof item === "number")) {
            return cap(bytesToText(items as number[]), maxChars);
        }
        return cap(items.map((item) => toText(item, maxChars) ?? "null").join(","), maxChars);
    }
    if (isJavaObject(value)) {
        return cap(String(value.toString()), maxChars);
    }
    return cap(String(value), maxChars);
}

// The receiver or a returned object seen as its runtime class, so its fields and methods are reachable.
export function asRuntimeClass(value: JavaValue): JavaValue {
    if (!isJavaObject(value)) {
        return value;
    }
    // Objects taken out of collections carry their runtime class name but not its fields until cast.
    return Java.cast(value, useClass(String(value.getClass().getName())));
}

// Read a zero-argument method or, failing that, a field, of an object.
export function member(object: JavaValue, name: string, maxChars: number): string | null {
    const target = asRuntimeClass(object);
    // The bridge names a field `_x` when a method is also called `x`.
    const slot = target[name] ?? target[`_${name}`];
    if (slot === undefined || slot === null) {
        return `<no member ${name} on ${target.$className}>`;
    }
    if (slot.overloads !== undefined) {
        return toText(slot.call(target), maxChars);
    }
    return toText(slot.value, maxChars);
}

export interface ListSummary {
    count: number;
    items: string[];
    sha256: string;
}

// Collections and arrays: count, the first items, and a hash over all of them (so a list can be
// compared across runs without being stored whole).
export function summariseList(value: JavaValue, itemMember: string | null, maxItems: number, maxChars: number): ListSummary | null {
    if (value === null || value === undefined) {
        return null;
    }
    try {
        return summariseElements(value, itemMember, maxItems, maxChars);
    } catch (error) {
        // Inside a hook on a JDK class the bridge resolves element classes with the boot loader and
        // cannot wrap the app's objects; the collection's own text and size still say what was read.
        if (!isJavaObject(value) || value.size === undefined) {
            throw error;
        }
        const strings: JavaValue = useClass("java.lang.String");
        const text = String(strings.valueOf.overload("java.lang.Object").call(strings, value));
        return { count: Number(value.size()), items: [cap(text, maxChars)], sha256: Checksum.compute("sha256", text) };
    }
}

function summariseElements(value: JavaValue, itemMember: string | null, maxItems: number, maxChars: number): ListSummary {
    let elements: JavaValue[];
    if (isJavaObject(value)) {
        // A value typed as a List or Set already has toArray; casting looks the class up again, which
        // fails inside a hook on a JDK class (its loader cannot see the app's classes).
        const collection = value.toArray !== undefined ? value : Java.cast(value, useClass("java.util.Collection"));
        elements = collection.toArray();
    } else {
        elements = Array.prototype.slice.call(value);
    }
    const texts = elements.map((element) => (itemMember === null ? toText(element, maxChars) : member(element, itemMember, maxChars)) ?? "null");
    return {
        count: texts.length,
        items: texts.slice(0, maxItems),
        sha256: Checksum.compute("sha256", texts.join("\n")),
    };
}

export function isInstance(value: JavaValue, className: string): boolean {
    if (!isJavaObject(value)) {
        return false;
    }
    try {
        return useClass(className).class.isInstance(value);
    } catch (error) {
        return false; // the class does not exist in this process: nothing is an instance of it
    }
}

// Follow `path` from a value: each step is a zero-argument method or field, or `method:text` for a
// method taking one String (e.g. getStringArrayExtra:android.content.pm.extra.REQUEST_PERMISSIONS_NAMES).
// A null anywhere on the way yields null: an implicit Intent simply has no component.
export function walk(value: JavaValue, path: string[]): JavaValue {
    let current = value;
    for (const step of path) {
        if (current === null || current === undefined) {
            return null;
        }
        const colon = step.indexOf(":");
        const name = colon < 0 ? step : step.slice(0, colon);
        const target = asRuntimeClass(current);
        const slot = target[name] ?? target[`_${name}`];
        if (slot === undefined || slot === null) {
            throw new Error(`no member ${name} on ${target.$className}`);
        }
        if (slot.overloads !== undefined) {
            current = colon < 0 ? slot.call(target) : slot.call(target, step.slice(colon + 1));
        } else {
            current = slot.value;
        }
    }
    return current;
}

function named(text: string | null, names: Record<string, string>): string | null {
    return text !== null && Object.prototype.hasOwnProperty.call(names, text) ? names[text] : text;
}

// A payload value: arrays and collections become lists of text, anything else text; `names` renames.
export function payloadValue(value: JavaValue, names: Record<string, string>, maxItems: number, maxChars: number): string | string[] | null {
    if (value === null || value === undefined) {
        return null;
    }
    let items: JavaValue[] | null = null;
    if (Array.isArray(value) || (typeof value === "object" && typeof value.length === "number" && !isJavaObject(value))) {
        items = Array.prototype.slice.call(value);
    } else if (isJavaObject(value) && isInstance(value, "java.util.Collection")) {
        items = Java.cast(value, useClass("java.util.Collection")).toArray();
    }
    if (items !== null) {
        return items.slice(0, Math.max(maxItems, 1) * 10).map((item) => named(toText(item, maxChars), names) ?? "null");
    }
    return named(toText(value, maxChars), names);
}

// The link targets inside a styled text (android.text.Spanned with URLSpans): a privacy dialog's
// 《隐私政策》 is such a link, and its URL is where the policy lives. Unstyled text has none.
export function spanLinks(value: JavaValue, maxChars: number): string[] {
    if (!isInstance(value, "android.text.Spanned")) {
        return [];
    }
    try {
        // Its runtime class (SpannableString, SpannedString…): an argument typed as an interface
        // (CharSequence) arrives as a wrapper of that interface, without Object's or Spanned's methods.
        const runtime = String(Java.cast(value, useClass("java.lang.Object")).getClass().getName());
        const spanned = Java.cast(value, useClass(runtime));
        const spans = spanned.getSpans(0, spanned.length(), useClass("android.text.style.URLSpan").class);
        const links: string[] = [];
        for (const span of Array.prototype.slice.call(spans)) {
            const url = toText(Java.cast(span, useClass("android.text.style.URLSpan")).getURL(), maxChars);
            if (url !== null && !links.includes(url)) {
                links.push(url);
            }
        }
        return links;
    } catch (error) {
        return [`<unreadable links: ${error}>`];
    }
}
