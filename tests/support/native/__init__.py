"""Small C targets for the native hooks, compiled with gcc at test time into a cache keyed by hash.

`sidechannels` reads identifiers through libc the way native SDK code does; `multiproc` forks and
execs children that read them too; `antifrida` (built as `hardened`: a name without "frida" in it, which its own checks look for) makes the anti-Frida checks hardened apps make (its own
memory map, its threads' names, frida-server's port) and prints what it found; `execchildren` starts programs (present or missing) by fork+execve,
fork+execvp, vfork+execve and posix_spawn and reports how each exec went. `libsysprop.so` stands in
for Bionic's __system_property_get. `ExecProbe.java` is the JVM side: Runtime.exec and its IOException.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from monitor.errors import TargetError
from monitor.cache import cache_root

SOURCES = Path(__file__).resolve().parent


def _compile(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise TargetError(f"gcc failed on {what}:\n{result.stderr.strip()}")


def build_native_targets(cache: Path | None = None) -> dict[str, Path]:
    """Compile (if needed) and return {"sidechannels", "multiproc", "execchildren", "libsysprop", "antifrida"}: path."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise TargetError("gcc is not on PATH; the native test targets are C programs",
                          hint="install it, e.g. `apt-get install gcc`")
    digest = hashlib.sha256()
    for source in sorted(SOURCES.glob("*.c")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update(Path(__file__).read_bytes())   # the way they are built and named, too
    out = (cache or cache_root()) / "native" / digest.hexdigest()[:16]
    targets = {"sidechannels": out / "sidechannels", "multiproc": out / "multiproc", "execchildren": out / "execchildren",
               "libsysprop": out / "libsysprop.so", "antifrida": out / "hardened"}
    if (out / ".complete").exists():
        return targets
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _compile([gcc, "-O0", "-g", "-shared", "-fPIC", "-o", str(staging / "libsysprop.so"), str(SOURCES / "sysprop.c")], "sysprop.c")
    _compile([gcc, "-O0", "-g", "-o", str(staging / "sidechannels"), str(SOURCES / "sidechannels.c"),
              f"-L{staging}", "-lsysprop", "-Wl,-rpath,$ORIGIN"], "sidechannels.c")
    _compile([gcc, "-O0", "-g", "-o", str(staging / "multiproc"), str(SOURCES / "multiproc.c")], "multiproc.c")
    _compile([gcc, "-O0", "-g", "-o", str(staging / "execchildren"), str(SOURCES / "execchildren.c")], "execchildren.c")
    _compile([gcc, "-O0", "-g", "-pthread", "-o", str(staging / "hardened"), str(SOURCES / "antifrida.c")], "antifrida.c")
    (staging / ".complete").write_text(digest.hexdigest())
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return targets


def build_jni_library(cache: Path | None = None) -> Path:
    """Compile jnimac.c (if needed) against the JDK's JNI headers and return libjnimac.so."""
    gcc, javac = shutil.which("gcc"), shutil.which("javac")
    if gcc is None or javac is None:
        raise TargetError("gcc and javac are needed for the JNI test library", hint="install gcc and a JDK")
    java_home = Path(javac).resolve().parent.parent
    source = SOURCES / "jnimac.c"
    out = (cache or cache_root()) / "jni" / hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    library = out / "libjnimac.so"
    if library.exists():
        return library
    out.mkdir(parents=True, exist_ok=True)
    staging = out / "libjnimac.so.tmp"
    _compile([gcc, "-O0", "-g", "-shared", "-fPIC", f"-I{java_home / 'include'}", f"-I{java_home / 'include' / 'linux'}",
              "-o", str(staging), str(source)], "jnimac.c")
    staging.rename(library)
    return library


def build_exec_probe(cache: Path | None = None) -> Path:
    """Compile ExecProbe.java (if needed) and return its classes directory (main class `ExecProbe`)."""
    source = SOURCES / "ExecProbe.java"
    javac = shutil.which("javac")
    if javac is None:
        raise TargetError("javac is not on PATH; ExecProbe is a small Java program",
                          hint="install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    out = (cache or cache_root()) / "execprobe" / digest
    if (out / ".complete").exists():
        return out
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = subprocess.run([javac, "-encoding", "UTF-8", "-d", str(staging), str(source)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise TargetError(f"javac failed on ExecProbe.java:\n{result.stderr.strip()}")
    (staging / ".complete").write_text(digest)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out
