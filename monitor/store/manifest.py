"""manifest.json: SHA-256 of every file of a run and the head of the events hash chain.

`verify_run` recomputes both and names exactly what differs, so a run handed to a regulator can be
shown unaltered since capture.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
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


# What `verify_run` can find, by code: the English `consentmon verify` prints. A report says each in its own
# language from the message catalogue (integrity.problem.<code> in monitor/data/messages.yaml, whose English
# is this text: a test holds them equal). A broken hash chain carries a second problem, where the change is.
PROBLEMS = {
    "unrecovered_flows": "{file}: flows of a capture that was stopped before writing them out; "
                         "`consentmon recover {run}` writes them to flows.mitm and flows.jsonl",
    "manifest_missing": "{file} is missing: the run was not closed (capture crashed?)",
    "symlink": "{file}: a symbolic link (a run directory holds plain files only; not followed)",
    "missing": "{file}: listed in the manifest but missing",
    "changed": "{file}: content differs from the manifest (SHA-256 mismatch)",
    "added": "{file}: not in the manifest (added after capture)",
    "events_not_regular": "{file}: not a regular file (a symbolic link, a device or a pipe); not read",
    "chain_broken": "{file}: hash chain broken ({count} lines, expected {expected})",
    "chain.marks_differ": "{file} does not match the manifest either, so the changed line cannot be named",
    "chain.added_from": "lines from {line} on were added after capture",
    "chain.changed_at": "line {line} is the first that differs from what was captured (changed, inserted or removed there)",
    "chain.removed_from": "lines from {line} on ({removed} of {captured}) were removed after capture",
}


@dataclass(frozen=True)
class Problem:
    """One thing `verify_run` found: its code (a key of PROBLEMS), the values it names, and where a broken
    chain changed (`detail`, one of the chain.* codes)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    detail: "Problem | None" = None

    @property
    def text(self) -> str:
        """The English, as `consentmon verify` prints it."""
        own = PROBLEMS[self.code].format(**self.params)
        return f"{own}; {self.detail.text}" if self.detail is not None else own

    def as_json(self) -> dict[str, Any]:
        coded: dict[str, Any] = {"code": self.code, "params": {name: str(value) for name, value in self.params.items()}}
        return {**coded, "detail": self.detail.as_json()} if self.detail is not None else coded


def verify_run(root: Path) -> list[str]:
    """Problems found in a sealed run directory, in English; an empty list means intact."""
    return [problem.text for problem in check_run(root)]


def check_run(root: Path) -> list[Problem]:
    """Problems found in a sealed run directory, each with its code; an empty list means intact."""
    root = Path(root)
    manifest_path = root / MANIFEST_FILE
    unfinished = [Problem("unrecovered_flows", {"file": root / SPOOL_FILE, "run": root})] if (root / SPOOL_FILE).exists() else []
    if not manifest_path.exists() and not manifest_path.is_symlink():
        return [Problem("manifest_missing", {"file": manifest_path}), *unfinished]
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
    problems: list[Problem] = list(unfinished)
    problems += [Problem("symlink", {"file": link.relative_to(root).as_posix()}) for link in sorted(root.rglob("*")) if link.is_symlink()]
    recorded: dict[str, str] = manifest.get("files", {})
    present = {p.relative_to(root).as_posix(): p for p in _sealed_files(root)}
    for name, digest in sorted(recorded.items()):
        if name not in present:
            problems.append(Problem("missing", {"file": name}))
        elif sha256_file(present[name]) != digest:
            problems.append(Problem("changed", {"file": name}))
    for name in sorted(set(present) - set(recorded)):
        problems.append(Problem("added", {"file": name}))
    events = root / EVENTS_FILE
    if events.is_symlink() or (events.exists() and not events.is_file()):
        problems.append(Problem("events_not_regular", {"file": EVENTS_FILE}))
    elif events.exists():
        head, count = events_chain(events)
        expected = manifest.get("events", {})
        if count != expected.get("count") or head != expected.get("chain_head"):
            problems.append(Problem("chain_broken", {"file": EVENTS_FILE, "count": count, "expected": expected.get("count")},
                                    _first_changed_line(events, root / EVENTS_CHAIN_FILE, expected.get("count"))))
    return problems


def _first_changed_line(events: Path, marks_path: Path, expected_count: Any) -> Problem | None:
    """Where events.jsonl first departs from what was captured, from the chain marks written at the seal."""
    try:
        marks = marks_path.read_bytes()
    except OSError:
        return None
    if len(marks) % CHAIN_MARK or (isinstance(expected_count, int) and len(marks) // CHAIN_MARK != expected_count):
        return Problem("chain.marks_differ", {"file": EVENTS_CHAIN_FILE})
    captured = len(marks) // CHAIN_MARK
    head = GENESIS.encode()
    number = 0
    with open(events, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            head = hashlib.sha256(head + line).hexdigest().encode()
            if number > captured:
                return Problem("chain.added_from", {"line": number})
            if head[:CHAIN_MARK] != marks[(number - 1) * CHAIN_MARK:number * CHAIN_MARK]:
                return Problem("chain.changed_at", {"line": number})
    if number < captured:
        return Problem("chain.removed_from", {"line": number + 1, "removed": captured - number, "captured": captured})
    return None
