"""Everything a simulated device remembers, and a snapshot of it to compare before and after.

The file system is a dict of absolute paths to files plus a set of directories (the base image).
Mounts are layers: a tmpfs or bind mount on a directory replaces what is seen below it. Each mount
belongs to a mount namespace; namespaces other than init's see init's mounts too (Android mounts
are shared from init to zygote and apps), plus their own.
"""

from __future__ import annotations

import copy
import hashlib
import posixpath
import threading
from dataclasses import dataclass, field
from typing import Any

INIT_NS = 1  # the namespace id of init's mount namespace; other namespaces are numbered by their owner pid


@dataclass
class File:
    data: bytes
    mode: int = 0o644
    mtime: int = 1_700_000_000
    owner: str = "root"


@dataclass
class Mount:
    namespace: int
    target: str
    fstype: str            # "tmpfs" or "bind"
    source: str
    files: dict[str, File] = field(default_factory=dict)   # relative path -> file
    dirs: set[str] = field(default_factory=set)            # relative directories


@dataclass
class Process:
    pid: int
    ppid: int
    user: str
    name: str
    cmdline: str
    namespace: int
    exe_path: str | None = None
    # A TCP port the process listens on (device loopback): `tcp:PORT` streams (adb forward) reach it.
    listen_port: int | None = None


@dataclass
class Package:
    name: str
    version_code: int
    version_name: str
    apk_path: str
    requested_permissions: list[str]
    granted: set[str] = field(default_factory=set)
    min_sdk: int = 21
    target_sdk: int = 33
    system: bool = False
    data: dict[str, str] = field(default_factory=dict)      # what the app stored; `pm clear` empties it
    first_install_time: str = "2024-01-01 00:00:00"


@dataclass
class ReverseRule:
    remote: str
    local: str


class DeviceState:
    """The mutable state of one simulated device. All access goes through `lock`."""

    def __init__(self, props: dict[str, str], *, root_mode: str | None, selinux: str = "Enforcing",
                 clock_skew_ns: int = 0, date_has_nanos: bool = True, screen: tuple[int, int] = (1080, 2340)) -> None:
        self.lock = threading.RLock()
        self.props = dict(props)
        self.root_mode = root_mode            # "adbd" (adbd runs as root), "su-c", "su0" or None
        self.selinux = selinux
        self.clock_skew_ns = clock_skew_ns
        self.date_has_nanos = date_has_nanos
        self.screen = screen
        self.settings: dict[str, dict[str, str]] = {"global": {}, "secure": {}, "system": {}}
        self.files: dict[str, File] = {}
        self.dirs: set[str] = {"/"}
        self.mounts: list[Mount] = []
        self.processes: dict[int, Process] = {}
        self.packages: dict[str, Package] = {}
        self.reverses: list[ReverseRule] = []
        # Streams `tcp:PORT` opened to a listening process (what a host's `adb forward` carried): port and the
        # first bytes the host sent. Not part of the snapshot: a connection leaves nothing on the device.
        self.connections: list[tuple[int, bytes]] = []
        # Services this adbd does not offer (e.g. "reverse" before Android 5, or on some remote adb services):
        # opening one is answered with CLSE, as adbd answers a service it does not know.
        self.refused_services: set[str] = set()
        # Rules of the filter table per tool (iptables, ip6tables), each as its words: chain, matches, target.
        self.firewall: dict[str, list[tuple[str, ...]]] = {"iptables": [], "ip6tables": []}
        self.logcat: list[str] = []
        self.foreground: str | None = None         # package on screen; None is the launcher
        self.dialogs: dict[str, str] = {}          # package -> what its screen shows: "privacy", "main", "browse"
        self.typed_text: dict[str, str] = {}
        self.events: list[str] = []                # a trace of taps and keys, for debugging tests
        self.next_pid = 3000
        self.uptime_base_ns = 0

    # ---- file system -------------------------------------------------------------------------

    def _mounts_for(self, namespace: int) -> list[Mount]:
        if namespace == INIT_NS:
            return [m for m in self.mounts if m.namespace == INIT_NS]
        return [m for m in self.mounts if m.namespace in (INIT_NS, namespace)]

    def _layer(self, path: str, namespace: int) -> tuple[Mount | None, str]:
        """The topmost mount covering `path` in `namespace`, and the path relative to it."""
        path = posixpath.normpath(path)
        best: Mount | None = None
        for mount in self._mounts_for(namespace):
            if path == mount.target or path.startswith(mount.target.rstrip("/") + "/"):
                if best is None or len(mount.target) >= len(best.target):
                    best = mount
        if best is None:
            return None, path
        rel = posixpath.relpath(path, best.target)
        return best, ("" if rel == "." else rel)

    def read_file(self, path: str, namespace: int = INIT_NS) -> File | None:
        mount, rel = self._layer(path, namespace)
        if mount is None:
            return self.files.get(posixpath.normpath(path))
        return mount.files.get(rel)

    def is_dir(self, path: str, namespace: int = INIT_NS) -> bool:
        mount, rel = self._layer(path, namespace)
        if mount is None:
            return posixpath.normpath(path) in self.dirs
        return rel == "" or rel in mount.dirs

    def exists(self, path: str, namespace: int = INIT_NS) -> bool:
        return self.read_file(path, namespace) is not None or self.is_dir(path, namespace)

    def write_file(self, path: str, data: bytes, mode: int = 0o644, namespace: int = INIT_NS, owner: str = "root") -> None:
        path = posixpath.normpath(path)
        mount, rel = self._layer(path, namespace)
        if mount is None:
            self.files[path] = File(data, mode, owner=owner)
        else:
            mount.files[rel] = File(data, mode, owner=owner)

    def remove(self, path: str, namespace: int = INIT_NS) -> bool:
        path = posixpath.normpath(path)
        mount, rel = self._layer(path, namespace)
        files, dirs = (self.files, self.dirs) if mount is None else (mount.files, mount.dirs)
        key = path if mount is None else rel
        if key in files:
            del files[key]
            return True
        if key in dirs and key not in ("", "/"):
            prefix = key.rstrip("/") + "/"
            for name in [n for n in files if n.startswith(prefix)]:
                del files[name]
            for name in [n for n in dirs if n.startswith(prefix) or n == key]:
                dirs.discard(name)
            return True
        return False

    def make_dirs(self, path: str, namespace: int = INIT_NS) -> None:
        path = posixpath.normpath(path)
        parts = path.strip("/").split("/")
        for end in range(1, len(parts) + 1):
            current = "/" + "/".join(parts[:end])
            mount, rel = self._layer(current, namespace)
            if mount is None:
                self.dirs.add(current)
            elif rel:
                mount.dirs.add(rel)

    def list_dir(self, path: str, namespace: int = INIT_NS) -> list[str] | None:
        """Names directly inside a directory, or None when it is not one."""
        if not self.is_dir(path, namespace):
            return None
        path = posixpath.normpath(path)
        mount, rel = self._layer(path, namespace)
        if mount is None:
            files, dirs, base = self.files, self.dirs, path
        else:
            files, dirs, base = mount.files, mount.dirs, rel
        prefix = "" if base in ("", "/") else base.rstrip("/") + "/"
        if mount is None and base == "/":
            prefix = "/"
        names: set[str] = set()
        for name in list(files) + list(dirs):
            if name.startswith(prefix) and name != base:
                rest = name[len(prefix):]
                if rest:
                    names.add(rest.split("/", 1)[0])
        # Mount points show as directories in their parent even when the base has no entry.
        for mount_point in self._mounts_for(namespace):
            parent, leaf = posixpath.split(mount_point.target)
            if parent == path:
                names.add(leaf)
        return sorted(names)

    def mount(self, namespace: int, target: str, fstype: str, source: str) -> Mount:
        target = posixpath.normpath(target)
        layer = Mount(namespace, target, fstype, source)
        if fstype == "bind":
            # A bind shows the source's current contents; copied, because nothing in our flows
            # writes to the source after binding it.
            for name in self.list_tree(source, namespace):
                file = self.read_file(posixpath.join(source, name), namespace)
                if file is not None:
                    layer.files[name] = copy.copy(file)
                else:
                    layer.dirs.add(name)
        self.mounts.append(layer)
        return layer

    def unmount(self, namespace: int, target: str) -> bool:
        target = posixpath.normpath(target)
        for index in range(len(self.mounts) - 1, -1, -1):
            if self.mounts[index].namespace == namespace and self.mounts[index].target == target:
                del self.mounts[index]
                return True
        return False

    def list_tree(self, path: str, namespace: int = INIT_NS) -> list[str]:
        """Every path below a directory, relative to it."""
        out: list[str] = []
        for name in self.list_dir(path, namespace) or []:
            full = posixpath.join(path, name)
            out.append(name)
            if self.is_dir(full, namespace):
                out.extend(posixpath.join(name, sub) for sub in self.list_tree(full, namespace))
        return out

    # ---- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, *, user: str, ppid: int, cmdline: str | None = None, own_namespace: bool = False,
              exe_path: str | None = None, namespace: int | None = None) -> Process:
        pid = self.next_pid
        self.next_pid += 1
        if namespace is None:
            namespace = pid if own_namespace else self.processes[ppid].namespace if ppid in self.processes else INIT_NS
        proc = Process(pid, ppid, user, name, cmdline or name, namespace, exe_path)
        self.processes[pid] = proc
        return proc

    def listener(self, port: int) -> Process | None:
        """The process listening on the device's loopback `port`, if any."""
        return next((proc for proc in self.processes.values() if proc.listen_port == port), None)

    def pids_named(self, name: str) -> list[int]:
        return sorted(p.pid for p in self.processes.values() if p.name == name)

    def kill(self, pid: int) -> bool:
        proc = self.processes.pop(pid, None)
        if proc is None:
            return False
        # Namespaces owned by a dead process die with it, and so do the mounts made in them.
        if proc.namespace == pid:
            self.mounts = [m for m in self.mounts if m.namespace != pid]
        return True

    # ---- snapshot ----------------------------------------------------------------------------

    def snapshot(self, *, include_apps: bool = True) -> dict[str, Any]:
        """A plain, comparable picture of the device. `include_apps=False` leaves out what a test
        run is expected to change in the app under test (its data, permissions, processes, screen)."""
        with self.lock:
            app_names = {name for name, pkg in self.packages.items() if not pkg.system}
            processes = sorted(
                (p.user, p.name, p.cmdline) for p in self.processes.values()
                if include_apps or p.name.split(":")[0] not in app_names
            )
            packages = {
                name: {"version": pkg.version_code, "granted": sorted(pkg.granted), "data": dict(pkg.data)}
                for name, pkg in self.packages.items() if include_apps or pkg.system
            }
            return {
                "props": dict(self.props),
                "settings": copy.deepcopy(self.settings),
                "files": {path: hashlib.sha256(f.data).hexdigest() for path, f in sorted(self.files.items())},
                "dirs": sorted(self.dirs),
                "mounts": sorted((m.namespace, m.target, m.fstype) for m in self.mounts),
                "processes": processes,
                "packages": packages,
                "reverses": sorted((r.remote, r.local) for r in self.reverses),
                "firewall": {tool: list(rules) for tool, rules in sorted(self.firewall.items())},
                "screen": (self.foreground, dict(self.dialogs)) if include_apps else None,
            }
