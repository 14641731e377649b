"""The built-in demo on Android's own runtime (host ART 10, tests/support/art) beside HotSpot: `consentmon demo
--runtime art` records the same story — hooks armed before main's first statement (libart's JNI_CreateJavaVM
return), the 同意 click as the consent moment, SDK attribution from ART's stacks, connects and flows through the
capture proxy (the stand-in okhttp's sockets), native side channels in the ART process — and its findings'
rules and subjects equal the HotSpot run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.hostart import HostArt

pytestmark = [pytest.mark.e2e, pytest.mark.frida, pytest.mark.proxy]


def _demo(out: Path, *extra: str) -> dict:
    env = dict(os.environ, COLUMNS="200")
    result = subprocess.run([sys.executable, "-m", "monitor", "demo", "--out", str(out), "--consent", "agree", *extra],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "report:" in result.stdout and "Traceback" not in result.stderr, result.stdout + result.stderr
    return json.loads((out / "findings.json").read_text())


def _cases(findings: dict) -> set[tuple[str, str, str | None]]:
    return {(case["rule"], case["subject"]["kind"], case["subject"]["id"] or case["subject"].get("package")) for case in findings["cases"]}


def _events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]


def test_the_demo_on_art_tells_the_hotspot_story(art10: HostArt, tmp_path: Path) -> None:
    hotspot = _demo(tmp_path / "hotspot")
    art = _demo(tmp_path / "art", "--runtime", "art", "--art-root", str(art10.home))

    # The same cases, rule × subject, on both runtimes (and not an empty story).
    assert _cases(art) == _cases(hotspot)
    assert {"before-consent", "third-party-transfer", "sdk-connects-before-consent", "undisclosed-sdk",
            "beyond-scope"} <= {rule for rule, _, _ in _cases(art)}

    # run.json and findings.json's `run` name the runtime, its version and the agent bundle's variant.
    run_info = json.loads((tmp_path / "art" / "run.json").read_text())
    assert art["run"]["runtime"]["name"] == run_info["runtime"]["name"] == "art"
    assert run_info["runtime"]["version"].startswith("Android 10 (API 29), android-libart ")
    assert run_info["agent"]["variant"] == "host-art" and hotspot["run"]["agent"]["variant"] == "phone"
    assert hotspot["run"]["runtime"]["name"] == "hotspot" and hotspot["run"]["runtime"]["version"]

    events = _events(tmp_path / "art")
    hooks = [event for event in events if event["source"] == "hook"]
    # Armed before the app's first instruction: main's first statement reads the Android ID.
    first = [event for event in hooks if event["api"] == "android.provider.Settings$Secure.getString"]
    assert first and first[0]["stack"][0].startswith("com.example.demo.DemoApp.main(DemoApp.java:")
    assert min(event["seq"] for event in first) < min(event["seq"] for event in hooks if event.get("kind") == "connect")
    # The 同意 click is the consent moment, as on HotSpot.
    assert art["consent"]["decided_by"] == hotspot["consent"]["decided_by"] == "click"
    assert art["consent"]["final_state"] == "accepted"
    # Connects: the stand-in okhttp's Socket.connect to the capture proxy, with the SDK's frames on the stack;
    # URL.openConnection fires as on a phone (Android's URL loads com.android.okhttp's handler by name).
    apis = {event["api"] for event in hooks if event.get("kind") == "connect"}
    assert {"java.net.Socket.connect", "java.net.URL.openConnection"} <= apis, apis
    umeng = [event for event in hooks if event["api"] == "java.net.Socket.connect"
             and any(frame.startswith("com.umeng.") for frame in event["stack"])]
    assert umeng, "Umeng's upload connects from its own frames"
    # The flows went through the capture proxy, as the https requests the app made.
    hosts = {json.loads(line)["host"] for line in (tmp_path / "art" / "flows.jsonl").read_text().splitlines() if line.strip()}
    assert {"ulogs.umeng.com", "collect.adtrack-demo.cn", "demo-app.example.com", "api.demo-app.example.com"} <= hosts
    # The native side-channel hooks (libc, below the runtime) are in the ART process before it runs, none failed.
    # (The demo itself makes no native read; the runtimes' own reads are the platform's: on HotSpot libjvm's
    # /proc/cpuinfo, on ART none since its /proc/self/maps reads are not taken for probes.)
    native = [event["payload"] for event in events if event.get("kind") == "hook_status" and event["payload"].get("scope") == "native"]
    assert native and native[0]["installed"] > 0 and native[0]["failed"] == 0, native
    # Ended by ART's DestroyJavaVM as HotSpot's; "+killed" when the VM still waited after the detach for a thread
    # the bridge attached (hooks/README.md, ~3 runs in 25): every event was flushed before.
    assert art["run"]["exit_reason"] in ("target-ended", "target-ended+killed")


def test_run_host_with_an_art_launcher_command_uses_the_host_art_bundle(art10: HostArt, tmp_path: Path) -> None:
    from monitor.demo import build_demo_dex, demo_art_command

    framework, app = build_demo_dex(art10)
    argv = demo_art_command(art10, framework, app, consent="agree")
    result = subprocess.run([sys.executable, "-m", "monitor", "run", "--host", "--offline", "--app-package", "com.example.demo",
                             "--out", str(tmp_path / "run"), "--", *argv], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    run_info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_info["runtime"]["name"] == "art" and run_info["agent"]["variant"] == "host-art"
    assert run_info["exit_reason"] in ("target-ended", "target-ended+killed")   # ART's DestroyJavaVM told the host
    hooks = [event for event in _events(tmp_path / "run") if event["source"] == "hook"]
    first = [event for event in hooks if event.get("kind") == "pi_read"][0]   # main's first statement, spawned on ART
    assert first["api"] == "android.provider.Settings$Secure.getString"
    assert first["stack"][0].startswith("com.example.demo.DemoApp.main(DemoApp.java:")
    assert any(event.get("kind") == "click" for event in hooks)


def test_a_refusal_on_art_is_the_same_case_list_as_on_hotspot(art10: HostArt, tmp_path: Path) -> None:
    def refused(out: Path, *extra: str) -> dict:
        result = subprocess.run([sys.executable, "-m", "monitor", "demo", "--out", str(out), "--consent", "refuse", *extra],
                                capture_output=True, text=True, timeout=300, env=dict(os.environ, COLUMNS="200"))
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads((out / "findings.json").read_text())

    hotspot, art = refused(tmp_path / "hotspot"), refused(tmp_path / "art", "--runtime", "art", "--art-root", str(art10.home))
    assert _cases(art) == _cases(hotspot)
    assert ("after-refusal", "sdk", "umeng") in _cases(art)
    assert art["consent"]["final_state"] == hotspot["consent"]["final_state"] == "refused"
