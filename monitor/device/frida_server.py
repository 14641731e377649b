"""frida-server on the device: the binary for the device's ABI and exactly the installed frida
version, found in a given file, a local cache, or (when online and allowed) Frida's releases."""

from __future__ import annotations

import lzma
import os
import secrets
import shlex
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from monitor.device.adb import AndroidDevice
from monitor.device.parsers import parse_ps
from monitor.errors import DeviceError

REMOTE_DIR = "/data/local/tmp/consentmon"
REMOTE_PATH = f"{REMOTE_DIR}/frida-server"
RELEASE_URL = "https://github.com/frida/frida/releases/download/{version}/frida-server-{version}-android-{arch}.xz"
DEFAULT_PORTS = (27042, 27043)   # frida-server's control port and the one after it: what anti-Frida code tries
# Words of names that already run on Android devices: a process list shows one more daemon-like name, not "frida".
NAME_WORDS = ("logcatd", "tombstoned-helper", "statsd-agent", "thermal-hal", "perfd", "wifi-ext", "sensor-mux")
ABI_TO_ARCH = {"arm64-v8a": "arm64", "armeabi-v7a": "arm", "armeabi": "arm", "x86": "x86", "x86_64": "x86_64"}


def random_server_name() -> str:
    """An innocuous process name for this run's frida-server, fresh each run (a word and a random token)."""
    return f"{secrets.choice(NAME_WORDS)}-{secrets.token_hex(3)}"


def random_port() -> int:
    """A port for frida-server to listen on (device loopback), never Frida's defaults."""
    while True:
        port = 20000 + secrets.randbelow(40000)
        if port not in DEFAULT_PORTS:
            return port


TEMP_DIR = "/data/local/tmp"
DEFAULT_DATA_DIRECTORY = "re.frida.server"   # where frida-server writes its agents and helpers, by default


def data_directory(name: str | None) -> str:
    """The folder (under /data/local/tmp) frida-server keeps its agent and helpers in (`-d`): Frida's own
    `re.frida.server` — a path anti-Frida code checks for — unless the server runs under a name of its own."""
    return DEFAULT_DATA_DIRECTORY if name is None else f"{name}-cache"


def remote_path(name: str | None) -> str:
    """Where the binary goes on the device: our folder, under its own name or this run's."""
    if name is None:
        return REMOTE_PATH
    if not name or "/" in name or name.startswith(".") or not all(c.isalnum() or c in "-_." for c in name):
        raise DeviceError(f"--frida-server-name {name!r}: a file name of letters, digits, '-', '_' and '.' only")
    return f"{REMOTE_DIR}/{name}"


def host_frida_version() -> str:
    import frida

    return frida.__version__


def arch_for_abi(abi: str) -> str:
    try:
        return ABI_TO_ARCH[abi]
    except KeyError as exc:
        raise DeviceError(f"no frida-server build for ABI {abi!r}", hint=f"supported: {', '.join(ABI_TO_ARCH)}") from exc


def release_name(version: str, arch: str) -> str:
    return f"frida-server-{version}-android-{arch}"


def cache_dir(override: Path | None = None) -> Path:
    if override is not None:
        return Path(override)
    env = os.environ.get("CONSENTMON_FRIDA_CACHE")
    return Path(env) if env else Path.home() / ".consentmon" / "frida-server"


def _unpack(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:6] == b"\xfd7zXZ\x00":
        try:
            return lzma.decompress(data)
        except lzma.LZMAError as exc:
            raise DeviceError(f"{path}: damaged .xz archive ({exc})", hint="download it again") from exc
    return data


def find_binary(version: str, arch: str, *, explicit: Path | None = None, cache: Path | None = None,
                allow_download: bool = False) -> bytes:
    """The frida-server executable's bytes, from the first place that has it."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise DeviceError(f"--frida-server {explicit}: no such file")
        return _unpack(Path(explicit))
    directory = cache_dir(cache)
    name = release_name(version, arch)
    for candidate in (directory / name, directory / f"{name}.xz"):
        if candidate.is_file():
            return _unpack(candidate)
    url = RELEASE_URL.format(version=version, arch=arch)
    if not allow_download:
        raise DeviceError(f"no {name} in {directory}",
                          hint=f"download {url} (on a machine with internet) and pass it with --frida-server FILE, "
                               f"or put it in {directory}, or allow the download with --download")
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            packed = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DeviceError(f"cannot download {url}: {exc}", hint="offline? fetch it elsewhere and pass --frida-server FILE") from exc
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.xz"
    target.write_bytes(packed)
    return _unpack(target)


@dataclass(frozen=True)
class FridaStatus:
    running_pids: tuple[int, ...]
    running_path: str | None
    running_version: str | None
    installed_at: str | None          # our copy on the device, if present
    host_version: str

    @property
    def matches(self) -> bool:
        return self.running_version == self.host_version


def status(device: AndroidDevice, *, root: bool, name: str | None = None) -> FridaStatus:
    """The frida-server running on the device: one named like Frida's, or `name` (a run's own, renamed)."""
    rows = parse_ps(device.shell("ps -A").out) or parse_ps(device.shell("ps").out)
    pids = tuple(row.pid for row in rows if "frida" in row.name or (name is not None and row.name == name))
    path = version = None
    if pids and root:
        cmdline = device.shell(f"cat /proc/{pids[0]}/cmdline", root=True).out.replace("\0", " ").split()
        path = cmdline[0] if cmdline else None
        if path:
            version = device.shell(f"{shlex.quote(path)} --version", root=True).out.strip() or None
    installed = REMOTE_PATH if device.shell(f"ls {REMOTE_PATH}").ok else None
    return FridaStatus(pids, path, version, installed, host_frida_version())
