"""Host ART: Android 10's runtime built on this machine from Debian's packages (`python tests/support/art/build.py`
builds it into `<cache>/art10/<key>/`), and everything needed to run a program on it.

One place says how: the runtime folder's layout (runtime.json, bin/dalvikvm, boot/, classes/, lib/, root/),
the launcher's command line, the process environment it needs, how an ART command line is recognised, how
run.json names the runtime, and how Java code is compiled and dexed for it. The runner, the demo, the test rig
(tests/support/art) and the benchmarks build on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.cache import cache_root

RUNTIME_INFO = "runtime.json"        # written by the build once the runtime ran a program: versions, key
LAUNCHER_NAMES = frozenset({"dalvikvm", "dalvikvm64"})
# Debian's Android libraries (libart and its companions), unpacked into the runtime folder.
ANDROID_LIBS = "root/usr/lib/x86_64-linux-gnu/android"
# The launcher (tests/support/art/kit/dalvikvm.c) waits on this FIFO, once the VM is up, before it loads main.
GATE_ENV = "CONSENTMON_ART_GATE"
# Debian packages dx, not d8: it reads Java 8 class files and does not desugar.
DX_MIN_SDK = "28"
# A phone's framework.jar holds these packages: on host ART they go on the boot class path, the rest is the app's dex.
FRAMEWORK_PREFIXES = ("android/", "com/android/", "dalvik/")


def cache_folder(cache: Path | None = None) -> Path:
    """Where runtimes are built, one folder a build key: `<cache>/art10/`."""
    return (cache or cache_root()) / "art10"


def is_framework(relative_path: str) -> bool:
    """True for a class or source (a/b/C.class, a/b/C.java) a phone has on its boot class path."""
    return relative_path.startswith(FRAMEWORK_PREFIXES)


def is_art_command(argv: Sequence[str]) -> bool:
    """Android's runtime run by its launcher (host ART: `dalvikvm`, tests/support/art/kit/dalvikvm.c)."""
    return Path(argv[0]).name in LAUNCHER_NAMES


@dataclass(frozen=True)
class HostArt:
    """A built host ART runtime folder."""
    home: Path

    @classmethod
    def of_command(cls, argv: Sequence[str]) -> HostArt:
        """The runtime folder of a launcher command line (`<home>/bin/dalvikvm …`)."""
        return cls(Path(argv[0]).resolve().parent.parent)

    @classmethod
    def newest_built(cls, cache: Path | None = None) -> HostArt | None:
        """The most recently built complete runtime in the cache, if any."""
        built = sorted((art for art in (cls(info.parent) for info in cache_folder(cache).glob(f"*/{RUNTIME_INFO}"))
                        if art.complete), key=lambda art: art.home.stat().st_mtime)
        return built[-1] if built else None

    @property
    def launcher(self) -> Path:
        return self.home / "bin/dalvikvm"

    @property
    def complete(self) -> bool:
        """A runtime folder: its runtime.json and its launcher."""
        return (self.home / RUNTIME_INFO).is_file() and self.launcher.is_file()

    @property
    def info(self) -> dict:
        return json.loads((self.home / RUNTIME_INFO).read_text())

    def runtime(self) -> dict[str, Any]:
        """run.json's `runtime` of a run on it (version "unknown" when runtime.json cannot be read)."""
        try:
            info = self.info
            version = (f"Android {info.get('android', '?')} (API {info.get('api_level', '?')}), "
                       f"android-libart {info.get('packages', {}).get('android-libart', '?')}")
        except (OSError, ValueError):
            version = "unknown"
        return {"name": "art", "version": version, "home": str(self.home)}

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

    def command(self, main: str, *, classpath: Sequence[Path], args: Sequence[str] = (), boot: Sequence[Path] = (),
                options: Sequence[str] = ()) -> list[str]:
        """argv running `main` from the dex jars of `classpath`; `boot` jars join the boot class path
        (where a phone has framework.jar). Interpreter only (Debian packages no ART compiler), no boot image:
        the runtime starts from the jars."""
        boot_path = ":".join(str(path) for path in [*self.boot_jars, *boot])
        return [str(self.launcher), f"-Xbootclasspath:{boot_path}", f"-Xbootclasspath-locations:{boot_path}",
                "-Ximage:/nonexistent/boot.art", "-Xnoimage-dex2oat", "-Xint", *options,
                "-cp", ":".join(str(path) for path in classpath), main, *args]

    def variables(self, data_dir: Path) -> dict[str, str]:
        """What the launcher needs in its environment: the runtime's libraries on LD_LIBRARY_PATH, and the
        ANDROID_* folders the runtime may write, made under data_dir (one per run)."""
        root, data, tz = data_dir / "root", data_dir / "data", data_dir / "tz"
        for folder in (root / "etc", data / "dalvik-cache/x86_64", tz):
            folder.mkdir(parents=True, exist_ok=True)
        return {"LD_LIBRARY_PATH": f"{self.home / 'lib'}:{self.home / ANDROID_LIBS}",
                "ANDROID_ROOT": str(root), "ANDROID_DATA": str(data), "ANDROID_RUNTIME_ROOT": str(root),
                "ANDROID_ART_ROOT": str(root), "ANDROID_I18N_ROOT": str(root), "ANDROID_TZDATA_ROOT": str(tz)}

    def environment(self, data_dir: Path, *, gate: Path | None = None) -> dict[str, str]:
        """The process environment: this one's, with `variables(data_dir)`. With `gate`, the launcher waits
        on that FIFO before main."""
        environment = {**os.environ, **self.variables(data_dir)}
        environment.pop(GATE_ENV, None)
        if gate is not None:
            environment[GATE_ENV] = str(gate)
        return environment

    def javac_command(self, classes: Path, sources: Sequence[str | Path], *, classpath: Sequence[Path] = ()) -> list[str]:
        """javac for code that runs on it: Java 8 class files (what dx reads) against Android 10's core library,
        string concatenation inlined."""
        extra = ["-classpath", ":".join(str(path) for path in classpath)] if classpath else []
        return ["javac", "-source", "8", "-target", "8", "-Xlint:-options", "-nowarn", "-encoding", "UTF-8", "-proc:none",
                "-XDstringConcat=inline", "-bootclasspath", ":".join(str(path) for path in self.compile_classpath),
                *extra, "-d", str(classes), *map(str, sources)]

    def dx_command(self, output: Path, *inputs: Path, heap: str, core_library: bool = False) -> list[str]:
        """dx turning class files (jars or folders) into a jar of dex files for this runtime."""
        options = ["--core-library"] if core_library else []
        return ["java", f"-Xmx{heap}", "-cp", str(self.dx_jar), "com.android.dx.command.Main", "--dex", *options,
                "--multi-dex", f"--min-sdk-version={DX_MIN_SDK}", f"--output={output}", *map(str, inputs)]


def art_environment(argv: Sequence[str], scratch: Path) -> dict[str, str]:
    """What a launcher command line given to us (`run --host -- …/bin/dalvikvm …`) needs added to its environment:
    its runtime folder's variables (bin/dalvikvm beside runtime.json), folders under scratch; nothing when that
    folder has no runtime.json or the caller's environment already names ANDROID_DATA."""
    art = HostArt.of_command(argv)
    if not (art.home / RUNTIME_INFO).is_file() or os.environ.get("ANDROID_DATA"):
        return {}
    return art.variables(scratch)
