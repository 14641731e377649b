// Time stamps for events.
//
// The host needs exact epoch nanoseconds to put agent and proxy events on one clock, and epoch ns do
// not fit a JS number exactly (2^53 < 1.7e18). Building them as text or BigInt on every event cost
// ~2.4 µs in the agent's V8 (measured; the clock call itself 0.3 µs), the largest part of queuing an
// event. So an event's stamp is a JS number: nanoseconds since `clockBaseNs()`, a whole second taken
// when the agent loaded. That is exact for 104 days of process life (2^53 ns), and only rounds to a few
// ns after. Every batch the queue sends names its base, and the host adds it back
// (monitor/agent/session.py), so the events on disk carry full epoch nanoseconds as before.

const CLOCK_REALTIME = 0;
let clockGettime: NativeFunction<number, [number, NativePointerValue]> | null = null;
// struct timespec is { time_t tv_sec; long tv_nsec; }: both are pointer-sized on Android and Linux, so the
// nanoseconds are at offset 4 in a 32-bit process (an app shipping only armeabi-v7a libraries) and 8 in a
// 64-bit one.
const timespec = Memory.alloc(16);
const nanosField = timespec.add(Process.pointerSize);
let baseSeconds = -1;

function readClock(): boolean {
    if (clockGettime === null) {
        // exclusive/propagate: a libc clock read needs neither Frida's thread switching nor its exception guard.
        clockGettime = new NativeFunction(Module.getGlobalExportByName("clock_gettime"), "int", ["int", "pointer"],
            { scheduling: "exclusive", exceptions: "propagate" });
    }
    return clockGettime(CLOCK_REALTIME, timespec) === 0;
}

// Seconds since 1970 as an unsigned 32-bit read (the low word on a little-endian 64-bit time_t; exact until
// 2106, and cheaper than an Int64), nanos < 10^9.
function readSeconds(): number {
    return timespec.readU32();
}

function ensureBase(): void {
    if (baseSeconds < 0) {
        baseSeconds = readClock() ? readSeconds() : Math.floor(Date.now() / 1000);
    }
}

// The base every stamp is relative to, epoch nanoseconds as a decimal string.
export function clockBaseNs(): string {
    ensureBase();
    return `${baseSeconds}000000000`;
}

// Now, in nanoseconds since clockBaseNs(): what events carry as device_ts on the wire.
export function stampNs(): number {
    ensureBase();
    if (!readClock()) {
        return (Date.now() - baseSeconds * 1000) * 1000000;
    }
    return (readSeconds() - baseSeconds) * 1000000000 + nanosField.readU32();
}

// Now, in epoch nanoseconds as a decimal string: for the few messages that travel outside a batch.
export function nowNs(): string {
    if (!readClock()) {
        return (BigInt(Date.now()) * 1000000n).toString();
    }
    return `${readSeconds()}${(1000000000 + nanosField.readU32()).toString().slice(1)}`;
}
