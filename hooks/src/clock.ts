// Wall-clock time in nanoseconds as a decimal string: epoch ns does not fit a JS number exactly
// (2^53 < 1.7e18), and the host needs the exact value to put agent and proxy events on one clock.
// Built from seconds and nanoseconds as text: BigInt arithmetic cost more than the clock read itself.

const CLOCK_REALTIME = 0;
let clockGettime: NativeFunction<number, [number, NativePointerValue]> | null = null;
const timespec = Memory.alloc(16);
const nanosField = timespec.add(8);

export function nowNs(): string {
    if (clockGettime === null) {
        // exclusive/propagate: a libc clock read needs neither Frida's thread switching nor its exception guard.
        clockGettime = new NativeFunction(Module.getGlobalExportByName("clock_gettime"), "int", ["int", "pointer"],
            { scheduling: "exclusive", exceptions: "propagate" });
    }
    if (clockGettime(CLOCK_REALTIME, timespec) !== 0) {
        return (BigInt(Date.now()) * 1000000n).toString();
    }
    // Seconds since 1970 fit a JS number exactly until the year 285 million; nanoseconds are < 10^9.
    const seconds = timespec.readS64().toNumber();
    const nanos = nanosField.readS64().toNumber();
    return `${seconds}${(1000000000 + nanos).toString().slice(1)}`;
}
