"""Drive the app under test: install, clear, permissions, launch, keys, taps, screenshots, UI dumps,
and logcat into the run directory."""

from __future__ import annotations

import shlex
import socket
import threading
from pathlib import Path

from monitor.device.adb import AndroidDevice, DeviceUnreachable
from monitor.device.apk import ApkInfo, read_apk_info
from monitor.device.parsers import PackageDump, parse_dumpsys_package
from monitor.errors import DeviceError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
UI_DUMP_PATH = "/sdcard/consentmon-ui.xml"
INSTALL_TMP = "/data/local/tmp/consentmon-install.apk"


class AppControl:
    def __init__(self, device: AndroidDevice, package: str) -> None:
        self.device = device
        self.package = package

    def _run(self, command: str) -> str:
        return self.device.shell(command, check=True).out

    # ---- package -----------------------------------------------------------------------------

    def install(self, apk: Path) -> ApkInfo:
        """Install (or update, keeping data) and return what was installed, for run.json."""
        info = read_apk_info(Path(apk))
        if info.package != self.package:
            raise DeviceError(f"{apk} is {info.package}, not {self.package}", hint="pass the matching --package or APK")
        self.device.push(Path(apk), INSTALL_TMP)
        try:
            out = self.device.shell(f"pm install -r {INSTALL_TMP}").out
        finally:
            self.device.shell(f"rm -f {INSTALL_TMP}")
        if "Success" not in out:
            raise DeviceError(f"installing {apk.name} failed: {out.strip()}",
                              hint="see https://developer.android.com/tools/adb#pm for the INSTALL_FAILED_* code")
        return info

    def installed(self) -> PackageDump | None:
        return parse_dumpsys_package(self.device.shell(f"dumpsys package {shlex.quote(self.package)}").out, self.package)

    def clear(self) -> None:
        """Wipe the app's data so the next launch is a true first run (consent not yet given)."""
        out = self._run(f"pm clear {shlex.quote(self.package)}")
        if "Success" not in out:
            raise DeviceError(f"pm clear {self.package} failed: {out.strip()}", hint="is the package installed? adb shell pm list packages")

    def grant(self, permission: str) -> None:
        self._run(f"pm grant {shlex.quote(self.package)} {shlex.quote(permission)}")

    def revoke(self, permission: str) -> None:
        self._run(f"pm revoke {shlex.quote(self.package)} {shlex.quote(permission)}")

    # ---- lifecycle and input -----------------------------------------------------------------

    def launch(self) -> None:
        result = self.device.shell(f"monkey -p {shlex.quote(self.package)} -c android.intent.category.LAUNCHER 1")
        if not result.ok or "Events injected: 1" not in result.out:
            raise DeviceError(f"could not launch {self.package}: {(result.err or result.out).strip()}",
                              hint="is it installed and does it have a launcher activity?")

    def force_stop(self) -> None:
        self._run(f"am force-stop {shlex.quote(self.package)}")

    def relaunch(self) -> None:
        self.force_stop()
        self.launch()

    def key(self, keycode: str) -> None:
        self._run(f"input keyevent {keycode}")

    def home(self) -> None:
        self.key("KEYCODE_HOME")

    def back(self) -> None:
        self.key("KEYCODE_BACK")

    def recents(self) -> None:
        self.key("KEYCODE_APP_SWITCH")

    def tap_point(self, x: int, y: int) -> None:
        self._run(f"input tap {int(x)} {int(y)}")

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None:
        self._run(f"input swipe {int(x1)} {int(y1)} {int(x2)} {int(y2)} {int(duration_ms)}")

    def input_text(self, text: str) -> None:
        # `input text` takes %s for a space; everything else is passed through shell quoting.
        self._run(f"input text {shlex.quote(text.replace(' ', '%s'))}")

    # ---- screen ------------------------------------------------------------------------------

    def screenshot(self, path: Path) -> Path:
        png = self.device.shell_bytes("screencap -p")
        if not png.startswith(PNG_MAGIC):
            raise DeviceError("screencap did not return a PNG", hint="is the screen on and unlocked?")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return path

    def ui_dump(self) -> str:
        result = self.device.shell(f"uiautomator dump {UI_DUMP_PATH} >/dev/null && cat {UI_DUMP_PATH}")
        self.device.shell(f"rm -f {UI_DUMP_PATH}")
        if not result.ok or "<hierarchy" not in result.out:
            raise DeviceError(f"uiautomator dump failed: {(result.err or result.out).strip()[:200]}",
                              hint="retry when the screen is idle (animations block the dump)")
        return result.out[result.out.index("<?xml") if "<?xml" in result.out else result.out.index("<hierarchy"):]


class LogcatCapture:
    """Streams `logcat -v threadtime` into a file of the run until stopped. Logcat is the device's
    log: it is read, never cleared."""

    def __init__(self, device: AndroidDevice, path: Path) -> None:
        self.device = device
        self.path = Path(path)
        self.bytes_written = 0
        self.error: str | None = None
        self._conn = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> "LogcatCapture":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self.device.open_stream("logcat -v threadtime -T 1")
        self._conn.conn.settimeout(0.5)
        self._thread = threading.Thread(target=self._pump, daemon=True, name="logcat")
        self._thread.start()
        return self

    def _pump(self) -> None:
        assert self._conn is not None
        with open(self.path, "ab") as out:
            while not self._stop.is_set():
                try:
                    chunk = self._conn.conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError as exc:
                    self.error = f"logcat stream broke: {exc}"
                    return
                if not chunk:
                    return
                out.write(chunk)
                out.flush()
                self.bytes_written += len(chunk)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> "LogcatCapture":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["AppControl", "LogcatCapture", "DeviceUnreachable"]
