"""Small C targets for the native hooks, compiled with gcc at test time into a cache keyed by hash.

`sidechannels` reads identifiers through libc the way native SDK code does; `multiproc` forks and
execs children that read them too. `libsysprop.so` stands in for Bionic's __system_property_get.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from monitor.errors import TargetError
from monitor.testing.demo import _cache_root

SOURCES = Path(__file__).resolve().parent


def _compile(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise TargetError(f"gcc failed on {what}:\n{result.stderr.strip()}")


def build_native_targets(cache: Path | None = None) -> dict[str, Path]:
    """Compile (if needed) and return {"sidechannels": path, "multiproc": path, "libsysprop": path}."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise TargetError("gcc is not on PATH; the native test targets are C programs",
                          hint="install it, e.g. `apt-get install gcc`")
    digest = hashlib.sha256()
    for source in sorted(SOURCES.glob("*.c")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    out = (cache or _cache_root()) / "native" / digest.hexdigest()[:16]
    targets = {"sidechannels": out / "sidechannels", "multiproc": out / "multiproc", "libsysprop": out / "libsysprop.so"}
    if (out / ".complete").exists():
        return targets
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _compile([gcc, "-O0", "-g", "-shared", "-fPIC", "-o", str(staging / "libsysprop.so"), str(SOURCES / "sysprop.c")], "sysprop.c")
    _compile([gcc, "-O0", "-g", "-o", str(staging / "sidechannels"), str(SOURCES / "sidechannels.c"),
              f"-L{staging}", "-lsysprop", "-Wl,-rpath,$ORIGIN"], "sidechannels.c")
    _compile([gcc, "-O0", "-g", "-o", str(staging / "multiproc"), str(SOURCES / "multiproc.c")], "multiproc.c")
    (staging / ".complete").write_text(digest.hexdigest())
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return targets
