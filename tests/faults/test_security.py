"""Security of a run: what listens is on loopback only (checked by connecting from this host's own
non-loopback address), evidence is its owner's only (0700 / 0600), no PI value reaches the console, a
scenario cannot write outside its run, a frida-server the run started is loopback-bound and stopped, and a
run directory from elsewhere cannot make analyze/report write outside it."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from faults.faultkit import consentmon, demo_argv, kill_if_alive, output_of, start_host_run, target_pid, wait_for
from monitor.errors import DataFileError, RunDirError

ROOT = Path(__file__).resolve().parents[2]


def _non_loopback_address() -> str | None:
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if not address.startswith("127."):
            return address
    return None


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket `pid` has listening (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            hex_address, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_address)
            if width == 8:
                address = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                address = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            found.append((address, int(hex_port, 16)))
    return found


def _refused_from(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        probe.bind((address, 0))
        try:
            probe.connect((address, port))
        except (ConnectionRefusedError, TimeoutError, OSError):
            return True
    return False


@pytest.mark.frida
@pytest.mark.proxy
def test_the_proxy_and_the_control_channel_listen_on_loopback_only(tmp_path):
    outside = _non_loopback_address()
    if outside is None:
        pytest.skip("this host has no non-loopback IPv4 address to connect from")
    scenario = tmp_path / "hold.yaml"
    scenario.write_text("name: hold\nsteps:\n  - launch\n  - wait: 3\n  - consent: accept\n  - wait: 60\n")
    out = tmp_path / "run"
    process = start_host_run(out, demo_argv(consent=None), extra=["--scenario", str(scenario)])
    pid = None
    try:
        # The scenario has tapped 同意 through the control channel: both the proxy and the channel are up.
        wait_for(lambda: b'"kind":"click"' in (out / "events.jsonl").read_bytes() if (out / "events.jsonl").exists() else False,
                 60, "the consent tap through the control channel")
        pid = target_pid(out)
        sockets = _listening(process.pid) + _listening(pid)
        ports = {port for _, port in sockets}
        assert len(ports) >= 2, sockets                                 # the capture proxy, the demo's control server
        for address, port in sockets:
            assert address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"), f"{address}:{port} is reachable from outside this host"
            assert _refused_from(outside, port), f"port {port} answered on {outside}"
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass                                                    # and it is really there, on loopback
        # Run directories: the owner's only, from the first file on.
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        for name in ("events.jsonl", "run.json", "flows.spool"):
            assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0, output_of(out)
        for path in [out, *out.rglob("*")]:
            expected = 0o700 if path.is_dir() else 0o600
            assert stat.S_IMODE(path.lstat().st_mode) == expected, path
        # No PI value the run recorded reaches the console of run, analyze, verify or report.
        values = _pi_values(out)
        assert len(values) >= 3
        said = output_of(out)
        for command in (["analyze", str(out)], ["verify", str(out)], ["report", str(out), "--format", "json"]):
            said += consentmon(*command).stdout
        leaked = [value for value in values if value in said]
        assert not leaked, f"PI values printed: {leaked}"
    finally:
        process.kill()
        kill_if_alive(pid)


def _pi_values(out: Path) -> set[str]:
    import json

    values = set()
    for line in (out / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["kind"] == "pi_read" and event.get("value") and len(event["value"]) >= 6:
            values.add(event["value"])
    return values


def test_scenario_screen_names_cannot_leave_the_run(tmp_path):
    from monitor.scenario.model import load_scenario
    from monitor.store.files import ScreenFolder

    folder = ScreenFolder(tmp_path / "run" / "screens")
    for name in ("../escape.png", "/etc/passwd", "a/b.png", "..", ".", "x\x00y", "screens/../../x", "", "..\\x"):
        with pytest.raises(RunDirError):
            folder.path(name)
    for label in ("../../escape", "/tmp/x", "a/b"):
        path = tmp_path / f"{abs(hash(label))}.yaml"
        path.write_text(f"name: x\nsteps:\n  - launch\n  - screenshot: {label!r}\n")
        with pytest.raises(DataFileError) as error:
            load_scenario(path)
        assert f"{path}:4" in error.value.message
    assert sorted(p.name for p in tmp_path.rglob("*") if p.suffix != ".yaml") == []


def test_a_frida_server_the_run_started_listens_on_loopback_and_is_stopped(make_sim, mitm_ca, frida_server_file):
    from monitor.device.adb import AndroidDevice
    from monitor.device.session import DeviceSession, SetupOptions

    sim = make_sim(14)
    before = sim.state.snapshot()
    with DeviceSession(AndroidDevice(sim.serial)) as session:
        session.setup(SetupOptions(proxy_port=8080, ca_cert=mitm_ca, frida_server=frida_server_file))
        [pid] = sim.state.pids_named("frida-server")
        command = sim.state.processes[pid].cmdline
        started = [change for change in session.journal.changes if change["kind"] == "process"]
        assert started and "frida-server" in command, "the run started frida-server (journalled)"
        # frida-server's default listen address is 127.0.0.1:27042; the run never passes --listen/-l.
        words = command.split()
        assert "-D" in words and "-l" not in words and not any(word.startswith("--listen") for word in words), command
    assert sim.state.pids_named("frida-server") == []
    assert sim.state.snapshot() == before


def _sealed_run(tmp_path: Path) -> Path:
    from monitor.store.writer import RunWriter

    out = tmp_path / "untrusted"
    with RunWriter(out, run_info={"target": {"kind": "host"}, "app": {"package": "com.example.demo", "domains": []}}) as writer:
        for seq in range(5):
            writer.append({"source": "hook", "kind": "pi_read", "ts": 1_700_000_000_000_000_000 + seq, "pid": 1,
                           "category": "device_id", "api": "android.telephony.TelephonyManager.getDeviceId",
                           "value": "867530912345675", "stack": ["com.umeng.A.b(A.java:1)"], "process": "com.example.demo"})
    return out


def test_analyze_and_report_never_write_through_links_planted_in_a_run(tmp_path):
    run = _sealed_run(tmp_path)
    victims = {name: tmp_path / f"victim-{name}" for name in ("findings.json", "findings.json.tmp", "report.html")}
    for name, victim in victims.items():
        victim.write_text("untouched")
        (run / name).symlink_to(victim)
    analyzed = consentmon("analyze", str(run))
    reported = consentmon("report", str(run), "--format", "html")
    for victim in victims.values():
        assert victim.read_text() == "untouched", (analyzed.stdout + analyzed.stderr + reported.stdout + reported.stderr)
    assert "Traceback" not in analyzed.stderr + reported.stderr


def test_a_run_whose_files_are_links_or_devices_is_refused_not_read(tmp_path):
    from monitor.store.reader import read_run
    from monitor.store.manifest import verify_run

    for name, target in (("events.jsonl", "/dev/zero"), ("run.json", "/etc/hostname"), ("flows.jsonl", "/dev/zero")):
        run = _sealed_run(tmp_path / name)
        (run / name).unlink()
        (run / name).symlink_to(target)
        with pytest.raises(RunDirError) as error:
            read_run(run)
        assert name in error.value.message and "not a regular file" in error.value.message
        assert any("symbolic link" in problem for problem in verify_run(run))
        result = consentmon("analyze", str(run), timeout=60)
        assert result.returncode == 3 and "not a regular file" in result.stderr, result.stderr


def test_reading_an_apk_with_escaping_member_names_extracts_nothing(tmp_path):
    from monitor.device.apk import read_apk_info
    from monitor.errors import MonitorError

    apk = tmp_path / "slip.apk"
    with zipfile.ZipFile(apk, "w") as archive:
        archive.writestr("../../escaped.txt", "x")
        archive.writestr("/abs-escaped.txt", "x")
        archive.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00" + bytes(64))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(MonitorError):
            read_apk_info(apk)
    finally:
        os.chdir(cwd)
    assert not (tmp_path.parent / "escaped.txt").exists() and not Path("/abs-escaped.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slip.apk"]


def test_inside_run_names_only_plain_files_of_the_run(tmp_path):
    from monitor.store.files import inside_run

    run = tmp_path / "run"
    (run / "screens").mkdir(parents=True)
    (run / "screens" / "ok.png").write_bytes(b"png")
    (tmp_path / "secret.png").write_bytes(b"secret")
    (run / "screens" / "link.png").symlink_to(tmp_path / "secret.png")
    (run / "linked").symlink_to(tmp_path)
    assert inside_run(run, "screens/ok.png") == run / "screens" / "ok.png"
    for name in ("screens/../../secret.png", "/etc/hostname", "screens/link.png", "linked/secret.png", "screens", ""):
        assert inside_run(run, name) is None, name


def test_a_report_never_embeds_a_file_from_outside_the_run(tmp_path):
    import base64

    run = _sealed_run(tmp_path)
    secret = b"TOPSECRET-outside-the-run"
    (tmp_path / "secret.png").write_bytes(secret)
    from monitor.store.reader import read_run  # noqa: F401 - the run is read as the report reads it

    # A run from elsewhere: an event naming a screenshot outside the run, and a screen that is a link out.
    import json
    lines = (run / "events.jsonl").read_text().splitlines()
    event = json.loads(lines[-1])
    event.update(seq=len(lines), kind="mark", source="scenario", payload={"screenshot": "screens/../../secret.png"},
                 category=None, api=None, value=None, stack=None)
    with open(run / "events.jsonl", "a") as handle:
        handle.write(json.dumps(event) + "\n")
    (run / "screens" / "000-link.png").symlink_to(tmp_path / "secret.png")
    assert consentmon("analyze", str(run)).returncode in (0, 1)
    consentmon("report", str(run), "--format", "html")
    html = (run / "report.html").read_text()
    assert base64.b64encode(secret).decode() not in html
