"""The built-in demo: an app compiled with javac from the Java sources shipped in the package (app/src).

It is built into a cache folder keyed by the sources' hash, so an edited source is always recompiled
and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from monitor.cache import cache_root
from monitor.errors import TargetError

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
