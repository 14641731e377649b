"""One Android device over adb (adbutils): shell with exit codes, root, files, reverse ports.

Every adb failure becomes a `DeviceError`; a device that is gone (unplugged, emulator stopped,
adb server down) becomes `DeviceUnreachable`, which restore code treats as "try again later".
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import adbutils

from monitor.errors import DeviceError

DEFAULT_TIMEOUT = 30.0


class DeviceUnreachable(DeviceError):
    """The device cannot be talked to right now (gone, offline, unauthorized, or no adb server)."""


class ServiceRefused(DeviceError):
    """The device is there but its adbd does not offer one service (`reverse:` before Android 5, on some
    remote adb services): that capability is missing, not the device."""


@dataclass(frozen=True)
class ShellResult:
    command: str
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def is_emulator(props: dict[str, str]) -> bool:
    return (props.get("ro.kernel.qemu") == "1" or props.get("ro.boot.qemu") == "1"
            or props.get("ro.hardware", "") in ("ranchu", "goldfish"))


def adb_client() -> adbutils.AdbClient:
    """The adb server the user (or a test) points at: ANDROID_ADB_SERVER_PORT, default 5037."""
    host = os.environ.get("ANDROID_ADB_SERVER_HOST", "127.0.0.1")
    port = int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    return adbutils.AdbClient(host=host, port=port, socket_timeout=DEFAULT_TIMEOUT)


# adbutils raises EOFError (not an AdbError or OSError) when the adb server's connection to a device ends
# mid-answer, as when the device goes away during a command: caught with them everywhere below, so a device
# that vanishes is DeviceUnreachable (restore keeps its journal for later), never a traceback.


def list_serials(client: adbutils.AdbClient | None = None) -> list[tuple[str, str]]:
    """(serial, state) of every device the adb server knows, including offline/unauthorized ones."""
    client = client or adb_client()
    try:
        return [(info.serial, info.state) for info in client.list(extended=False)]
    except (adbutils.AdbError, OSError, EOFError) as exc:
        raise DeviceUnreachable(f"cannot reach the adb server: {exc}", hint="start it with: adb start-server") from exc


def pick_serial(serial: str | None, client: adbutils.AdbClient | None = None) -> str:
    serial = serial or os.environ.get("CONSENTMON_SERIAL") or os.environ.get("ANDROID_SERIAL")
    devices = list_serials(client)
    if serial:
        return serial
    online = [s for s, state in devices if state == "device"]
    if len(online) == 1:
        return online[0]
    if not online:
        raise DeviceUnreachable("no Android device is connected",
                                hint="start an emulator or plug in a phone with USB debugging on, then: adb devices")
    raise DeviceError(f"{len(online)} devices are connected: {', '.join(online)}", hint="choose one with --serial SERIAL")


class AndroidDevice:
    """A device by serial. Root commands go through whichever root the device offers."""

    def __init__(self, serial: str, client: adbutils.AdbClient | None = None) -> None:
        self.serial = serial
        self.client = client or adb_client()
        self._device = self.client.device(serial)
        self._root_mode: str | None | bool = False   # False: not probed yet

    # ---- connectivity --------------------------------------------------------------------------

    def state(self) -> str:
        """'device', 'offline', 'unauthorized', or 'absent'."""
        try:
            for serial, state in list_serials(self.client):
                if serial == self.serial:
                    return state
        except DeviceUnreachable:
            return "absent"
        return "absent"

    def require_online(self) -> None:
        state = self.state()
        if state == "device":
            return
        hints = {"unauthorized": "accept the 'Allow USB debugging' prompt on the device",
                 "offline": f"reconnect it: adb disconnect {self.serial}; adb connect {self.serial} (or replug USB)",
                 "absent": f"connect it (adb connect {self.serial} for a network device) and check: adb devices"}
        raise DeviceUnreachable(f"device {self.serial} is {state}", hint=hints.get(state))

    @cached_property
    def features(self) -> frozenset[str]:
        try:
            return frozenset(filter(None, self._device.get_features().split(",")))
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> DeviceError:
        return DeviceUnreachable(f"lost device {self.serial}: {exc}", hint="check the cable / emulator, then: adb devices")

    def _refused_or_unreachable(self, service: str, exc: Exception) -> DeviceError:
        """An adb error on one service: the device refused that service if it is still online, else it is gone."""
        if isinstance(exc, adbutils.AdbError) and self.state() == "device":
            return ServiceRefused(f"the adbd of {self.serial} refuses `{service}` ({exc})",
                                  hint="its adbd is too old or the adb service in between does not forward it; "
                                       "the steps that need it take another route or say what to do")
        return self._unreachable(exc)

    # ---- shell ---------------------------------------------------------------------------------

    def shell(self, command: str, *, root: bool = False, check: bool = False, timeout: float = DEFAULT_TIMEOUT) -> ShellResult:
        line = self.as_root(command) if root else command
        try:
            result = self._device.shell2(line, timeout=timeout, v2="shell_v2" in self.features)
        except adbutils.AdbTimeout as exc:
            raise DeviceError(f"`{command}` timed out on {self.serial} after {timeout:.0f}s") from exc
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._unreachable(exc) from exc
        out = result.stdout if "shell_v2" in self.features else result.output
        shell_result = ShellResult(command, result.returncode, out.replace("\r\n", "\n"), result.stderr.replace("\r\n", "\n"))
        if check and not shell_result.ok:
            message = (shell_result.err or shell_result.out).strip().splitlines()
            raise DeviceError(f"`{command}` failed on {self.serial} (exit {shell_result.code}): {message[-1] if message else ''}")
        return shell_result

    def shell_bytes(self, command: str, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Raw stdout of a command (screencap): exec-style, no terminal to mangle line endings."""
        try:
            if "shell_v2" in self.features:
                return self._device.shell2(command, timeout=timeout, encoding=None, v2=True).stdout
            conn = self._device.open_transport(timeout=timeout)
            conn.send_command("exec:" + command)
            conn.check_okay()
            return conn.read_until_close(encoding=None)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._unreachable(exc) from exc

    def open_stream(self, command: str):
        """A live connection to a command's output (logcat); the caller reads and closes it."""
        try:
            return self._device.shell(command, stream=True)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._unreachable(exc) from exc

    def getprop(self, name: str) -> str:
        return self.shell(f"getprop {shlex.quote(name)}").out.strip()

    def props(self) -> dict[str, str]:
        from monitor.device.parsers import parse_getprop

        return parse_getprop(self.shell("getprop", check=True).out)

    # ---- root ----------------------------------------------------------------------------------

    @property
    def root_mode(self) -> str | None:
        """How this device gives root: 'adbd' (adbd runs as root), 'su0' (AOSP su: `su 0 cmd`),
        'su-c' (Magisk/SuperSU: `su -c cmd`), or None."""
        if self._root_mode is False:
            self._root_mode = self._probe_root()
        return self._root_mode  # type: ignore[return-value]

    def _probe_root(self) -> str | None:
        if "uid=0(" in self.shell("id").out:
            return "adbd"
        if "uid=0(" in self.shell("su 0 id").out:
            return "su0"
        if "uid=0(" in self.shell("su -c id").out:
            return "su-c"
        return None

    def as_root(self, command: str) -> str:
        mode = self.root_mode
        if mode == "adbd":
            return command
        if mode == "su0":
            return f"su 0 sh -c {shlex.quote(command)}"
        if mode == "su-c":
            return f"su -c {shlex.quote(command)}"
        raise DeviceError(f"{self.serial} has no root", hint="use an emulator image without Google Play and run "
                          f"`adb -s {self.serial} root`, or a rooted phone (Magisk)")

    # ---- files ---------------------------------------------------------------------------------

    def push(self, data: bytes | Path, remote: str, mode: int = 0o644) -> None:
        payload = Path(data).read_bytes() if isinstance(data, Path) else data
        try:
            self._device.sync.push(payload, remote, mode=mode)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._unreachable(exc) if isinstance(exc, OSError) else DeviceError(f"cannot push {remote}: {exc}") from exc

    def pull(self, remote: str) -> bytes:
        try:
            return self._device.sync.read_bytes(remote)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._unreachable(exc) if isinstance(exc, OSError) else DeviceError(f"cannot pull {remote}: {exc}") from exc

    def exists(self, path: str, *, root: bool = False) -> bool:
        return self.shell(f"ls {shlex.quote(path)}", root=root).ok

    # ---- reverse ports -------------------------------------------------------------------------

    def reverse_list(self) -> dict[str, str]:
        try:
            return {item.remote: item.local for item in self._device.reverse_list()}
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._refused_or_unreachable("reverse", exc) from exc

    def reverse(self, remote: str, local: str) -> None:
        try:
            self._device.reverse(remote, local)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._refused_or_unreachable("reverse", exc) from exc

    def reverse_remove(self, remote: str) -> None:
        try:
            self._device.reverse_remove(remote)
        except adbutils.AdbError as exc:
            if "not found" not in str(exc):
                raise DeviceError(f"cannot remove reverse {remote}: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise self._unreachable(exc) from exc

    # ---- forward ports (this host → the device) --------------------------------------------------

    def forward_list(self) -> dict[str, str]:
        """local → remote of this device's forwards (kept by the adb server on this host)."""
        try:
            return {item.local: item.remote for item in self._device.forward_list()}
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._refused_or_unreachable("forward", exc) from exc

    def forward(self, local: str, remote: str) -> None:
        try:
            self._device.forward(local, remote, norebind=True)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._refused_or_unreachable("forward", exc) from exc

    def forward_remove(self, local: str) -> None:
        try:
            self._device.forward_remove(local, raise_non_found=False)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._unreachable(exc) from exc
