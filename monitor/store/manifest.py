"""manifest.json: SHA-256 of every file of a run and the head of the events hash chain.

`verify_run` recomputes both and names exactly what differs, so a run handed to a regulator can be
shown unaltered since capture.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from monitor.errors import RunDirError
from monitor.store import EVENTS_CHAIN_FILE, SEAL_PROOF_FILES, is_derived, EVENTS_FILE, MANIFEST_FILE, SPOOL_FILE

CHUNK = 1 << 20
# The hash chain over events.jsonl: chain_n = sha256(chain_{n-1} || line_n), starting here.
GENESIS = "0" * 64
# How many hex digits of the chain after each line events.chain keeps (enough to find a changed line).
CHAIN_MARK = 16


def chain_next(previous: str, line: bytes) -> str:
    return hashlib.sha256(previous.encode() + line).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _sealed_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST_FILE and not is_derived(p.relative_to(root).as_posix())
        and p.relative_to(root).as_posix() not in SEAL_PROOF_FILES
        and not p.name.endswith(".tmp")
    )


def write_manifest(root: Path, *, chain_head: str, event_count: int) -> dict[str, Any]:
    files = {p.relative_to(root).as_posix(): sha256_file(p) for p in _sealed_files(root)}
    manifest = {"schema": 1, "algorithm": "sha256", "files": files, "events": {"count": event_count, "chain_head": chain_head}}
    (root / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def events_chain(path: Path) -> tuple[str, int]:
    """Recompute the hash chain over an events file: (head, line count)."""
    head, count = GENESIS, 0
    with open(path, "rb") as handle:
        for line in handle:
            head = chain_next(head, line)
            count += 1
    return head, count


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The run's manifest.json, or None for an unsealed run; RunDirError naming the line when it is damaged."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})",
                          hint=f"the evidence was damaged: `consentmon verify {root}` says what changed") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: cannot read ({exc})",
                          hint=f"the evidence was damaged: `consentmon verify {root}` says what changed") from exc


def verify_run(root: Path) -> list[str]:
    """Problems found in a sealed run directory; an empty list means intact."""
    root = Path(root)
    manifest_path = root / MANIFEST_FILE
    unfinished = [f"{root / SPOOL_FILE}: flows of a capture that was stopped before writing them out; "
                  f"`consentmon recover {root}` writes them to flows.mitm and flows.jsonl"] if (root / SPOOL_FILE).exists() else []
    if not manifest_path.exists() and not manifest_path.is_symlink():
        return [f"{manifest_path} is missing: the run was not closed (capture crashed?)", *unfinished]
    damaged_hint = "the manifest was edited or cut short: restore the run from its sealed copy"
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise RunDirError(f"{manifest_path} is not a regular file (a symbolic link, a device or a pipe)", hint=damaged_hint)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise RunDirError(f"{manifest_path} is unreadable: {exc}", hint=damaged_hint) from exc
    if not (isinstance(manifest, dict) and isinstance(manifest.get("files", {}), dict)
            and isinstance(manifest.get("events", {}), dict)):
        raise RunDirError(f"{manifest_path}:1: not a consentmon manifest (files and events missing or of the wrong type)",
                          hint=damaged_hint)
    problems: list[str] = list(unfinished)
    problems += [f"{link.relative_to(root).as_posix()}: a symbolic link (a run directory holds plain files only; not followed)"
                 for link in sorted(root.rglob("*")) if link.is_symlink()]
    recorded: dict[str, str] = manifest.get("files", {})
    present = {p.relative_to(root).as_posix(): p for p in _sealed_files(root)}
    for name, digest in sorted(recorded.items()):
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(present[name]) != digest:
            problems.append(f"{name}: content differs from the manifest (SHA-256 mismatch)")
    for name in sorted(set(present) - set(recorded)):
        problems.append(f"{name}: not in the manifest (added after capture)")
    events = root / EVENTS_FILE
    if events.is_symlink() or (events.exists() and not events.is_file()):
        problems.append(f"{EVENTS_FILE}: not a regular file (a symbolic link, a device or a pipe); not read")
    elif events.exists():
        head, count = events_chain(events)
        expected = manifest.get("events", {})
        if count != expected.get("count") or head != expected.get("chain_head"):
            problems.append(f"{EVENTS_FILE}: hash chain broken ({count} lines, expected {expected.get('count')})"
                            + _first_changed_line(events, root / EVENTS_CHAIN_FILE, expected.get("count")))
    return problems


def _first_changed_line(events: Path, marks_path: Path, expected_count: Any) -> str:
    """Where events.jsonl first departs from what was captured, from the chain marks written at the seal."""
    try:
        marks = marks_path.read_bytes()
    except OSError:
        return ""
    if len(marks) % CHAIN_MARK or (isinstance(expected_count, int) and len(marks) // CHAIN_MARK != expected_count):
        return f"; {EVENTS_CHAIN_FILE} does not match the manifest either, so the changed line cannot be named"
    captured = len(marks) // CHAIN_MARK
    head = GENESIS.encode()
    number = 0
    with open(events, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            head = hashlib.sha256(head + line).hexdigest().encode()
            if number > captured:
                return f"; lines from {number} on were added after capture"
            if head[:CHAIN_MARK] != marks[(number - 1) * CHAIN_MARK:number * CHAIN_MARK]:
                return f"; line {number} is the first that differs from what was captured (changed, inserted or removed there)"
    if number < captured:
        return f"; lines from {number + 1} on ({captured - number} of {captured}) were removed after capture"
    return ""
