"""Android version profiles: the properties, files and processes a fresh device of that version has.

Property names and value shapes follow real `getprop` dumps kept in tests/data/android/ (an
Android 14 emulator image); the per-version numbers (release, SDK, codename) are AOSP's.
"""

from __future__ import annotations

from support.adbsim.state import INIT_NS, DeviceState, Package

# release, sdk, build id, whether `date +%s%N` works (older toybox prints %N as is)
VERSIONS: dict[int, tuple[str, int, str, bool]] = {
    7: ("7.1.1", 25, "NYC", False),
    10: ("10", 29, "QSR1.210802.001", True),
    13: ("13", 33, "TE1A.220922.034", True),
    14: ("14", 34, "UE1A.230829.050", True),
    15: ("15", 35, "AE3A.240806.005", True),
}

ABIS = {
    "x86_64": ("x86_64", "x86_64,arm64-v8a", "sdk_gphone64_x86_64", "emu64xa"),
    "arm64-v8a": ("arm64-v8a", "arm64-v8a,armeabi-v7a,armeabi", "Pixel 7", "panther"),
    "x86": ("x86", "x86", "sdk_gphone_x86", "generic_x86"),
    "armeabi-v7a": ("armeabi-v7a", "armeabi-v7a,armeabi", "SM-J530F", "j5y17lte"),
}

# Names in the style of Android's system store (<subject_hash_old>.0); contents are stand-ins.
SYSTEM_CA_NAMES = ["5ed36f99.0", "9d520b32.0", "b0e59380.0", "d6325660.0", "e8651083.0"]

DEMO_PACKAGE = "com.example.consentdemo"
DEMO_PERMISSIONS = ["android.permission.ACCESS_FINE_LOCATION", "android.permission.READ_PHONE_STATE",
                    "android.permission.CAMERA", "android.permission.INTERNET"]


def build_state(android: int = 14, *, abi: str = "x86_64", emulator: bool = True, root_mode: str | None = "su0",
                selinux: str = "Enforcing", clock_skew_ns: int = 0, with_demo_app: bool = True) -> DeviceState:
    release, sdk, build_id, nanos = VERSIONS[android]
    primary, abilist, model, device = ABIS[abi]
    build_type = "userdebug" if emulator else "user"
    tags = "dev-keys" if emulator else "release-keys"
    product = model.lower().replace(" ", "_")
    props = {
        "ro.build.version.release": release,
        "ro.build.version.sdk": str(sdk),
        "ro.build.id": build_id,
        "ro.build.type": build_type,
        "ro.build.tags": tags,
        "ro.build.fingerprint": f"google/{product}/{device}:{release}/{build_id}/1234567:{build_type}/{tags}",
        "ro.product.model": model,
        "ro.product.manufacturer": "Google",
        "ro.product.brand": "google",
        "ro.product.device": device,
        "ro.product.name": product,
        "ro.product.cpu.abi": primary,
        "ro.product.cpu.abilist": abilist,
        "ro.debuggable": "1" if emulator else "0",
        "ro.secure": "1",
        "ro.adb.secure": "0" if emulator else "1",
        "ro.zygote": _zygote_kind(primary, abilist),
        "persist.sys.timezone": "Asia/Shanghai",
        "sys.boot_completed": "1",
    }
    if emulator:
        props.update({"ro.kernel.qemu": "1", "ro.boot.qemu": "1", "ro.hardware": "ranchu",
                      "ro.build.characteristics": "emulator"})
    else:
        props.update({"ro.hardware": "qcom", "ro.build.characteristics": "nosdcard"})
    state = DeviceState(props, root_mode=root_mode, selinux=selinux, clock_skew_ns=clock_skew_ns,
                        date_has_nanos=nanos)
    state.settings["global"].update({"adb_enabled": "1", "development_settings_enabled": "1", "airplane_mode_on": "0"})
    state.settings["secure"].update({"android_id": "9774d56d682e549c", "default_input_method":
                                     "com.android.inputmethod.latin/.LatinIME"})
    state.settings["system"].update({"screen_off_timeout": "60000", "font_scale": "1.0"})

    for directory in ["/system", "/system/bin", "/system/xbin", "/system/etc", "/system/etc/security",
                      "/system/etc/security/cacerts", "/data", "/data/local", "/data/local/tmp", "/data/app", "/data/tombstones",
                      "/sdcard", "/proc", "/apex", "/vendor"]:
        state.dirs.add(directory)
    for name in SYSTEM_CA_NAMES:
        pem = f"-----BEGIN CERTIFICATE-----\nstand-in for {name}\n-----END CERTIFICATE-----\n".encode()
        state.files[f"/system/etc/security/cacerts/{name}"] = _file(pem)
    if sdk >= 34:
        state.dirs.update({"/apex/com.android.conscrypt", "/apex/com.android.conscrypt/cacerts"})
        for name in SYSTEM_CA_NAMES:
            state.files[f"/apex/com.android.conscrypt/cacerts/{name}"] = state.files[f"/system/etc/security/cacerts/{name}"]
    for tool in ["sh", "toybox", "getprop", "settings", "pm", "am", "input", "screencap", "uiautomator", "logcat",
                 "mount", "umount", "ps", "kill", "date", "id", "monkey", "cmd", "dumpsys", "nsenter", "iptables",
                 "ip6tables"]:
        state.files[f"/system/bin/{tool}"] = _file(b"\x7fELF", 0o755)
    if root_mode in ("su0", "su-c"):
        state.files["/system/xbin/su"] = _file(b"\x7fELF su", 0o6755)

    init = state.spawn("init", user="root", ppid=0, namespace=INIT_NS)
    assert init.pid == 3000
    # Renumber init to pid 1 as on a device.
    state.processes.pop(init.pid)
    init.pid = 1
    state.processes[1] = init
    for name, user in [("ueventd", "root"), ("logd", "logd"), ("servicemanager", "system"), ("vold", "root"),
                       ("netd", "root"), ("surfaceflinger", "system"), ("adbd", "root" if root_mode == "adbd" else "shell")]:
        state.spawn(name, user=user, ppid=1, namespace=INIT_NS)
    zygotes = ["zygote64"] if props["ro.zygote"] == "zygote64" else ["zygote"] if props["ro.zygote"] == "zygote32" else ["zygote64", "zygote"]
    for name in zygotes:
        zygote = state.spawn(name, user="root", ppid=1, own_namespace=True)
        if name == zygotes[0]:
            state.spawn("system_server", user="system", ppid=zygote.pid, own_namespace=True)
            state.spawn("com.android.systemui", user="u0_a167", ppid=zygote.pid, own_namespace=True)
            state.spawn("com.android.launcher3", user="u0_a169", ppid=zygote.pid, own_namespace=True)

    state.packages["com.android.launcher3"] = Package("com.android.launcher3", 34, "14", "/system/priv-app/Launcher3/Launcher3.apk",
                                                      [], system=True)
    state.packages["com.android.systemui"] = Package("com.android.systemui", 34, "14", "/system_ext/priv-app/SystemUI/SystemUI.apk",
                                                     [], system=True)
    if with_demo_app:
        state.packages[DEMO_PACKAGE] = Package(DEMO_PACKAGE, 7, "1.0.7", f"/data/app/{DEMO_PACKAGE}-1/base.apk",
                                               list(DEMO_PERMISSIONS), granted={"android.permission.INTERNET"},
                                               target_sdk=min(sdk, 34))
    state.logcat.append("01-01 00:00:00.000  1000  1000 I boot    : simulated device ready")
    return state


def _zygote_kind(primary: str, abilist: str) -> str:
    is64 = primary in ("x86_64", "arm64-v8a")
    has32 = any(abi in ("x86", "armeabi-v7a", "armeabi") for abi in abilist.split(","))
    return ("zygote64_32" if has32 else "zygote64") if is64 else "zygote32"


def _file(data: bytes = b"", mode: int = 0o644):
    from support.adbsim.state import File

    return File(data, mode)
