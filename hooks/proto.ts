import Java from "frida-java-bridge";
function install(): void {
  Java.perform(() => {
    const S = Java.use("android.provider.Settings$Secure");
    S.getString.implementation = function (r: any, n: string) {
      const v = this.getString(r, n);
      send({ type: "events:add", events: [{ api: "Settings.Secure.getString", arg: n, value: v }] });
      return v;
    };
    send({ type: "ready" });
  });
}
function watch(): void {
  const m = Process.findModuleByName("libjvm.so");
  if (m !== null) { hookCreate(m); return; }
  const obs = Process.attachModuleObserver({ onAdded(mod) { if (mod.name === "libjvm.so") { hookCreate(mod); } } });
}
let done = false;
function hookCreate(m: Module): void {
  if (Java.available) { install(); return; }
  const f = m.getExportByName("JNI_CreateJavaVM");
  Interceptor.attach(f, { onLeave(rv) { if (!done && rv.toInt32() === 0) { done = true; install(); } } });
}
watch();
