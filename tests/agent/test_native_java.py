"""Native reads and Java on one thread, on a real JVM: the runtime's own native read under a hooked Java API is
that API's read (one event, the native read kept as its detail), and an SDK's JNI code reading the MAC carries
the Java stack of the thread that called into it, so the read is attributed to the SDK."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from monitor.agent.session import AgentOptions
from support.native import build_jni_library

from agentrun import AgentRun, run_under_agent

pytestmark = pytest.mark.frida

SOURCES = {
    "com/sdk/jni/DeviceInfo.java": """
package com.sdk.jni;
public final class DeviceInfo {
    static { System.load(System.getProperty("consentmon.jnimac")); }
    public static native String macByIoctl(String interfaceName);
    public static native String macByFile(String path);
}
""",
    "android/location/Location.java": """
package android.location;
public class Location { @Override public String toString() { return "Location[gps 31.2,121.5]"; } }
""",
    "android/location/LocationListener.java": """
package android.location;
public interface LocationListener { void onLocationChanged(Location location); }
""",
    "com/sdk/jni/FixListener.java": """
package com.sdk.jni;
// An SDK's listener whose callback reads the MAC through its JNI code: a read of its own, not the fix's.
public class FixListener implements android.location.LocationListener {
    private final String interfaceName;
    public FixListener(String interfaceName) { this.interfaceName = interfaceName; }
    public void onLocationChanged(android.location.Location location) {
        System.out.println("callback ioctl " + DeviceInfo.macByIoctl(interfaceName));
    }
}
""",
    "com/example/jni/App.java": """
package com.example.jni;
public class App {
    public static void main(String[] args) throws Exception {
        byte[] mac = java.net.NetworkInterface.getByName(args[0]).getHardwareAddress();
        System.out.println("java " + (mac == null ? "null" : mac.length));
        System.out.println("jni ioctl " + com.sdk.jni.DeviceInfo.macByIoctl(args[0]));
        System.out.println("jni file " + com.sdk.jni.DeviceInfo.macByFile("/sys/class/net/" + args[0] + "/address"));
        new com.sdk.jni.FixListener(args[0]).onLocationChanged(new android.location.Location());
    }
}
""",
}


def _interface_with_a_mac() -> str | None:
    """A network interface with a real MAC (the JDK asks the kernel for none of the loopback's)."""
    for path in sorted(Path("/sys/class/net").iterdir()):
        address = (path / "address").read_text().strip() if (path / "address").exists() else ""
        if path.name != "lo" and address and address != "00:00:00:00:00:00":
            return path.name
    return None


INTERFACE = _interface_with_a_mac()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[list[str], AgentRun]:
    if INTERFACE is None:
        pytest.skip("no network interface with a MAC on this machine")
    root = tmp_path_factory.mktemp("jni")
    files = []
    for name, text in SOURCES.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(str(path))
    subprocess.run(["javac", "-d", str(root / "classes"), *files], check=True, capture_output=True, timeout=180)
    command = ["/usr/bin/java", f"-Dconsentmon.jnimac={build_jni_library()}", "-cp", str(root / "classes"), "com.example.jni.App",
               INTERFACE]
    plain = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout.splitlines()
    return plain, run_under_agent(command, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))


def _by_api(run: AgentRun, api: str) -> list[dict]:
    return [event for event in run.sink.hooks() if event["api"] == api]


def test_the_program_sees_the_same_with_the_agent(run) -> None:
    plain, hooked = run
    assert hooked.stdout_lines() == plain
    mac = (Path("/sys/class/net") / INTERFACE / "address").read_text().strip()
    assert plain == ["java 6", f"jni ioctl {mac}", f"jni file {mac}", f"callback ioctl {mac}"]


def test_the_runtimes_ioctl_under_getHardwareAddress_is_that_calls_read(run) -> None:
    _, hooked = run
    (java,) = _by_api(hooked, "java.net.NetworkInterface.getHardwareAddress")
    mac = (Path("/sys/class/net") / INTERFACE / "address").read_text().strip()
    assert java["value"] == mac
    reads = java["payload"]["native_reads"]
    assert [(read["api"], read["value"]) for read in reads] == [("libc.so.ioctl", mac)]
    # Not a second time as a read of no known code: the only ioctl events left are the SDK's own.
    ioctls = _by_api(hooked, "libc.so.ioctl")
    assert len(ioctls) == 2 and all(event["payload"]["module"].startswith("libjnimac") for event in ioctls)


def test_jni_reads_carry_the_java_stack_of_their_caller(run) -> None:
    _, hooked = run
    ioctl = _by_api(hooked, "libc.so.ioctl")[0]
    assert ioctl["stack"][0] == "com.sdk.jni.DeviceInfo.macByIoctl(Native Method)"
    assert ioctl["stack"][1].startswith("com.example.jni.App.main(")
    assert any("libjnimac.so!Java_com_sdk_jni_DeviceInfo_macByIoctl" in frame for frame in ioctl["payload"]["native_stack"])
    opened = [event for event in _by_api(hooked, "libc.so.open") if event["args"][0] == f"/sys/class/net/{INTERFACE}/address"]
    assert len(opened) == 1 and opened[0]["stack"][0] == "com.sdk.jni.DeviceInfo.macByFile(Native Method)"
    assert opened[0]["value"] == ioctl["value"]


def test_the_runtimes_own_reads_keep_their_native_stack(run) -> None:
    _, hooked = run
    # The JVM reading /proc/cpuinfo as it starts: made from libjvm, no Java stack is asked for there.
    platform = [event for event in hooked.sink.hooks() if event["payload"] and event["payload"].get("module") == "libjvm.so"]
    assert platform and all("native_stack" not in event["payload"] for event in platform)
    stats = next(iter(hooked.summary.values()))["stats"]
    assert stats["record_errors"] == 0, stats["last_record_error"]


def test_a_native_read_inside_a_hooked_callback_is_a_read_of_its_own(run) -> None:
    """A callback (an override the agent hooks) runs the app's or an SDK's own code: a native read in it is not
    the callback's data, so it is recorded on its own, with the Java stack through the callback."""
    _, hooked = run
    (fix,) = _by_api(hooked, "android.location.LocationListener.onLocationChanged")
    assert "native_reads" not in (fix["payload"] or {})
    inside = _by_api(hooked, "libc.so.ioctl")[1]
    assert inside["stack"][0] == "com.sdk.jni.DeviceInfo.macByIoctl(Native Method)"
    assert inside["stack"][1].startswith("com.sdk.jni.FixListener.onLocationChanged(")
