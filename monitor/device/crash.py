"""An app that died on the device: its crash in logcat (`FATAL EXCEPTION` for an uncaught Java exception,
`Fatal signal` for a native fault) and the tombstone debuggerd wrote for it (/data/tombstones/tombstone_NN,
readable as root). Tombstones rotate (tombstone_00…09 are overwritten in turn), so a new one is told by its
content digest, not its name."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from monitor.device.adb import AndroidDevice

TOMBSTONE_DIR = "/data/tombstones"

# logcat -v threadtime: "MM-DD HH:MM:SS.mmm  PID  TID LEVEL TAG: message"
_THREADTIME = re.compile(r"^\S+\s+\S+\s+(?P<pid>\d+)\s+(?P<tid>\d+)\s+(?P<level>[VDIWEFA])\s+(?P<tag>[^:]*?)\s*: ?(?P<message>.*)$")
_FATAL_EXCEPTION = re.compile(r"^FATAL EXCEPTION: (?P<thread>.*)$")
_JAVA_PROCESS = re.compile(r"^Process: (?P<process>[^,]+), PID: (?P<pid>\d+)")
_FATAL_SIGNAL = re.compile(r"Fatal signal (?P<number>\d+) \((?P<name>\w+)\)(?P<rest>.*?) in tid (?P<tid>\d+) \((?P<thread>[^)]*)\), "
                           r"pid (?P<pid>\d+) \((?P<process>[^)]*)\)")
_TOMBSTONE_WRITTEN = re.compile(r"Tombstone written to: (?P<path>/\S+)")
JAVA_LINES = 40


@dataclass
class Crash:
    kind: str                        # "java" (uncaught exception) or "native" (fatal signal)
    pid: int | None
    process: str | None
    summary: str                     # the exception line, or "SIGSEGV (code …, fault addr …)"
    thread: str | None = None
    signal: str | None = None
    lines: list[str] = field(default_factory=list)
    tombstone_path: str | None = None   # as debuggerd named it in logcat

    def key(self) -> tuple[str, int | None, str]:
        return (self.kind, self.pid, self.summary)

    def as_payload(self) -> dict[str, Any]:
        return {"crash_kind": self.kind, "summary": self.summary, "thread": self.thread, "signal": self.signal,
                "logcat": self.lines, "tombstone_path": self.tombstone_path}


def _belongs(process: str | None, package: str) -> bool:
    return process is not None and (process == package or process.startswith(package + ":"))


def parse_crashes(text: str, package: str) -> list[Crash]:
    """The crashes of `package`'s processes (`pkg`, `pkg:push`…) in a logcat text, oldest first."""
    crashes: list[Crash] = []
    java: Crash | None = None
    java_pid: str | None = None
    for raw in text.splitlines():
        line = _THREADTIME.match(raw)
        if line is None:
            continue
        message, tag = line["message"], line["tag"].strip()
        if java is not None:
            if tag == "AndroidRuntime" and line["pid"] == java_pid and len(java.lines) < JAVA_LINES:
                java.lines.append(message)
                process = _JAVA_PROCESS.match(message)
                if process is not None:
                    java.process, java.pid = process["process"].strip(), int(process["pid"])
                elif java.summary == "" and not message.startswith("Process:") and message.strip():
                    java.summary = message.strip()
                continue
            if java.pid is not None and _belongs(java.process, package):
                crashes.append(java)
            java = None
        fatal = _FATAL_EXCEPTION.match(message)
        if tag == "AndroidRuntime" and fatal is not None:
            java = Crash("java", int(line["pid"]), None, "", thread=fatal["thread"], lines=[message])
            java_pid = line["pid"]
            continue
        signal = _FATAL_SIGNAL.search(message)
        if signal is not None and _belongs(signal["process"], package):
            crashes.append(Crash("native", int(signal["pid"]), signal["process"],
                                 f"{signal['name']}{signal['rest']}".strip(), thread=signal["thread"],
                                 signal=signal["name"], lines=[message]))
            continue
        written = _TOMBSTONE_WRITTEN.search(message)
        if written is not None:
            for crash in reversed(crashes):
                if crash.kind == "native" and crash.tombstone_path is None:
                    crash.tombstone_path = written["path"]
                    break
    if java is not None and _belongs(java.process, package):
        crashes.append(java)
    return crashes


def tombstone_digests(device: AndroidDevice) -> dict[str, str]:
    """path → sha256 of every tombstone (root); empty when there are none or they cannot be read."""
    listing = device.shell(f"ls {TOMBSTONE_DIR}", root=True)
    if not listing.ok:
        return {}
    names = [name for name in listing.out.split() if name.startswith("tombstone_")]
    if not names:
        return {}
    paths = " ".join(shlex.quote(f"{TOMBSTONE_DIR}/{name}") for name in names)
    digests = device.shell(f"sha256sum {paths}", root=True)
    out: dict[str, str] = {}
    for row in digests.out.splitlines():
        parts = row.split()
        if len(parts) == 2 and parts[1].startswith(TOMBSTONE_DIR):
            out[parts[1]] = parts[0]
    return out


def new_tombstones(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Tombstones written since `before` (new names, or a rotated name with new content), by name."""
    return sorted(path for path, digest in after.items() if before.get(path) != digest)


def read_tombstone(device: AndroidDevice, path: str) -> bytes:
    return device.shell(f"cat {shlex.quote(path)}", root=True, check=True).out.encode()


def tombstone_pid(text: str) -> int | None:
    """The pid a tombstone is about ("pid: 1234, tid: 1234, name: main  >>> com.example <<<")."""
    found = re.search(r"^pid: (\d+), tid: \d+", text, re.MULTILINE)
    return int(found.group(1)) if found else None
