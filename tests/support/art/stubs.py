"""The catalogue's stub program (support.stubgen) laid out as on a phone for host ART: the stub framework
(android.*, com.android.*) in a jar on the boot class path, where framework.jar is; the exerciser and the
stub SDKs (com.google…, com.tencent…, okhttp3…) in the app's dex on the class path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from monitor.data.models import Catalogue
from monitor.hostart import HostArt, is_framework

from support.art.build import BuildError
from support.art.dex import DexBuild, dex_jar
from support.stubgen import EXERCISER, STUB_PACKAGE, Call, generate

# The stubs' helpers, called by the framework stubs themselves: they go with the framework (a boot class
# cannot see the app's classes).
_BOOT_HELPERS = tuple(f"{STUB_PACKAGE.replace('.', '/')}/{name}.java" for name in ("Mode", "Step", "Item"))

# stubgen writes a few Java 9+ expressions. Android 10's core library has no List.of/Map.of (API 30), and
# ART runs no lambda (a phone's apps come desugared by d8; Debian packages dx, which does not desugar):
# the same values, written as Java 8.
_JAVA8 = {
    'java.util.Map.of("k", "v")': 'java.util.Collections.singletonMap("k", "v")',
    'java.util.List.of("a")': 'java.util.Collections.singletonList("a")',
    "(java.util.concurrent.Executor) java.lang.Runnable::run":
        "new java.util.concurrent.Executor() { public void execute(java.lang.Runnable task) { task.run(); } }",
    "(java.util.function.Consumer<java.lang.Object>) value -> { }":
        "new java.util.function.Consumer<java.lang.Object>() { public void accept(java.lang.Object value) { } }",
}
_NOT_ON_ANDROID_10 = re.compile(r"\b(?:List|Map|Set)\.of\(|::|\w\s*->\s*[{\w]")


@dataclass(frozen=True)
class StubProgram:
    framework: DexBuild     # boot class path
    app: DexBuild           # class path
    calls: list[Call]       # what the exerciser calls, in order, with the event each call must produce
    main: str = EXERCISER


def for_android10(files: dict[str, str]) -> dict[str, str]:
    """stubgen's sources with its Java 9+ expressions written as Java 8; BuildError if one is left."""
    converted = {}
    for name, text in files.items():
        for modern, java8 in _JAVA8.items():
            text = text.replace(modern, java8)
        left = _NOT_ON_ANDROID_10.search(text)
        if left is not None:
            raise BuildError("stub program for ART", f"{name} uses `{left.group(0)}`, which Android 10 cannot run",
                             "write it as Java 8 in tests/support/stubgen, or add it to _JAVA8 in tests/support/art/stubs.py")
        converted[name] = text
    return converted


def stub_program(runtime: HostArt, catalogue: Catalogue, *, cache: Path | None = None) -> StubProgram:
    files, calls = generate(catalogue)
    files = for_android10(files)
    boot = {name: text for name, text in files.items() if is_framework(name) or name in _BOOT_HELPERS}
    app = {name: text for name, text in files.items() if name not in boot}
    framework = dex_jar(runtime, boot, name="stub-framework", cache=cache)
    return StubProgram(framework=framework, app=dex_jar(runtime, app, name="stub-app", classpath=[framework.classes],
                                                        cache=cache), calls=calls)
