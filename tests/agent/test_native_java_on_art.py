"""Native reads and Java on one thread, on Android's own runtime (host ART 10, tests/support/art): the program
and JNI library of tests/agent/test_native_java.py, dexed, the stub framework (android.location) on the boot
class path as on a phone, the library loaded with System.load from the dex program (its path a -D system property
on ART's command line, as on HotSpot's), run plain and spawned under the agent (hooks in from the first
instruction, as `run --host` runs it). The app's output is the same with and without the agent.

What Android does underneath NetworkInterface.getHardwareAddress differs from the JDK: libcore's
getHardwareAddress is getByName(name).hardwareAddr, and getByName lists every interface through
Libcore.os.getifaddrs (libcore.io.Linux, libjavacore.so → getifaddrs(3)), taking the MAC from the AF_PACKET
entry; no ioctl(SIOCGIFHWADDR) is made. So on ART the hooked call's native read is that getifaddrs (every
interface with its MAC and addresses), and the app's own NetworkInterface.getByName (not a hooked API) is a
network_info read of its own, made by the core library's JNI code with the app's Java stack.

What holds as on HotSpot: (a) the runtime's read under the hooked Java API is that API's read, kept as its
detail, never a second event; (b) an SDK's JNI code reading the MAC (ioctl, the sysfs file) carries the Java
stack of the thread that called into it; (d) a native read inside a hooked callback is a read of its own, its
stack through the callback; (c) the runtime's own call keeps its native stack. libart makes no read the
catalogue hooks in a plain start (HotSpot's libjvm fopens /proc/cpuinfo; libart's CPU features are compile-time
defines), so the runtime is started with its internal JDWP transport connecting out to a debugger (nobody
listens: refused, the program runs on): libart's connect() on its JDWP thread, the one hooked libc call libart
makes. Like libjvm's /proc/cpuinfo read on HotSpot it is made while the VM starts.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from monitor.agent.session import AgentOptions
from support.art import fixtures as art_fixtures
from support.native import build_jni_library

from test_native_java import INTERFACE, SOURCES, _by_api

pytestmark = [pytest.mark.frida, pytest.mark.timeout(900)]

art10 = art_fixtures.art10   # the host ART runtime (built on first use), as a fixture of this module

FRAMEWORK = {name: text for name, text in SOURCES.items() if name.startswith("android/")}   # a phone's boot class path
APP = {name: text for name, text in SOURCES.items() if name not in FRAMEWORK}

# ART's own library: a call made from it is made with the thread in the VM's own state (no Java stack asked for).
ART_RUNTIME = {"libart.so", "libartd.so"}


class _Started:
    """The runtime started as on HotSpot, with the JNI library's path as the system property DeviceInfo loads it
    from, and with its internal JDWP transport connecting out to a debugger on `port` (client mode, no suspend):
    libart's own connect() as the VM starts."""

    def __init__(self, runtime: Any, port: int) -> None:
        self.runtime, self.port = runtime, port

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runtime, name)

    def command(self, main: str, **arguments: Any) -> list[str]:
        options = [f"-Dconsentmon.jnimac={build_jni_library()}", "-XjdwpProvider:internal",
                   f"-XjdwpOptions:transport=dt_socket,address=127.0.0.1:{self.port},server=n,suspend=n"]
        return self.runtime.command(main, options=options, **arguments)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def art_runs(art10):
    if INTERFACE is None:
        pytest.skip("no network interface with a MAC on this machine")
    from support.art.agent import run_on_art, spawn_on_art
    from support.art.dex import dex_jar

    framework = dex_jar(art10, FRAMEWORK, name="native-java-framework")
    app = dex_jar(art10, APP, name="native-java-app", classpath=[framework.classes])
    runtime = _Started(art10, _free_port())
    common = {"classpath": [app.dex], "boot": [framework.dex], "args": [INTERFACE]}
    plain = run_on_art(runtime, "com.example.jni.App", attach=False, **common)
    hooked = spawn_on_art(runtime, "com.example.jni.App",
                          options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0, follow_children=False), **common)
    return plain, hooked, runtime.port


def _mac() -> str:
    return (Path("/sys/class/net") / INTERFACE / "address").read_text().strip()


def test_on_art_the_program_sees_the_same_with_the_agent(art_runs) -> None:
    plain, hooked, _ = art_runs
    mac = _mac()
    assert plain.stdout_lines() == ["java 6", f"jni ioctl {mac}", f"jni file {mac}", f"callback ioctl {mac}"]
    assert hooked.stdout_lines() == plain.stdout_lines()
    stats = next(iter(hooked.summary.values()))["stats"]
    assert stats["record_errors"] == 0, stats["last_record_error"]


def test_on_art_the_runtimes_getifaddrs_under_getHardwareAddress_is_that_calls_read(art_runs) -> None:
    _, hooked, _ = art_runs
    mac = _mac()
    (java,) = _by_api(hooked, "java.net.NetworkInterface.getHardwareAddress")
    assert java["value"] == mac
    assert java["stack"][0].startswith("com.example.jni.App.main(")
    # libcore asks for every interface (getifaddrs from its JNI code), not for one MAC by ioctl.
    (read,) = java["payload"]["native_reads"]
    assert (read["api"], read["module"]) == ("libc.so.getifaddrs", "libjavacore.so")
    assert f"{INTERFACE} mac {mac}" in read["value"].split(", ")
    # Not a second time on its own: the one getifaddrs event left is the app's own getByName (a second
    # getifaddrs the program made, outside any hooked call), and every ioctl event is the SDK's.
    listed = _by_api(hooked, "libc.so.getifaddrs")
    assert len(listed) == 1
    assert not any("getHardwareAddress" in frame for frame in listed[0]["stack"])
    ioctls = _by_api(hooked, "libc.so.ioctl")
    assert len(ioctls) == 2 and all(event["payload"]["module"] == "libjnimac.so" for event in ioctls)


def test_on_art_the_apps_own_interface_listing_is_its_read_with_the_java_stack(art_runs) -> None:
    """NetworkInterface.getByName is not hooked: the core library's JNI code reading every interface is recorded
    as a read of its own, with the Java stack down to the app (so attributed to it), the native one kept."""
    _, hooked, _ = art_runs
    (listed,) = _by_api(hooked, "libc.so.getifaddrs")
    assert listed["category"] == "network_info" and listed["payload"]["module"] == "libjavacore.so"
    assert f"{INTERFACE} mac {_mac()}" in listed["payload"]["items"]
    assert listed["stack"][0] == "libcore.io.Linux.getifaddrs(Native Method)"
    frames = [frame.split("(")[0] for frame in listed["stack"]]
    getter = frames.index("java.net.NetworkInterface.getByName")
    assert frames[getter + 1] == "com.example.jni.App.main"
    assert any("libjavacore.so!" in frame and "getifaddrs" in frame for frame in listed["payload"]["native_stack"])


def test_on_art_jni_reads_carry_the_java_stack_of_their_caller(art_runs) -> None:
    _, hooked, _ = art_runs
    ioctl = _by_api(hooked, "libc.so.ioctl")[0]
    assert ioctl["value"] == _mac() and ioctl["payload"]["interface"] == INTERFACE
    assert ioctl["stack"][0] == "com.sdk.jni.DeviceInfo.macByIoctl(Native Method)"
    assert ioctl["stack"][1].startswith("com.example.jni.App.main(")
    assert len(ioctl["stack"]) == 2
    native = ioctl["payload"]["native_stack"]
    assert "libjnimac.so!Java_com_sdk_jni_DeviceInfo_macByIoctl" in native[0]
    assert any(frame.split(" ")[1].startswith("libart.so!") for frame in native[1:])   # ART's JNI trampoline below
    opened = [event for event in _by_api(hooked, "libc.so.open") if event["args"][0] == f"/sys/class/net/{INTERFACE}/address"]
    assert len(opened) == 1 and opened[0]["stack"][0] == "com.sdk.jni.DeviceInfo.macByFile(Native Method)"
    assert opened[0]["stack"][1].startswith("com.example.jni.App.main(")
    assert opened[0]["value"] == ioctl["value"]


def test_on_art_the_runtimes_own_reads_keep_their_native_stack(art_runs) -> None:
    """libart connecting out to the debugger, on its JDWP thread: recorded with libart's native backtrace, no Java
    stack asked for; and every call recorded from libart is so."""
    plain, hooked, port = art_runs
    assert f"Connecting out to 127.0.0.1:{port}" in plain.stderr   # the runtime did make that call, plain too
    (jdwp,) = [event for event in _by_api(hooked, "libc.so.connect") if event["payload"]["module"] in ART_RUNTIME]
    assert (jdwp["value"], jdwp["thread"], jdwp["payload"]["transport"]) == (f"127.0.0.1:{port}", "JDWP", "tcp")
    assert "libart.so!_ZN3art4JDWP15JdwpSocketState9Establish" in jdwp["stack"][0]
    platform = [event for event in hooked.sink.hooks() if (event["payload"] or {}).get("module") in ART_RUNTIME]
    assert all("native_stack" not in event["payload"] and all(frame.startswith("0x") for frame in event["stack"])
               for event in platform)


def test_on_art_a_native_read_inside_a_hooked_callback_is_a_read_of_its_own(art_runs) -> None:
    """The SDK's listener override is hooked (class watch on ART); the JNI read it makes is recorded on its own,
    its Java stack through the callback. As on HotSpot the hooked override shows twice in that stack: the
    bridge's replacement (a native method to the VM) and the original it calls, which on ART keeps its line."""
    _, hooked, _ = art_runs
    (fix,) = _by_api(hooked, "android.location.LocationListener.onLocationChanged")
    assert fix["payload"]["override_class"] == "com.sdk.jni.FixListener"
    assert "native_reads" not in fix["payload"]
    inside = _by_api(hooked, "libc.so.ioctl")[1]
    assert inside["value"] == _mac()
    assert inside["stack"][0] == "com.sdk.jni.DeviceInfo.macByIoctl(Native Method)"
    assert inside["stack"][1].startswith("com.sdk.jni.FixListener.onLocationChanged(FixListener.java:")
    assert inside["stack"][2] == "com.sdk.jni.FixListener.onLocationChanged(Native Method)"
    assert inside["stack"][3].startswith("com.example.jni.App.main(")
