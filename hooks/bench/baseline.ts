import Java from "frida-java-bridge";

Java.perform(() => {
    const Probe = Java.use("consentbench.Probe");
    const Throwable = Java.use("java.lang.Throwable");
    Probe.baseline.implementation = function (i: number): string {
        const value: string = this.baseline(i);
        const stack = Throwable.$new().getStackTrace().map((frame: { toString(): string }) => frame.toString());
        send({ api: "consentbench.Probe.baseline", value, stack });
        return value;
    };
    send({ ready: true });
});
