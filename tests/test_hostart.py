"""monitor.hostart, the one place that says how host ART 10 runs (the runner, the demo, the test rig and the
benchmarks build on it): its command line, environment, recognition and run.json description, on a fake
runtime folder (no runtime is built here; tests/art runs the real one)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from monitor.demo import DEMO_MAIN, demo_art_command, find_art_runtime
from monitor.errors import TargetError
from monitor.hostart import GATE_ENV, HostArt, art_environment, is_art_command
from monitor.runner.host import target_runtime


@pytest.fixture
def art(tmp_path: Path) -> HostArt:
    home = tmp_path / "art10" / "key"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "dalvikvm").write_text("")
    (home / "runtime.json").write_text(json.dumps({"runtime": "art", "android": "10", "api_level": 29,
                                                   "packages": {"android-libart": "10.0.0+r36-3"}}))
    return HostArt(home)


def test_the_command_line_runs_from_the_jars_in_the_interpreter(art: HostArt) -> None:
    h = str(art.home)
    boot = f"{h}/boot/core-libart.jar:{h}/boot/android-icu4j.jar:/fw.jar"
    assert art.command("a.Main", classpath=[Path("/a.jar"), Path("/b.jar")], boot=[Path("/fw.jar")], args=["x"],
                       options=["-Xcheck:jni"]) == [
        f"{h}/bin/dalvikvm", f"-Xbootclasspath:{boot}", f"-Xbootclasspath-locations:{boot}",
        "-Ximage:/nonexistent/boot.art", "-Xnoimage-dex2oat", "-Xint", "-Xcheck:jni", "-cp", "/a.jar:/b.jar", "a.Main", "x"]
    # The demo is the same command line: its stub framework on the boot class path, the app on the class path.
    assert demo_art_command(art, Path("/fw.jar"), Path("/app.jar"), consent=None, pause_ms=7) == art.command(
        DEMO_MAIN, classpath=[Path("/app.jar")], boot=[Path("/fw.jar")], args=["--pause-ms", "7"])


def test_the_environment_names_the_libraries_and_writable_android_folders(art: HostArt, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GATE_ENV, "/stale")
    data = tmp_path / "run"
    env = art.environment(data)
    h = str(art.home)
    assert env["LD_LIBRARY_PATH"] == f"{h}/lib:{h}/root/usr/lib/x86_64-linux-gnu/android"
    assert {name: env[name] for name in ("ANDROID_ROOT", "ANDROID_RUNTIME_ROOT", "ANDROID_ART_ROOT", "ANDROID_I18N_ROOT")} == dict.fromkeys(
        ("ANDROID_ROOT", "ANDROID_RUNTIME_ROOT", "ANDROID_ART_ROOT", "ANDROID_I18N_ROOT"), str(data / "root"))
    assert env["ANDROID_DATA"] == str(data / "data") and env["ANDROID_TZDATA_ROOT"] == str(data / "tz")
    assert GATE_ENV not in env and env["PATH"] == os.environ["PATH"]
    assert all((data / folder).is_dir() for folder in ("root/etc", "data/dalvik-cache/x86_64", "tz"))
    assert art.environment(data, gate=Path("/fifo"))[GATE_ENV] == "/fifo"


def test_a_launcher_command_is_recognised_and_described_from_its_folder(art: HostArt, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    argv = art.command("a.Main", classpath=[Path("/a.jar")])
    assert is_art_command(argv) and is_art_command(["/x/dalvikvm64"]) and not is_art_command(["/usr/bin/java"])
    described = {"name": "art", "version": "Android 10 (API 29), android-libart 10.0.0+r36-3", "home": str(art.home)}
    assert target_runtime(argv, True) == art.runtime() == described
    assert target_runtime(["/nowhere/bin/dalvikvm"], True) == {"name": "art", "version": "unknown", "home": "/nowhere"}
    # `run --host -- …/bin/dalvikvm`: the runtime's variables filled in, unless the caller set them or there is no runtime.
    monkeypatch.delenv("ANDROID_DATA", raising=False)
    added = art_environment(argv, tmp_path / "scratch")
    assert added == {name: value for name, value in art.environment(tmp_path / "scratch").items()
                     if name == "LD_LIBRARY_PATH" or name.startswith("ANDROID_")}
    assert art_environment(["/nowhere/bin/dalvikvm"], tmp_path / "other") == {}
    monkeypatch.setenv("ANDROID_DATA", "/given")
    assert art_environment(argv, tmp_path / "given") == {}


def test_the_demo_finds_the_runtime_given_or_the_newest_built(art: HostArt, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENTMON_ART_ROOT", raising=False)
    monkeypatch.setenv("CONSENTMON_CACHE", str(tmp_path / "cache"))
    with pytest.raises(TargetError, match="no host ART runtime in"):
        find_art_runtime()
    assert find_art_runtime(art.home) == art
    with pytest.raises(TargetError, match="is not a host ART runtime"):
        find_art_runtime(tmp_path)
    monkeypatch.setenv("CONSENTMON_CACHE", str(tmp_path))   # <cache>/consentmon/art10/<key>/
    built = HostArt(tmp_path / "consentmon" / "art10" / "built")
    (built.home / "bin").mkdir(parents=True)
    built.launcher.write_text("")
    (built.home / "runtime.json").write_text("{}")
    assert find_art_runtime() == built
