"""The host ART build (tests/support/art/build.py): cached by its inputs, never kept half-built, one line
per failure, skipped where the registry cannot be reached."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from monitor.hostart import HostArt

from support.art import build
from support.art.build import Builder, BuildError, RegistryUnreachable, ensure_runtime, input_key, runtime_dir
from support.art.dex import dex_jar

pytestmark = pytest.mark.timeout(900)   # the first test may build the runtime (about 70 s here, ≤ 6 min)


def test_a_built_runtime_is_found_again_within_five_seconds(art10: HostArt) -> None:
    started = time.monotonic()
    home = ensure_runtime()
    assert time.monotonic() - started < 5
    assert home == art10.home == runtime_dir()
    info = art10.info
    assert info["packages"]["android-libart"] == "10.0.0+r36-3" and info["api_level"] == 29
    assert not list(home.parent.glob(f".staging-{home.name}-*"))


def test_the_cache_key_covers_package_versions_and_build_files(monkeypatch: pytest.MonkeyPatch) -> None:
    key = input_key()
    monkeypatch.setattr(build, "BINARY_PACKAGES", (*build.BINARY_PACKAGES[:-1], ("p7zip-full", "16.02+dfsg-9")))
    assert input_key() != key
    monkeypatch.undo()
    monkeypatch.setattr(build, "KIT", build.KIT.parent / "no-kit")   # the kit's files are inputs
    assert input_key() != key


def test_a_program_runs_on_androids_runtime_with_the_framework_on_the_boot_class_path(art10: HostArt, tmp_path: Path) -> None:
    framework = dex_jar(art10, {"android/os/BootProbe.java": "package android.os;\n"
                                "public final class BootProbe { public static String where() {\n"
                                "  return BootProbe.class.getClassLoader().getClass().getName(); } }\n"}, name="boot-probe")
    app = dex_jar(art10, {"Main.java": "public class Main { public static void main(String[] a) {\n"
                          "  System.out.println(System.getProperty(\"java.vm.name\") + \" \" + System.getProperty(\"java.vm.version\"));\n"
                          "  System.out.println(\"framework: \" + android.os.BootProbe.where());\n"
                          "  System.out.println(\"app: \" + Main.class.getClassLoader().getClass().getName()); } }\n"},
                  name="main-probe", classpath=[framework.classes])
    result = subprocess.run(art10.command("Main", classpath=[app.dex], boot=[framework.dex]),
                            env=art10.environment(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "Dalvik 2.1.0"   # ART reports itself as Dalvik 2.x, as on a phone
    # As on a phone: framework classes come from the boot class loader, the app's from a PathClassLoader.
    assert lines[1:] == ["framework: java.lang.BootClassLoader", "app: dalvik.system.PathClassLoader"]


def test_an_unreachable_registry_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "ARCHIVE", "http://127.0.0.1:9/debian")   # loopback, nothing listens
    home = tmp_path / "art10" / "somekey"
    with pytest.raises(RegistryUnreachable) as raised:
        Builder(home=home, downloads=tmp_path / "art10" / "downloads", progress=lambda line: None).build()
    message = str(raised.value)
    assert "\n" not in message and "step '2 private apt configuration + update' failed" in message and "fix:" in message
    assert not home.exists() and not list(home.parent.glob(".staging-*"))


def test_a_failed_step_names_itself_and_its_fix_and_keeps_no_runtime(art10: HostArt, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A source version the registry does not have: the build stops at step 4, after real work was done.
    monkeypatch.setattr(build, "SOURCE_PACKAGES", (("android-platform-libcore", "10.0.0+r36-99"),))
    home = tmp_path / "art10" / "brokenkey"
    builder = Builder(home=home, downloads=art10.home.parent / "downloads", progress=lambda line: None)
    with pytest.raises(BuildError) as raised:
        builder.build()
    if isinstance(raised.value, RegistryUnreachable):
        pytest.skip(f"Debian's registry is unreachable: {raised.value.reason}")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("ART 10 build, step '4 apt-get source libcore + art' failed:")
    assert "fix:" in message
    assert not home.exists() and not list(home.parent.glob(".staging-*"))
    assert (home.parent / f"failed-{home.name}.log").exists()   # the whole log is kept beside, for the fix
