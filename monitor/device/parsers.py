"""Parsers for what Android tools print. Each is tested against real outputs in tests/data/android/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PROP_LINE = re.compile(r"^\[([^\]]+)\]: \[(.*)$")


def parse_getprop(text: str) -> dict[str, str]:
    """`getprop` lines look like `[name]: [value]`; a value may span lines (boot reason history)."""
    props: dict[str, str] = {}
    current: str | None = None
    buffer: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _PROP_LINE.match(line)
        if match and current is None:
            name, rest = match.groups()
            if rest.endswith("]"):
                props[name] = rest[:-1]
            else:
                current, buffer = name, [rest]
        elif current is not None:
            if line.endswith("]"):
                buffer.append(line[:-1])
                props[current] = "\n".join(buffer)
                current, buffer = None, []
            else:
                buffer.append(line)
    return props


@dataclass(frozen=True)
class ProcessRow:
    user: str
    pid: int
    ppid: int
    name: str


def parse_ps(text: str) -> list[ProcessRow]:
    """`ps -A` (toybox, Android 8+) or `ps` (toolbox, Android 7): columns found from the header;
    the name is the last column and may be empty for kernel threads."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines:
        return []
    header = lines[0].split()
    try:
        pid_col, ppid_col = header.index("PID"), header.index("PPID")
    except ValueError:
        return []
    user_col = header.index("USER") if "USER" in header else None
    rows = []
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < len(header) - 1 or not parts[pid_col].isdigit():
            continue
        name = parts[-1] if len(parts) >= len(header) else ""
        rows.append(ProcessRow(parts[user_col] if user_col is not None else "", int(parts[pid_col]), int(parts[ppid_col]), name))
    return rows


@dataclass
class PackageDump:
    package: str
    version_code: int | None = None
    version_name: str | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None
    code_path: str | None = None
    requested: list[str] = field(default_factory=list)
    granted: dict[str, bool] = field(default_factory=dict)   # install + runtime permissions for user 0


def parse_dumpsys_package(text: str, package: str) -> PackageDump | None:
    """The `Package [name]` section of `dumpsys package NAME`; None when it is not installed."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip().startswith(f"Package [{package}]")), None)
    if start is None:
        return None
    indent = len(lines[start]) - len(lines[start].lstrip())
    dump = PackageDump(package)
    section: str | None = None
    user: int | None = None      # runtime permissions are per user; only user 0's are kept
    for line in lines[start + 1:]:
        stripped = line.strip()
        if not stripped:
            continue
        depth = len(line) - len(line.lstrip())
        if depth <= indent:
            break
        user_match = re.match(r"^User (\d+):", stripped)
        if user_match:
            user, section = int(user_match.group(1)), None
            continue
        for key, value in re.findall(r"(versionCode|minSdk|targetSdk)=(\d+)", stripped):
            setattr(dump, {"versionCode": "version_code", "minSdk": "min_sdk", "targetSdk": "target_sdk"}[key], int(value))
        if stripped.startswith("versionName="):
            dump.version_name = stripped.split("=", 1)[1]
        elif stripped.startswith("codePath="):
            dump.code_path = stripped.split("=", 1)[1]
        if stripped.endswith("permissions:"):
            section = stripped[:-1]
            continue
        if section == "requested permissions" and re.match(r"^[\w.]+(: restricted=\w+)?$", stripped):
            dump.requested.append(stripped.split(":")[0])
        elif section == "install permissions" or (section == "runtime permissions" and user in (None, 0)):
            match = re.match(r"^([\w.]+): granted=(true|false)", stripped)
            if match:
                dump.granted[match.group(1)] = match.group(2) == "true"
            elif not stripped.startswith(("android.", "com.")):
                section = None
    return dump


def parse_setting(text: str) -> str | None:
    """`settings get` prints `null` for a key that is not set."""
    value = text.strip()
    return None if value == "null" else value
