"""Java sources → dex jars for the host ART runtime: a stub Android framework for its boot class path,
and apps for its class path.

Sources compile as Java 8 against Android 10's own core library (not the JDK's); their lambdas and method
references are desugared into classes (build.py's `desugar_command`: Debian has no D8, and Android's
LambdaMetafactory returns null), then dx turns the classes into dex, with any library jars the app bundles
(Debian's OkHttp and Okio) desugared and dexed into the same output. Each result is cached under
`<cache>/art10-dex/<name>-<hash>/` (the hash covers the sources, the class path, the libraries' bytes and the
runtime, whose key covers the desugarer), built in a staging folder and renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.hostart import DX_MIN_SDK, HostArt, is_framework

from support.art.build import BuildError, desugar_command


@dataclass(frozen=True)
class DexBuild:
    dex: Path        # the jar of classes.dex files ART loads
    classes: Path    # the same classes as class files, for compiling other code against them


def dex_jar(runtime: HostArt, sources: Mapping[str, str], *, name: str, classpath: Sequence[Path] = (),
            libraries: Sequence[Path] = (), cache: Path | None = None) -> DexBuild:
    """Compile `sources` ({"a/b/C.java": text}) against Android's core library, `classpath` (class jars
    or folders) and `libraries`, desugar their lambdas and dex them; `libraries` (class jars the app bundles,
    e.g. Debian's okhttp.jar) are desugared and dexed into the same output. Cached by content (the libraries'
    bytes too); a failure is a BuildError naming the step."""
    digest = hashlib.sha256(runtime.home.name.encode() + b"\0" + DX_MIN_SDK.encode())
    for path in classpath:
        digest.update(str(path).encode() + b"\0")
    for library in libraries:
        digest.update(b"library\0" + str(library).encode() + b"\0" + hashlib.sha256(Path(library).read_bytes()).digest())
    for relative in sorted(sources):
        digest.update(relative.encode() + b"\0" + sources[relative].encode() + b"\0")
    home = (cache or runtime.home.parent.parent) / "art10-dex" / f"{name}-{digest.hexdigest()[:16]}"
    build = DexBuild(dex=home / f"{name}.jar", classes=home / f"{name}-classes.jar")
    if build.dex.exists():
        return build
    staging = home.with_name(f".staging-{home.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        source_dir, class_dir = staging / "src", staging / "classes"
        for relative, text in sources.items():
            (source_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (source_dir / relative).write_text(text)
        class_dir.mkdir(parents=True)
        _run(f"javac {name}", runtime.javac_command(class_dir, sorted(str(path) for path in source_dir.rglob("*.java")),
                                                     classpath=[*classpath, *libraries]),
             fix="the sources use an API Android 10's core library lacks, or do not compile")
        _run(f"jar {name}", ["jar", "cf", str(staging / build.classes.name), "-C", str(class_dir), "."], fix="check the disk")
        desugared = staging / f"{name}-desugared.jar"
        _run(f"desugar {name}", desugar_command(runtime.home, desugared, staging / build.classes.name, *libraries),
             fix="kit/tools/Desugar.java met a LambdaMetafactory call site it does not handle: see its message")
        _run(f"dx {name}", runtime.dx_command(staging / build.dex.name, desugared, heap="2g"),
             fix="dx reads Java 8 class files; a construct dx cannot translate is in the sources")
        desugared.unlink()
        shutil.rmtree(source_dir)
        shutil.rmtree(class_dir)
        shutil.rmtree(home, ignore_errors=True)
        staging.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return build


def sources_under(root: Path, *, framework: bool | None = None) -> dict[str, str]:
    """The .java files under root as {relative path: text}; only the framework's (or only the others')."""
    files = {path.relative_to(root).as_posix(): path.read_text() for path in sorted(root.rglob("*.java"))}
    return {relative: text for relative, text in files.items() if framework is None or is_framework(relative) == framework}


def _run(step: str, command: list[str], *, fix: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        detail = " | ".join(line.strip() for line in (result.stdout + result.stderr).strip().splitlines()[:4])
        raise BuildError(step, detail[:600], fix)
