"""Files of a run directory other than the event and traffic logs: what analysis derives (findings.json,
reports) and what a scenario saves (screens/). Written whole or not at all, named so they stay inside
the run directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

from monitor.errors import RunDirError

# A screen's file name comes from a scenario file: letters, digits, dot, dash, underscore only, so a
# scenario cannot write outside screens/.
SAFE_NAME = re.compile(r"^[\w.-]+$")


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write through a temporary file and rename it into place: a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunDirError(f"cannot write {path}: {exc}",
                          hint="check the directory is writable and has space, or choose another --out") from exc
    return path


def read_text(path: Path, *, missing_hint: str) -> str:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RunDirError(f"{path} is missing", hint=missing_hint) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: cannot read ({exc})") from exc


class ScreenFolder:
    """screens/ of a run: screenshots and UI dumps, referred to from events as `screens/<name>`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        if not SAFE_NAME.match(name) or name in {".", ".."}:
            raise RunDirError(f"{name!r} is not a screen file name", hint="use letters, digits, '.', '-' and '_' only")
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / name

    def ref(self, name: str) -> str:
        return f"{self.folder.name}/{name}"

    def write_text(self, name: str, text: str) -> str:
        write_atomic(self.path(name), text)
        return self.ref(name)
