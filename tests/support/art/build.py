"""Android 10's runtime (ART) for this host, built from Debian's package registry alone.

    python tests/support/art/build.py [--force]      # prints the runtime's folder

Binaries come from bullseye's `android-libart` 10.0.0+r36 and its companions; the boot class path is
compiled from `apt-get source android-platform-libcore` (Android 10's core library), `android.icu` is
made from Debian's ICU4J; the natives the runtime needs are compiled from the same sources. Every class jar
is desugared before dx (kit/tools/Desugar.java: lambdas become classes, as D8 makes them for a phone; Debian has
no D8 and Android's LambdaMetafactory returns null), the boot class path's and, through dex.py, each program's. A private
apt configuration (its own sources, lists and cache under the cache folder) fetches everything:
nothing from bullseye is installed on the system and the system's apt sources are left alone.

The runtime is built into `<cache>/art10/<key>/`, the key being the hash of every input (the pinned
package versions, this file, kit/ and monitor/hostart.py: the runtime's layout, dx, its command line), in a staging folder renamed into place only once the new
runtime has run a program: a half-built runtime is never kept, and an unchanged key is never rebuilt.
A failed step raises BuildError, whose text is one line naming the step and the fix.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import monitor.hostart as hostart
from monitor.hostart import ANDROID_LIBS, HostArt, cache_folder

HERE = Path(__file__).resolve().parent
KIT = HERE / "kit"

SUITE = "bullseye"
# Debian's archive; CONSENTMON_ART_ARCHIVE names another server of the same archive (a local apt cache).
ARCHIVE = os.environ.get("CONSENTMON_ART_ARCHIVE", "http://deb.debian.org/debian")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Android 10 (API level 29) as Debian packaged it: the versions are pinned, so the key is known offline.
BINARY_PACKAGES = (
    ("android-libart", "10.0.0+r36-3"),
    ("android-libbase", "1:10.0.0+r36-7"),
    ("android-libbase-dev", "1:10.0.0+r36-7"),
    ("android-libbacktrace", "1:10.0.0+r36-7"),
    ("android-libboringssl", "10.0.0+r36-1"),
    ("android-libboringssl-dev", "10.0.0+r36-1"),
    ("android-libcutils", "1:10.0.0+r36-7"),
    ("android-liblog", "1:10.0.0+r36-7"),
    ("android-liblog-dev", "1:10.0.0+r36-7"),
    ("android-libnativebridge", "1:10.0.0+r36-7"),
    ("android-libnativehelper", "10.0.0+r36-2"),
    ("android-libnativehelper-dev", "10.0.0+r36-2"),
    ("android-libnativeloader", "1:10.0.0+r36-7"),
    ("android-libunwind", "10.0.0+r36-4"),
    ("android-libutils", "1:10.0.0+r36-7"),
    ("android-libziparchive", "1:10.0.0+r36-7"),
    ("android-libziparchive-dev", "1:10.0.0+r36-7"),
    ("dalvik-exchange", "10.0.0+r36-1"),      # dx: class files -> dex
    ("libicu4j-java", "68.2-2"),              # ICU4J, renamed to android.icu
    ("libasm-java", "9.1-1"),                 # ASM, for that renaming
    ("p7zip-full", "16.02+dfsg-8"),           # lib7z.so, which libbacktrace loads
)
SOURCE_PACKAGES = (
    ("android-platform-libcore", "10.0.0+r36-1"),   # the boot class path and its natives
    ("android-platform-art", "10.0.0+r36-3"),       # openjdkjvm/OpenjdkJvm.cc (ART's JVM_* layer)
)
# Host tools (bookworm, installed by .ci/run): command or header -> Debian package.
HOST_TOOLS = {
    "clang": "clang", "clang++": "clang", "javac": "openjdk-17-jdk-headless", "jar": "openjdk-17-jdk-headless",
    "java": "openjdk-17-jdk-headless", "apt-get": "apt", "dpkg-deb": "dpkg", "dpkg-source": "dpkg-dev",
    "patch": "patch",
}
HOST_HEADERS = {
    "/usr/include/unicode/utypes.h": "libicu-dev", "/usr/include/expat.h": "libexpat1-dev",
    "/usr/include/zlib.h": "zlib1g-dev", "/usr/include/sys/capability.h": "libcap-dev",
}
HOST_PACKAGES = sorted(set(HOST_TOOLS.values()) | set(HOST_HEADERS.values()) - {"apt", "dpkg"})
SMOKE_LINE = "Hello from ART"


class BuildError(Exception):
    """A build step failed. str() is one line: the step, what went wrong, and the fix."""

    def __init__(self, step: str, reason: str, fix: str) -> None:
        super().__init__(f"ART 10 build, step '{step}' failed: {reason} — fix: {fix}")
        self.step, self.reason, self.fix = step, reason, fix


class RegistryUnreachable(BuildError):
    """Debian's registry could not be reached: the ART tests are skipped, not failed."""


# Host-only stand-in for D8's lambda desugaring (kit/tools/Desugar.java, ASM): its classes in the runtime folder.
DESUGAR_CLASSES = "tools/desugar"
ASM_JAR = "root/usr/share/java/asm.jar"


def desugar_command(home: Path, output: Path, *inputs: Path) -> list[str]:
    """Rewrites the LambdaMetafactory call sites of class jars `inputs` into classes of their own, as D8 does
    for a phone, into the class jar `output` (for dx). Android's LambdaMetafactory returns null: without this
    every lambda and method reference fails on host ART with BootstrapMethodError."""
    return ["java", "-cp", f"{home / DESUGAR_CLASSES}{os.pathsep}{home / ASM_JAR}", "Desugar", str(output), *map(str, inputs)]


def input_key() -> str:
    """The hash of every input of the build: pinned packages, host architecture, this file, kit/ and
    monitor/hostart.py (the runtime's folder layout, dx's options, the command line the build runs its program with)."""
    digest = hashlib.sha256(json.dumps([SUITE, BINARY_PACKAGES, SOURCE_PACKAGES, platform.machine()]).encode())
    for path in [Path(__file__).resolve(), *sorted(p for p in KIT.rglob("*") if p.is_file())]:
        digest.update(path.relative_to(HERE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(b"monitor/hostart.py\0" + Path(hostart.__file__).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def runtime_dir(key: str | None = None, cache: Path | None = None) -> Path:
    return cache_folder(cache) / (key or input_key())


# ---- running the steps ---------------------------------------------------------------------------

class CommandFailed(Exception):
    def __init__(self, command: list[str], detail: str) -> None:
        super().__init__(f"`{' '.join(command[:3])}…` {detail}")


@dataclass
class Builder:
    home: Path                       # the runtime's final folder
    downloads: Path                  # apt state and downloaded files, shared by every key
    jobs: int = field(default_factory=lambda: os.cpu_count() or 2)
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.staging = self.home.with_name(f".staging-{self.home.name}-{os.getpid()}")
        self.work = self.staging / "work"           # sources and objects, dropped at the end
        self.root = self.staging / "root"           # the unpacked debs
        self.logs = self.staging / "logs"
        self.apt_config = self.downloads / "apt.conf"
        self.log_file = self.logs / "build.log"
        self.failure_log = self.home.with_name(f"failed-{self.home.name}.log")   # kept when a step fails
        self.started = time.monotonic()

    # -- helpers --
    def run(self, command: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None,
            apt: bool = False, timeout: float = 900, combined: bool = False) -> str:
        """Run a command, its output appended to the build log; returns its standard output (with its
        standard error when `combined`). CommandFailed, with the last lines of its output, when it fails."""
        argv = [str(part) for part in command]
        environment = dict(os.environ, **(env or {}))
        if apt:
            environment["APT_CONFIG"] = str(self.apt_config)
            environment["DEBIAN_FRONTEND"] = "noninteractive"
        try:
            result = subprocess.run(argv, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise CommandFailed(argv, f"did not finish in {timeout:.0f} s") from error
        except FileNotFoundError as error:
            raise CommandFailed(argv, "not found") from error
        output = result.stdout + result.stderr
        with self.log_file.open("a") as log:
            log.write(f"$ {' '.join(argv)}\n{output}\n")
        if result.returncode != 0:
            tail = " | ".join(line.strip() for line in output.strip().splitlines()[-3:])
            raise CommandFailed(argv, f"exited {result.returncode}: {tail[:400]}")
        return output if combined else result.stdout

    def dx(self, output: Path, *inputs: Path, core_library: bool = False) -> None:
        """Desugar the classes' lambdas (as D8 would on the way to a phone), then dx them."""
        desugared = self.work / f"desugared-{output.name}"
        self.run(desugar_command(self.staging, desugared, *inputs))
        self.run(HostArt(self.staging).dx_command(output, desugared, heap="3g", core_library=core_library))

    @contextmanager
    def step(self, name: str, fix: str) -> Iterator[None]:
        started = time.monotonic()
        self.progress(f"art10: [{started - self.started:5.1f} s] {name}")
        with self.log_file.open("a") as log:
            log.write(f"=== {name}\n")
        try:
            yield
        except BuildError:
            raise
        except (CommandFailed, OSError, ValueError, AssertionError) as error:
            raise BuildError(name, str(error) or type(error).__name__, fix.replace("{log}", str(self.failure_log))) from error
        self.timings[name] = round(time.monotonic() - started, 1)

    # -- the build --
    def build(self) -> Path:
        shutil.rmtree(self.staging, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.work.mkdir()
        try:
            self.check_host_tools()
            self.private_apt()
            self.fetch_binaries()
            self.fetch_sources()
            self.adapt_libcore()
            self.make_android_icu()
            self.compile_core()
            self.dex_core()
            self.compile_natives()
            self.link_launcher()
            self.smoke_test()
            self.commit()
        except BaseException:
            self.keep_failure_log()
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        return self.home

    def check_host_tools(self) -> None:
        with self.step("1 host tools", f"apt-get install {' '.join(HOST_PACKAGES)} (.ci/run does)"):
            missing = sorted({package for tool, package in HOST_TOOLS.items() if shutil.which(tool) is None}
                             | {package for header, package in HOST_HEADERS.items() if not Path(header).exists()})
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            if not Path(KEYRING).exists():
                raise ValueError(f"{KEYRING} is missing (package debian-archive-keyring)")

    def private_apt(self) -> None:
        fix = f"make {ARCHIVE} reachable (an http proxy goes in /etc/apt/apt.conf.d), then run the tests again"
        with self.step("2 private apt configuration + update", fix):
            parts = self.downloads / "sources.list.d"
            for folder in (parts, self.downloads / "preferences.d", self.downloads / "lists/partial",
                           self.downloads / "cache/archives/partial"):
                folder.mkdir(parents=True, exist_ok=True)
            (parts / "bullseye.list").write_text(
                f"deb [signed-by={KEYRING}] {ARCHIVE} {SUITE} main\n"
                f"deb-src [signed-by={KEYRING}] {ARCHIVE} {SUITE} main\n")
            # Only these keys are replaced: the system's /etc/apt/apt.conf.d (proxies) still applies, its
            # sources, lists, preferences and cache do not.
            self.apt_config.write_text(
                'Dir::Etc::SourceList "/dev/null";\n'
                f'Dir::Etc::SourceParts "{parts}";\n'
                f'Dir::Etc::PreferencesParts "{self.downloads / "preferences.d"}";\n'
                'Dir::Etc::Preferences "/dev/null";\n'
                f'Dir::State::Lists "{self.downloads / "lists"}";\n'
                f'Dir::Cache "{self.downloads / "cache"}";\n'
                'Acquire::Languages "none";\n'
                'Acquire::Retries "2";\n'
                'Acquire::http::Timeout "20";\n')
            try:
                output = self.run(["apt-get", "-q", "update"], apt=True, timeout=300, combined=True)
            except CommandFailed as error:
                raise RegistryUnreachable("2 private apt configuration + update", f"apt-get update: {error}", fix) from error
            name, version = BINARY_PACKAGES[0]
            try:
                self.run(["apt-cache", "show", f"{name}={version}"], apt=True)
            except CommandFailed as error:
                unreachable = re.search(r"(Failed to fetch|Could not resolve|Temporary failure|Unable to connect)", output)
                kind = RegistryUnreachable if unreachable else BuildError
                raise kind("2 private apt configuration + update", f"{name} {version} not in the {SUITE} lists"
                           + (f" ({unreachable.group(1)})" if unreachable else ""), fix) from error

    def fetch_binaries(self) -> None:
        fix = f"check that {SUITE} still serves these versions ({ARCHIVE}); update BINARY_PACKAGES if it moved"
        with self.step("3 download + unpack the Android 10 debs", fix):
            debs = self.downloads / "debs"
            debs.mkdir(exist_ok=True)
            wanted = [f"{name}={version}" for name, version in BINARY_PACKAGES]
            # apt-get download skips a file it already holds with the right hash.
            try:
                self.run(["apt-get", "-q", "download", *wanted], cwd=debs, apt=True, timeout=600)
            except CommandFailed as error:
                if re.search(r"Could not resolve|Temporary failure|Unable to connect|Connection failed", str(error)):
                    raise RegistryUnreachable("3 download + unpack the Android 10 debs", str(error), fix) from error
                raise
            for name, version in BINARY_PACKAGES:
                files = list(debs.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"))
                if len(files) != 1:
                    raise ValueError(f"{name} {version}: {len(files)} .deb files downloaded")
                self.run(["dpkg-deb", "-x", files[0], self.root])

    def fetch_sources(self) -> None:
        fix = "apt-get source needs dpkg-dev; check the deb-src lines of the private apt configuration"
        with self.step("4 apt-get source libcore + art", fix):
            sources = self.downloads / "sources"
            sources.mkdir(exist_ok=True)
            self.run(["apt-get", "-q", "source", "--download-only", *[f"{n}={v}" for n, v in SOURCE_PACKAGES]],
                     cwd=sources, apt=True, timeout=600)
            for name, version in SOURCE_PACKAGES:
                upstream = version.rsplit("-", 1)[0]
                dsc = sources / f"{name}_{version}.dsc"
                self.run(["dpkg-source", "--no-check", "-x", dsc, self.work / f"{name}-{upstream}"], timeout=600)
        self.libcore = self.work / f"android-platform-libcore-{SOURCE_PACKAGES[0][1].rsplit('-', 1)[0]}"
        self.art = self.work / f"android-platform-art-{SOURCE_PACKAGES[1][1].rsplit('-', 1)[0]}"

    def adapt_libcore(self) -> None:
        """Three host adaptations of Android 10's libcore, each replacing exactly one occurrence."""
        with self.step("5 adapt libcore to this host", "the libcore source changed: update adapt_libcore()"):
            edits = [
                # Android-only ICU4J members, not in Debian's ICU4J: their public-API equivalents (kit/java).
                ("ojluni/src/main/java/java/time/format/DateTimeFormatterBuilder.java",
                 "String pattern = Calendar.getDateTimeFormatString(",
                 "String pattern = android.icu.impl.AndroidIcuCompat.getDateTimeFormatString("),
                ("ojluni/src/main/java/sun/util/locale/provider/CalendarDataUtility.java",
                 "return new DateFormatSymbols(ULocale.forLocale(locale), calendarType);",
                 "return android.icu.impl.AndroidIcuCompat.newDateFormatSymbols(ULocale.forLocale(locale), calendarType);"),
                # Android 10 aborts without $ANDROID_RUNTIME_ROOT/etc/icu/icudt*.dat; Debian's ICU4C links its data.
                ("luni/src/main/native/libcore_icu_ICU.cpp",
                 "    if (icu_datamap_from_runtime_module_ == nullptr) {\n        abort();\n    }",
                 "    if (icu_datamap_from_runtime_module_ == nullptr) {\n"
                 '        ALOGW("host: no ICU .dat file; using the data linked into libicudata");\n'
                 "        udata_setFileAccess(UDATA_DEFAULT_ACCESS, &status);\n    }"),
            ]
            for relative, old, new in edits:
                path = self.libcore / relative
                text = path.read_text()
                if text.count(old) != 1:
                    raise ValueError(f"{relative}: expected one `{old.strip()[:50]}`, found {text.count(old)}")
                path.write_text(text.replace(old, new))

    def make_android_icu(self) -> None:
        with self.step("6 android.icu from Debian's ICU4J (rename + dx), the lambda desugarer",
                       "see {log}: IcuRemap, Desugar or dx failed"):
            tools = self.work / "tools"
            asm = [self.root / "usr/share/java" / name for name in ("asm.jar", "asm-commons.jar")]
            classpath = os.pathsep.join(map(str, asm))
            self.run(["javac", "-nowarn", "-d", tools, "-cp", classpath, KIT / "tools/IcuRemap.java"])
            # The lambda desugarer stays in the runtime folder: every dx of code for this runtime runs it first.
            self.run(["javac", "-nowarn", "-d", self.staging / DESUGAR_CLASSES, "-cp", classpath, KIT / "tools/Desugar.java"])
            classes = self.staging / "classes"
            classes.mkdir()
            self.run(["java", "-cp", f"{tools}{os.pathsep}{classpath}", "IcuRemap", self.root / "usr/share/java/icu4j.jar",
                      classes / "android-icu4j.jar"])
            (self.staging / "boot").mkdir()
            self.dx(self.staging / "boot/android-icu4j.jar", classes / "android-icu4j.jar", core_library=True)

    def core_sources(self) -> list[Path]:
        """The files of libcore's Soong filegroups that make core-oj + core-libart (Android.bp lists)."""
        groups: dict[str, list[str]] = {}
        for bp in ("openjdk_java_files.bp", "non_openjdk_java_files.bp", "JavaLibrary.bp"):
            text = re.sub(r"//[^\n]*", "", (self.libcore / bp).read_text())
            for block in re.finditer(r"filegroup\s*\{(.*?)\n\}", text, re.S):
                name = re.search(r'name:\s*"([^"]+)"', block.group(1))
                srcs = re.search(r"srcs:\s*\[(.*?)\]", block.group(1), re.S)
                if name:
                    groups[name.group(1)] = re.findall(r'"([^"]+)"', srcs.group(1)) if srcs else []
        files: dict[Path, None] = {}

        def expand(group: str) -> None:
            if group not in groups:
                raise ValueError(f"libcore has no filegroup {group}")
            for item in groups[group]:
                if item.startswith(":"):
                    expand(item[1:])
                elif "*" in item:
                    files.update(dict.fromkeys(sorted(self.libcore.glob(item))))
                else:
                    files[self.libcore / item] = None

        for group in ("openjdk_java_files", "non_openjdk_java_files", "timezone_host_files"):
            expand(group)
        # Java 9 language features test data; the rest is Java 8 source.
        return [path for path in files if "Java9LanguageFeatures" not in path.name]

    def compile_core(self) -> None:
        with self.step("7 javac core-oj + core-libart", "see {log}: javac failed on libcore"):
            sources = self.core_sources()
            sources += sorted((KIT / "java").rglob("*.java"))   # android.icu compat, android.os.Process stub
            listing = self.work / "core-sources.txt"
            listing.write_text("\n".join(str(path) for path in sources) + "\n")
            out = self.work / "core-classes"
            out.mkdir()
            self.run(["javac", "-J-Xmx3g", "-source", "8", "-target", "8", "-bootclasspath",
                      self.staging / "classes/android-icu4j.jar", "-XDstringConcat=inline", "-proc:none", "-nowarn",
                      "-Xlint:-options", "-encoding", "UTF-8", "-d", out, f"@{listing}"], timeout=900)
            core_jar = self.staging / "classes/core-classes.jar"   # what later Java code compiles against
            self.run(["jar", "cf", core_jar, "-C", out, "."])
            # The boot jar carries libcore's resources too (security.properties, time zone and MIME data).
            self.run(["jar", "uf", core_jar, "-C", self.libcore / "ojluni/src/main/resources", "."])
            luni = self.libcore / "luni/src/main/java"
            self.run(["jar", "uf", core_jar, "-C", luni, "java/util/logging/logging.properties", "-C", luni,
                      "java/security/security.properties", "-C", luni, "libcore/net/android.mime.types", "-C", luni,
                      "libcore/net/mime.types"])

    def dex_core(self) -> None:
        with self.step("8 dx core-libart", "see {log}: dx failed on the core classes"):
            self.dx(self.staging / "boot/core-libart.jar", self.staging / "classes/core-classes.jar", core_library=True)

    def compile_natives(self) -> None:
        """libjavacore, libopenjdk, libopenjdkjvm and libandroidio: the natives of the boot class path."""
        with self.step("9 natives (clang)", "see {log}: a native source of libcore/art did not compile"):
            lib = self.staging / "lib"
            lib.mkdir()
            self.copy_renamed_sonames(lib)
            android = self.root / "usr/lib/x86_64-linux-gnu/android"
            objects = self.work / "obj"
            native = self.libcore / "luni/src/main/native"
            ojluni = self.libcore / "ojluni/src/main/native"
            includes = [f"-I{KIT / 'native-inc'}", f"-I{self.root / 'usr/include/android'}",
                        f"-I{self.root / 'usr/include/android/nativehelper'}", f"-I{native}"]
            c_flags = ["-O2", "-fPIC", "-w", "-D_LARGEFILE64_SOURCE", "-D_GNU_SOURCE", "-DLINUX", "-D__GLIBC__"]
            cxx_flags = ["-O2", "-fPIC", "-std=gnu++17", "-w", "-Wno-invalid-partial-specialization", "-DU_DEFINE_FALSE_AND_TRUE=1", "-include", "string.h",
                         "-DU_USING_ICU_NAMESPACE=0", "-D_GNU_SOURCE"]
            # $ORIGIN: the folder is renamed after the build, so no absolute path may be linked in.
            link = ["-Wl,-rpath,$ORIGIN", f"-Wl,-rpath,$ORIGIN/../{ANDROID_LIBS}", f"-L{lib}", f"-L{android}",
                    f"-Wl,-rpath-link,{android}"]

            def compile_all(folder: str, sources: list[Path], extra: list[str]) -> list[Path]:
                (objects / folder).mkdir(parents=True)

                def one(source: Path) -> Path:
                    target = objects / folder / (source.name + ".o")
                    flags = c_flags if source.suffix == ".c" else cxx_flags
                    compiler = "clang" if source.suffix == ".c" else "clang++"
                    self.run([compiler, "-c", *flags, *extra, *includes, "-o", target, source])
                    return target

                with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                    return list(pool.map(one, sources))

            def bp_sources(bp: Path, group: str) -> list[str]:
                block = re.search(group + r"[^\[]*\[(.*?)\]", bp.read_text(), re.S)
                if block is None:
                    raise ValueError(f"{bp}: no {group}")
                return re.findall(r'"([^"]+\.cp*)"', block.group(1))

            androidio = compile_all("androidio", [native / "AsynchronousCloseMonitor.cpp"], [])
            self.run(["clang++", "-shared", "-o", lib / "libandroidio.so", *androidio, *link, "-llog"])

            javacore_sources = [native / name for name in bp_sources(native / "Android.bp", "luni_native_srcs")]
            javacore_sources.append(self.libcore / "dalvik/src/main/native/org_apache_harmony_dalvik_NativeTestTarget.cpp")
            javacore = compile_all("javacore", javacore_sources, [])
            self.run(["clang++", "-shared", "-o", lib / "libjavacore.so", *javacore, *link, "-landroidio", "-lnativehelper",
                      "-lbase", "-llog", "-lcrypto", "-lziparchive", "-licuuc", "-licui18n", "-lexpat", "-lz"])

            # libopenjdkjvm: ART 10's JVM_* layer, with the flags Debian built libart 10 with (debian/libart.mk).
            art = self.art
            generated = self.work / "artgen"
            generated.mkdir()
            art_flags = [
                "-DART_BASE_ADDRESS_MAX_DELTA=0x1000000", "-DART_BASE_ADDRESS_MIN_DELTA=-0x1000000", "-DART_BASE_ADDRESS=0x60000000",
                "-DART_DEFAULT_COMPACT_DEX_LEVEL=fast", "-DART_DEFAULT_GC_TYPE_IS_CMS", "-DART_ENABLE_ADDRESS_SANITIZER=1",
                "-DART_ENABLE_CODEGEN_x86_64", "-DART_FRAME_SIZE_LIMIT=1736", "-DART_READ_BARRIER_TYPE_IS_BAKER=1",
                *[f"-DART_STACK_OVERFLOW_GAP_{arch}={gap}" for arch, gap in
                  (("arm", 8192), ("arm64", 8192), ("mips", 16384), ("mips64", 16384), ("x86_64", 8192), ("x86", 8192))],
                "-DART_USE_READ_BARRIER=1", "-DIMT_SIZE=43", "-DUSE_D8_DESUGAR=1", "-D__STDC_FORMAT_MACROS",
                "-D__STDC_CONSTANT_MACROS",
                *[f"-I{art / sub}" for sub in ("", "cmdline", "runtime", "libartbase", "libartbase/arch", "libartpalette/include",
                                               "libdexfile", "libdexfile/external/include", "libelffile", "libprofile",
                                               "sigchainlib", "tools/cpp-define-generator")],
                f"-I{generated}", f"-I{self.work / 'jvmh/a/b'}", f"-I{self.root / 'usr/include/android'}",
                f"-I{self.root / 'usr/include/android/nativehelper'}"]
            # OpenjdkJvm.cc includes "../../libcore/ojluni/src/main/native/jvm.h" relative to an include dir.
            (self.work / "jvmh/a/b").mkdir(parents=True)
            (self.work / "jvmh/libcore").symlink_to(self.libcore)
            self.run(["clang++", "-std=gnu++17", "-w", "-fno-rtti", *art_flags, "-S", "-o", generated / "asm_defines.output",
                      "tools/cpp-define-generator/asm_defines.cc"], cwd=art)
            header = self.run(["python3", art / "tools/cpp-define-generator/make_header.py", generated / "asm_defines.output"])
            (generated / "asm_defines.h").write_text(header)
            jvm_object = objects / "OpenjdkJvm.o"
            self.run(["clang++", "-c", "-O2", "-fPIC", "-std=gnu++17", "-w", "-fno-rtti", "-fvisibility=protected",
                      "-fno-omit-frame-pointer", "-include", KIT / "isnan.h", *art_flags, "-o", jvm_object,
                      art / "openjdkjvm/OpenjdkJvm.cc"])
            self.run(["clang++", "-shared", "-o", lib / "libopenjdkjvm.so", jvm_object, *link, "-l:libart.so", "-lbase",
                      "-llog", "-lnativehelper"])

            openjdk_sources = [ojluni / name for name in bp_sources(ojluni / "Android.bp", "libopenjdk_native_srcs")
                               if name != "StrictMath.c"]   # fdlibm is not packaged; StrictMath's natives stay unregistered
            openjdk = compile_all("openjdk", [*openjdk_sources, KIT / "strictmath_stub.cpp"], [f"-I{ojluni}"])
            self.run(["clang++", "-shared", "-o", lib / "libopenjdk.so", *openjdk, *link, "-lopenjdkjvm", "-landroidio",
                      "-lnativehelper", "-lbase", "-llog", "-lcrypto", "-licuuc", "-lz"])

    def copy_renamed_sonames(self, lib: Path) -> None:
        """libart and libnativehelper under the exact file names looked for: frida-java-bridge finds the
        runtime as "libart.so", ART 10 CHECKs that a loaded object ends in "libnativehelper.so"."""
        android = self.root / "usr/lib/x86_64-linux-gnu/android"
        for name in ("libart.so", "libnativehelper.so"):
            data = (android / f"{name}.0").read_bytes()
            old, new = name.encode() + b".0\0", name.encode() + b"\0\0\0"
            if data.count(old) != 1:
                raise ValueError(f"{name}.0: SONAME found {data.count(old)} times")
            (lib / name).write_bytes(data.replace(old, new))

    def link_launcher(self) -> None:
        with self.step("10 launcher + shims (clang)", "see {log}: the launcher or a shim did not link"):
            lib = self.staging / "lib"
            android = self.root / "usr/lib/x86_64-linux-gnu/android"
            helper_headers = f"-I{self.root / 'usr/include/android/nativehelper'}"
            (self.staging / "bin").mkdir()
            (self.staging / "shim").mkdir()   # a folder of its own: the shim is named libc.so
            self.run(["clang", "-O2", "-fPIC", "-shared", "-Wl,-soname,libc.so", "-o", self.staging / "shim/libc.so",
                      KIT / "libcshim.c", "-ldl"])
            self.run(["clang", "-O2", "-fPIC", "-shared", helper_headers, "-o", lib / "libandroid_runtime.so",
                      KIT / "android_runtime.c"])
            # libsigchain must come before libc in the lookup order (as dalvikvm links it on a device); the
            # shim comes after glibc, so glibc keeps answering everything but what only the shim has.
            # libandroid_runtime is mapped from the start, as zygote has it on a phone: the Java bridge
            # looks for it when it first probes ART, which an agent armed at spawn does as the VM is created.
            self.run(["clang", "-O2", helper_headers, "-o", self.staging / "bin/dalvikvm", KIT / "dalvikvm.c",
                      "-Wl,-rpath,$ORIGIN/../lib", f"-Wl,-rpath,$ORIGIN/../{ANDROID_LIBS}", "-Wl,-rpath,$ORIGIN/../shim",
                      f"-L{lib}", f"-L{android}", f"-Wl,-rpath-link,{android}", "-Wl,--no-as-needed", "-lsigchain",
                      "-l:libart.so", "-ldl", "-lc", self.staging / "shim/libc.so", "-l:libandroid_runtime.so"])

    def smoke_test(self) -> None:
        with self.step("11 run a program on the new runtime", "see {log}: the runtime did not start"):
            classes = self.work / "hello"
            self.run(["javac", "-source", "8", "-target", "8", "-Xlint:-options", "-bootclasspath",
                      self.staging / "classes/core-classes.jar", "-d", classes, KIT / "Hello.java"])
            self.dx(self.work / "hello.jar", classes)
            runtime = HostArt(self.staging)
            data = self.work / "android-data"
            output = self.run(runtime.command("Hello", classpath=[self.work / "hello.jar"]),
                              env=runtime.environment(data), timeout=120)
            if SMOKE_LINE not in output:
                raise ValueError(f"the program did not print {SMOKE_LINE!r}")

    def commit(self) -> None:
        with self.step("12 keep the runtime", "see {log}"):
            shutil.rmtree(self.work)
            (self.staging / "runtime.json").write_text(json.dumps({
                "runtime": "art", "android": "10", "api_level": 29, "suite": SUITE,
                "packages": dict(BINARY_PACKAGES), "sources": dict(SOURCE_PACKAGES), "key": self.home.name,
                "step_seconds": self.timings, "built_seconds": round(time.monotonic() - self.started, 1),
            }, indent=2))
            shutil.move(str(self.log_file), self.staging / "build.log")
            self.logs.rmdir()
            self.staging.rename(self.home)   # atomic: the folder appears complete or not at all
            self.failure_log.unlink(missing_ok=True)

    def keep_failure_log(self) -> None:
        if self.log_file.exists():
            shutil.copyfile(self.log_file, self.failure_log)


def ensure_runtime(*, cache: Path | None = None, force: bool = False,
                   progress: Callable[[str], None] | None = None) -> Path:
    """The folder of a complete ART 10 runtime for the current inputs, built if there is none."""
    home = runtime_dir(cache=cache)
    if (home / "runtime.json").exists() and not force:
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one builder at a time; the others then find it built
        if (home / "runtime.json").exists() and not force:
            return home
        for stale in home.parent.glob(".staging-*"):   # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        if force and home.exists():
            shutil.rmtree(home)
        builder = Builder(home=home, downloads=home.parent / "downloads")
        if progress is not None:
            builder.progress = progress
        return builder.build()


def main() -> None:
    parser = argparse.ArgumentParser(description="Build (or find) consentmon's host ART 10 runtime.")
    parser.add_argument("--force", action="store_true", help="rebuild even if a runtime for these inputs exists")
    arguments = parser.parse_args()
    started = time.monotonic()
    try:
        home = ensure_runtime(force=arguments.force)
    except BuildError as error:
        print(error, file=sys.stderr)
        sys.exit(2 if isinstance(error, RegistryUnreachable) else 1)
    print(f"{home}  ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))   # tests/, for `support.art`
    main()
