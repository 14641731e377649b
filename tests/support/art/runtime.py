"""A built ART 10 runtime folder (see build.py) and the command line and environment that run it."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ANDROID_LIBS = "root/usr/lib/x86_64-linux-gnu/android"


@dataclass(frozen=True)
class ArtRuntime:
    home: Path

    @property
    def launcher(self) -> Path:
        return self.home / "bin/dalvikvm"

    @property
    def boot_jars(self) -> list[Path]:
        """Android 10's core library (core-oj + core-libart) and android.icu: the boot class path's start."""
        return [self.home / "boot/core-libart.jar", self.home / "boot/android-icu4j.jar"]

    @property
    def compile_classpath(self) -> list[Path]:
        """The same classes before dx: Java code for this runtime compiles against Android's API, not the JDK's."""
        return [self.home / "classes/core-classes.jar", self.home / "classes/android-icu4j.jar"]

    @property
    def dx_jar(self) -> Path:
        return self.home / "root/usr/share/java/com.android.dx.jar"

    @property
    def info(self) -> dict:
        return json.loads((self.home / "runtime.json").read_text())

    def command(self, main: str, *, classpath: Sequence[Path], args: Sequence[str] = (), boot: Sequence[Path] = (),
                options: Sequence[str] = ()) -> list[str]:
        """argv running `main` from the dex jars of `classpath`; `boot` jars join the boot class path
        (where a phone has framework.jar). Interpreter only, no boot image: the runtime starts from the jars."""
        boot_path = ":".join(str(path) for path in [*self.boot_jars, *boot])
        return [str(self.launcher), f"-Xbootclasspath:{boot_path}", f"-Xbootclasspath-locations:{boot_path}",
                "-Ximage:/nonexistent/boot.art", "-Xnoimage-dex2oat", "-Xint", *options,
                "-cp", ":".join(str(path) for path in classpath), main, *args]

    def environment(self, data_dir: Path, *, gate: Path | None = None) -> dict[str, str]:
        """The process environment: the runtime's libraries, and ANDROID_* folders the runtime may write
        (under data_dir, one per run). With `gate`, the launcher waits on that FIFO before main."""
        root, data, tz = data_dir / "root", data_dir / "data", data_dir / "tz"
        for folder in (root / "etc", data / "dalvik-cache/x86_64", tz):
            folder.mkdir(parents=True, exist_ok=True)
        environment = dict(os.environ)
        environment.update({
            "LD_LIBRARY_PATH": f"{self.home / 'lib'}:{self.home / ANDROID_LIBS}",
            "ANDROID_ROOT": str(root), "ANDROID_DATA": str(data), "ANDROID_RUNTIME_ROOT": str(root),
            "ANDROID_ART_ROOT": str(root), "ANDROID_I18N_ROOT": str(root), "ANDROID_TZDATA_ROOT": str(tz),
        })
        environment.pop("CONSENTMON_ART_GATE", None)
        if gate is not None:
            environment["CONSENTMON_ART_GATE"] = str(gate)
        return environment
