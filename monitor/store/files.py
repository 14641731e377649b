"""Files of a run directory other than the event and traffic logs: what analysis derives (findings.json,
reports) and what a scenario saves (screens/). Written whole or not at all, named so they stay inside
the run directory."""

from __future__ import annotations

import os
from collections.abc import Callable
import re
import stat
from pathlib import Path

from monitor.errors import RunDirError
from monitor.store import SCREENS_DIR

# A screen's file name comes from a scenario file: letters, digits, dot, dash, underscore only, so a
# scenario cannot write outside screens/.
SAFE_NAME = re.compile(r"^[\w.-]+$")


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """`open(..., opener=private_opener)`: a new file is created 0600 (it may hold personal information), and a
    symbolic link is never followed: a run directory from elsewhere cannot aim a write outside itself."""
    return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)


def make_private(path: Path) -> None:
    """0700 for a directory, 0600 for a file; a symbolic link is left alone (never followed)."""
    path = Path(path)
    try:
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            os.chmod(path, 0o700)
        elif stat.S_ISREG(mode):
            os.chmod(path, 0o600)
    except OSError:
        pass  # gone, or not ours to change: the directory's own 0700 still keeps others out


def private_tree(root: Path) -> None:
    """Every file and folder under `root` (itself included) made its owner's only, without following links."""
    root = Path(root)
    make_private(root)
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            make_private(Path(folder) / name)


def inside_run(root: Path, relative: str) -> Path | None:
    """The file `relative` (as an event names it: `screens/003-consent-before.png`) of run directory `root`, if
    it is a plain file inside the run; None for a name that leaves the run (`..`, an absolute path), a
    symbolic link anywhere on the way, or anything but a regular file. A run directory from elsewhere can
    name any path in its events; only what this returns may be opened."""
    root = Path(root)
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or any(part in ("..", ".", "") for part in parts):
        return None
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    return path if path.is_file() else None


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write through a temporary file and rename it into place: a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        # A leftover temporary (or a link planted in its place) is removed, never written through.
        tmp.unlink(missing_ok=True)
        with open(tmp, "xb", opener=private_opener) as handle:
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


def write_with(target: Path, produce: Callable[[Path], None]) -> Path:
    """Let `produce` write a temporary file beside `target` (a library that writes to a path: WeasyPrint,
    openpyxl), then rename it onto `target`; on any failure nothing is left behind."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create {target.parent}: {exc}", hint="choose a writable --out directory") from exc
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        produce(temporary)
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except OSError as exc:
        raise RunDirError(f"cannot write {target}: {exc}", hint="choose a writable --out directory with free space") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return target


def screen_files(root: Path, suffix: str = ".png") -> list[str]:
    """`screens/<name>` of every picture (or, with suffix ".xml", every UI dump) a run holds, by name."""
    folder = Path(root) / SCREENS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return []
    return [f"{SCREENS_DIR}/{path.name}" for path in sorted(folder.glob(f"*{suffix}")) if path.is_file() and not path.is_symlink()]


def read_screen(root: Path, ref: str) -> bytes | None:
    """The bytes of `screens/<name>` (as events name it), or None when it is missing or would lead outside screens/
    (a run directory from elsewhere cannot make a report read another file)."""
    folder, _, name = ref.partition("/")
    if folder != SCREENS_DIR or not SAFE_NAME.match(name) or name in {".", ".."}:
        return None
    path = Path(root) / SCREENS_DIR / name
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None
