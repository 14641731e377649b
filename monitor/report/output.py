"""Writing a report file: never half-written — a temporary file beside the target, then one rename."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from monitor.errors import MonitorError


class ReportError(MonitorError):
    """A report could not be rendered or written."""


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def write_atomic(target: Path, data: bytes) -> Path:
    def write(path: Path) -> None:
        path.write_bytes(data)
    return write_with(target, write)


def write_with(target: Path, produce: Callable[[Path], None]) -> Path:
    """Let `produce` write a temporary file, then rename it onto `target`; on any failure remove it."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create {target.parent}: {exc}", hint="choose a writable --out directory") from exc
    temporary = _temporary(target)
    try:
        produce(temporary)
        os.replace(temporary, target)
    except OSError as exc:
        raise ReportError(f"cannot write {target}: {exc}", hint="choose a writable --out directory with free space") from exc
    finally:
        if temporary.exists():
            temporary.unlink()
    return target
