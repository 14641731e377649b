"""The host-side record of every change made to a device, written BEFORE the change is made.

One JSON file per device (~/.consentmon/devices/<serial>.json, or $CONSENTMON_STATE_DIR). Each
change is `pending` until applied, `applied` after, `restored` once undone; restore undoes every
change not yet restored, newest first, and each undo checks the device first so running it twice
(or after a change that never got applied) does no harm. The file is removed only when everything
is restored; a device that went away keeps its file for `consentmon device restore` later.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.errors import DeviceError

STATUS_PENDING = "pending"
STATUS_APPLIED = "applied"
STATUS_RESTORED = "restored"


def state_dir(override: Path | None = None) -> Path:
    if override is not None:
        return Path(override)
    env = os.environ.get("CONSENTMON_STATE_DIR")
    return Path(env) if env else Path.home() / ".consentmon" / "devices"


def journal_path(serial: str, directory: Path | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", serial)
    return state_dir(directory) / f"{safe}.json"


@dataclass
class Journal:
    serial: str
    path: Path
    changes: list[dict[str, Any]] = field(default_factory=list)
    created_ns: int = field(default_factory=time.time_ns)

    @classmethod
    def open(cls, serial: str, directory: Path | None = None) -> "Journal":
        """The device's journal: the one left on disk, or a new empty one (not written until used)."""
        path = journal_path(serial, directory)
        if not path.exists():
            return cls(serial, path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["serial"], path, list(data["changes"]), int(data.get("created_ns", 0)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DeviceError(f"{path}: unreadable device state file ({exc})",
                              hint="restore the device by hand (see docs/real-device-checklist.md), then delete this file") from exc

    @property
    def outstanding(self) -> list[dict[str, Any]]:
        return [c for c in self.changes if c["status"] != STATUS_RESTORED]

    def save(self) -> None:
        if not self.outstanding:
            self.path.unlink(missing_ok=True)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".json.tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump({"serial": self.serial, "created_ns": self.created_ns, "changes": self.changes}, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise DeviceError(f"cannot write device state file {self.path}: {exc}",
                              hint="the device is left untouched; free disk space or set CONSENTMON_STATE_DIR") from exc

    def record(self, kind: str, **details: Any) -> dict[str, Any]:
        """Write the intent to disk, then return the entry; the caller makes the change after this."""
        change = {"id": len(self.changes) + 1, "kind": kind, "status": STATUS_PENDING, "at_ns": time.time_ns(), **details}
        self.changes.append(change)
        self.save()
        return change

    def mark(self, change: dict[str, Any], status: str) -> None:
        change["status"] = status
        self.save()


# ---- undo -----------------------------------------------------------------------------------------

def _process_cmdline(device, pid: int) -> str:
    result = device.shell(f"cat /proc/{pid}/cmdline", root=True)
    return result.out.replace("\0", " ").strip() if result.ok else ""


def count_mounts(device, target: str, pid: int | None) -> int:
    """How many mounts sit on `target` in init's namespace (pid None) or in pid's."""
    reader = "cat /proc/mounts" if pid is None else f"nsenter --mount=/proc/{pid}/ns/mnt -- cat /proc/mounts"
    result = device.shell(reader, root=True)
    if not result.ok:
        return -1
    return sum(1 for line in result.out.splitlines() if len(line.split()) > 1 and line.split()[1] == target)


def undo(device, change: dict[str, Any]) -> str:
    """Put back what one change did; returns what was done, for the report."""
    kind = change["kind"]
    if kind == "setting":
        namespace, key, previous = change["namespace"], change["key"], change["previous"]
        if previous is None:
            if key == "http_proxy":
                # Deleting alone leaves the proxy active until reboot on some builds; ':0' clears it first.
                device.shell(f"settings put {namespace} {key} :0", check=True)
            device.shell(f"settings delete {namespace} {key}", check=True)
            return f"settings {namespace} {key}: deleted (was unset)"
        device.shell(f"settings put {namespace} {key} {shlex.quote(previous)}", check=True)
        return f"settings {namespace} {key}: back to {previous}"
    if kind == "reverse":
        remote, previous = change["remote"], change.get("previous_local")
        if previous:
            device.reverse(remote, previous)
            return f"reverse {remote}: back to {previous}"
        if remote in device.reverse_list():
            device.reverse_remove(remote)
        return f"reverse {remote}: removed"
    if kind == "forward":
        local = change["local"]
        if local in device.forward_list():
            device.forward_remove(local)
        return f"forward {local}: removed"
    if kind == "created_path":
        device.shell(f"rm -rf {shlex.quote(change['path'])}", root=change.get("root", False), check=True)
        return f"removed {change['path']}"
    if kind == "mount":
        target, pid = change["target"], change.get("pid")
        if pid is not None:
            owner = _process_cmdline(device, pid)
            if not owner or (change.get("process") and change["process"] not in owner):
                return f"mount on {target} in pid {pid}: process gone, its namespace with it"
        now = count_mounts(device, target, pid)
        if now > change.get("before", 0):
            inner = f"umount {shlex.quote(target)}"
            command = inner if pid is None else f"nsenter --mount=/proc/{pid}/ns/mnt -- {inner}"
            device.shell(command, root=True, check=True)
            return f"unmounted {target}" + ("" if pid is None else f" in pid {pid}")
        return f"mount on {target}: already gone"
    if kind == "firewall":
        tool, rule = change["tool"], " ".join(shlex.quote(word) for word in change["rule"])
        if not device.shell(f"{tool} -w -C {rule}", root=True).ok:
            return f"{tool} {rule}: already gone"
        device.shell(f"{tool} -w -D {rule}", root=True, check=True)
        return f"{tool}: removed {rule}"
    if kind == "process":
        from monitor.device.parsers import parse_ps

        path = change["path"]
        name = path.rsplit("/", 1)[-1]
        stopped = []
        for row in parse_ps(device.shell("ps -A").out or device.shell("ps").out):
            if row.name == name and _process_cmdline(device, row.pid).split(" ")[0] == path:
                device.shell(f"kill -9 {row.pid}", root=True, check=True)
                stopped.append(row.pid)
        return f"stopped {name} (pid {', '.join(map(str, stopped))})" if stopped else f"{name} not running"
    raise DeviceError(f"unknown change kind {kind!r} in the device state file", hint="update consentmon, then restore again")
