// Wall-clock time in nanoseconds as a decimal string: epoch ns does not fit a JS number exactly
// (2^53 < 1.7e18), and the host needs the exact value to put agent and proxy events on one clock.

const CLOCK_REALTIME = 0;
let clockGettime: NativeFunction<number, [number, NativePointerValue]> | null = null;
const timespec = Memory.alloc(16);

export function nowNs(): string {
    if (clockGettime === null) {
        clockGettime = new NativeFunction(Module.getGlobalExportByName("clock_gettime"), "int", ["int", "pointer"]);
    }
    if (clockGettime(CLOCK_REALTIME, timespec) !== 0) {
        return (BigInt(Date.now()) * 1000000n).toString();
    }
    const seconds = BigInt(timespec.readS64().toString());
    const nanos = BigInt(timespec.add(8).readS64().toString());
    return (seconds * 1000000000n + nanos).toString();
}
