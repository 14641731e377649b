"""Writing a report file: never half-written — a temporary file beside the target, then one rename."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monitor.errors import MonitorError, RunDirError
from monitor.store.files import write_with as store_write_with


class ReportError(MonitorError):
    """A report could not be rendered or written."""


def write_atomic(target: Path, data: bytes) -> Path:
    return write_with(target, lambda path: path.write_bytes(data))


def write_with(target: Path, produce: Callable[[Path], None]) -> Path:
    """A report file written whole or not at all (the store's writer: a temporary file, then one rename)."""
    try:
        return store_write_with(target, produce)
    except RunDirError as exc:
        raise ReportError(exc.message, hint=exc.hint) from exc
