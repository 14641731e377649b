"""The built-in demo: an app compiled with javac from the Java sources shipped in the package (app/src).

It is built into a cache folder keyed by the sources' hash, so an edited source is always recompiled
and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from monitor.cache import cache_root
from monitor.errors import TargetError
from monitor.hostart import DX_MIN_SDK, HostArt, cache_folder, is_framework

DEMO_SOURCES = Path(__file__).resolve().parent / "app" / "src"
DEMO_MAIN = "com.example.demo.DemoApp"
DEMO_PACKAGE = "com.example.demo"
DEMO_APP_DOMAINS = ["demo-app.example.com"]
# The demo's own web pages (its privacy policy with the third-party SDK list, its user agreement), answered by
# the capture proxy from these files as a server would: the app's WebView loads them through the proxy.
DEMO_PAGES = Path(__file__).resolve().parent / "policy"
DEMO_SITE = "https://demo-app.example.com/"


def demo_local_answers() -> list[str]:
    """mitmproxy map_local specs serving DEMO_PAGES at DEMO_SITE (page name → file)."""
    pages = sorted(DEMO_PAGES.glob("*.html"))
    if not pages:
        raise TargetError(f"no demo pages under {DEMO_PAGES}", hint="reinstall consentmon")
    return [f"|^{re.escape(DEMO_SITE + page.name)}$|{page}" for page in pages]


def build_demo_app(cache: Path | None = None) -> Path:
    """Compile the demo app (if needed) and return its classes directory."""
    sources = sorted(DEMO_SOURCES.rglob("*.java"))
    if not sources:
        raise TargetError(f"no demo app sources under {DEMO_SOURCES}", hint="reinstall consentmon")
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.relative_to(DEMO_SOURCES).as_posix().encode() + b"\0" + source.read_bytes())
    classes = (cache or cache_root()) / "demoapp" / digest.hexdigest()[:16]
    if (classes / ".complete").exists():
        return classes
    javac = shutil.which("javac")
    if javac is None:
        raise TargetError("javac is not on PATH; the demo app is a small Java program",
                          hint="install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`")
    staging = classes.with_name(classes.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = subprocess.run([javac, "-encoding", "UTF-8", "-nowarn", "-d", str(staging), *map(str, sources)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise TargetError(f"javac failed on the demo app:\n{result.stderr.strip()}")
    (staging / ".complete").write_text(digest.hexdigest())
    shutil.rmtree(classes, ignore_errors=True)
    staging.rename(classes)
    return classes


def demo_command(classes: Path, *, consent: str | None = "agree", pause_ms: int = 300) -> list[str]:
    """The command line of the demo. consent None: the demo waits for a scenario on its control channel."""
    java = shutil.which("java")
    if java is None:
        raise TargetError("java is not on PATH", hint="install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`")
    decided = ["--consent", consent] if consent is not None else []
    return [java, "-cp", str(classes), DEMO_MAIN, *decided, "--pause-ms", str(pause_ms)]


# ---- the demo on Android's own runtime (host ART 10, built by `python tests/support/art/build.py`) ----------
ART_ROOT_ENV = "CONSENTMON_ART_ROOT"


def find_art_runtime(root: Path | None = None) -> HostArt:
    """The host ART runtime: `root` (--art-root), else $CONSENTMON_ART_ROOT, else the newest one built into
    the cache (<cache>/art10/<key>/). consentmon does not build it: `python tests/support/art/build.py` does."""
    hint = "build one with `python tests/support/art/build.py` (Debian's registry, ~6 min cold), or give --art-root DIR"
    given = root or (Path(os.environ[ART_ROOT_ENV]) if os.environ.get(ART_ROOT_ENV) else None)
    if given is not None:
        art = HostArt(Path(given).expanduser().resolve())
        if not art.complete:
            raise TargetError(f"{art.home} is not a host ART runtime (no runtime.json or bin/dalvikvm)", hint=hint)
        return art
    newest = HostArt.newest_built()
    if newest is None:
        raise TargetError(f"no host ART runtime in {cache_folder()}", hint=hint)
    return newest


def build_demo_dex(art: HostArt, cache: Path | None = None) -> tuple[Path, Path]:
    """The demo compiled as Java 8 against Android 10's core library and dexed: (framework jar for the boot
    class path, app jar for the class path). The framework jar holds what a phone's framework.jar does: the stub
    framework, and the stand-in for Android's okhttp that host ART's java.net.URL loads by name. Cached by the
    sources' and the runtime's hash."""
    sources = sorted(DEMO_SOURCES.rglob("*.java"))
    digest = hashlib.sha256(art.home.name.encode() + b"\0" + DX_MIN_SDK.encode())
    for source in sources:
        digest.update(source.relative_to(DEMO_SOURCES).as_posix().encode() + b"\0" + source.read_bytes())
    home = (cache or cache_root()) / "demoapp-art" / digest.hexdigest()[:16]
    framework, app = home / "framework.jar", home / "app.jar"
    if (home / ".complete").exists():
        return framework, app
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            raise TargetError(f"{tool} is not on PATH; the ART demo is compiled with the JDK and dexed with dx",
                              hint="install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`")
    staging = home.with_name(home.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    classes = staging / "classes"
    classes.mkdir(parents=True)
    _tool("javac (Java 8, against Android 10's core library)", art.javac_command(classes, sources))
    for jar, framework_part in ((framework, True), (app, False)):
        files = sorted(path.relative_to(classes).as_posix() for path in classes.rglob("*.class")
                       if is_framework(path.relative_to(classes).as_posix()) == framework_part)
        class_jar = staging / f"{jar.stem}-classes.jar"
        with zipfile.ZipFile(class_jar, "w") as archive:
            for name in files:
                archive.write(classes / name, name)
        _tool(f"dx {jar.stem}", art.dx_command(staging / jar.name, class_jar, heap="1g"))
    shutil.rmtree(classes)
    (staging / ".complete").write_text(digest.hexdigest())
    shutil.rmtree(home, ignore_errors=True)
    staging.rename(home)
    return framework, app


def _tool(step: str, command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        detail = " | ".join(line.strip() for line in (result.stdout + result.stderr).strip().splitlines()[:4])
        raise TargetError(f"the ART demo build failed at {step}: {detail[:600]}")


def demo_art_command(art: HostArt, framework: Path, app: Path, *, consent: str | None = "agree",
                     pause_ms: int = 300) -> list[str]:
    """The demo on host ART: Android 10's core library and the stub framework on the boot class path (where a
    phone has framework.jar), the app's dex on the class path."""
    decided = ["--consent", consent] if consent is not None else []
    return art.command(DEMO_MAIN, classpath=[app], boot=[framework], args=[*decided, "--pause-ms", str(pause_ms)])
