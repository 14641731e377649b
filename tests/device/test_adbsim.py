"""The simulated device as Debian's real adb client and server see it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support.adbsim import SimDevice, build_state


def adb(host_adb, serial: str, *args: str) -> subprocess.CompletedProcess[str]:
    return host_adb.run("-s", serial, *args)


def test_real_adb_accepts_it_after_rsa_auth_and_lists_its_model(make_sim, host_adb):
    device = make_sim(14)
    listing = host_adb.run("devices", "-l").stdout
    assert f"{device.serial}" in listing and "model:sdk_gphone64_x86_64" in listing
    # The host's key was offered and accepted: adb authenticated rather than skipping auth.
    assert len(device.authorized_keys) == 1


def test_shell_exit_codes_stdout_and_stderr_come_back_separately(make_sim, host_adb):
    device = make_sim(14)
    ok = adb(host_adb, device.serial, "shell", "getprop ro.build.version.sdk")
    assert (ok.returncode, ok.stdout.strip()) == (0, "34")
    missing = adb(host_adb, device.serial, "shell", "frobnicate --now")
    assert missing.returncode == 127
    assert "frobnicate: inaccessible or not found" in missing.stderr
    assert missing.stdout == ""


def test_push_and_pull_through_sync_round_trip_bytes(make_sim, host_adb, tmp_path: Path):
    device = make_sim(10)
    payload = bytes(range(256)) * 2000            # several sync DATA chunks and WRTE packets
    source = tmp_path / "blob.bin"
    source.write_bytes(payload)
    assert adb(host_adb, device.serial, "push", str(source), "/data/local/tmp/deep/blob.bin").returncode == 0
    assert device.state.read_file("/data/local/tmp/deep/blob.bin").data == payload
    back = tmp_path / "back.bin"
    assert adb(host_adb, device.serial, "pull", "/data/local/tmp/deep/blob.bin", str(back)).returncode == 0
    assert back.read_bytes() == payload


def test_push_to_read_only_system_is_refused(make_sim, host_adb, tmp_path: Path):
    device = make_sim(13)
    source = tmp_path / "x.0"
    source.write_text("cert")
    result = adb(host_adb, device.serial, "push", str(source), "/system/etc/security/cacerts/x.0")
    assert result.returncode != 0
    assert device.state.read_file("/system/etc/security/cacerts/x.0") is None


def test_reverse_rules_are_kept_listed_and_removed(make_sim, host_adb):
    device = make_sim(14)
    assert adb(host_adb, device.serial, "reverse", "tcp:8080", "tcp:8081").returncode == 0
    assert "tcp:8080 tcp:8081" in adb(host_adb, device.serial, "reverse", "--list").stdout
    assert adb(host_adb, device.serial, "reverse", "--remove", "tcp:8080").returncode == 0
    assert device.state.reverses == []


@pytest.mark.parametrize("root_mode, command, is_root", [
    ("su0", "su 0 id", True),
    ("su0", "su -c id", False),
    ("su-c", "su -c id", True),
    ("su-c", "su 0 id", False),
    ("adbd", "id", True),
    (None, "su 0 id", False),
])
def test_root_variants_behave_like_their_real_su(make_sim, host_adb, root_mode, command, is_root):
    device = make_sim(14, root_mode=root_mode)
    out = adb(host_adb, device.serial, "shell", command).stdout
    assert ("uid=0(root)" in out) is is_root


def test_mounts_are_root_only_and_tmpfs_hides_what_was_below(make_sim, host_adb):
    device = make_sim(10)
    store = "/system/etc/security/cacerts"
    assert "need root" in adb(host_adb, device.serial, "shell", f"mount -t tmpfs tmpfs {store}").stderr
    assert adb(host_adb, device.serial, "shell", f"su 0 mount -t tmpfs tmpfs {store}").returncode == 0
    assert adb(host_adb, device.serial, "shell", f"ls {store}").stdout == ""
    assert f"tmpfs {store} tmpfs" in adb(host_adb, device.serial, "shell", "cat /proc/mounts").stdout
    assert adb(host_adb, device.serial, "shell", f"su 0 umount {store}").returncode == 0
    assert "5ed36f99.0" in adb(host_adb, device.serial, "shell", f"ls {store}").stdout


def test_tapping_the_privacy_dialog_hit_tests_bounds_and_changes_the_screen(make_sim, host_adb):
    device = make_sim(14)
    package = "com.example.consentdemo"
    adb(host_adb, device.serial, "shell", f"monkey -p {package} -c android.intent.category.LAUNCHER 1")
    xml = adb(host_adb, device.serial, "shell", "uiautomator dump /sdcard/w.xml >/dev/null && cat /sdcard/w.xml").stdout
    assert 'text="同意"' in xml and 'text="不同意"' in xml
    adb(host_adb, device.serial, "shell", "input tap 5 5")          # outside every button: nothing happens
    assert device.state.packages[package].data == {}
    adb(host_adb, device.serial, "shell", "input tap 300 1600")     # inside the 不同意 button ([100,1535][520,1675] on 1080x2340)
    assert device.state.packages[package].data == {"consent": "refuse"}
    assert "仅浏览模式" in adb(host_adb, device.serial, "shell", "uiautomator dump /sdcard/w.xml >/dev/null && cat /sdcard/w.xml").stdout


def test_screencap_returns_a_png_that_differs_between_screens(make_sim, host_adb, tmp_path: Path):
    device = make_sim(14)
    home = subprocess.run(["adb", "-s", device.serial, "exec-out", "screencap -p"], env=host_adb.env, capture_output=True).stdout
    adb(host_adb, device.serial, "shell", "monkey -p com.example.consentdemo -c android.intent.category.LAUNCHER 1")
    dialog = subprocess.run(["adb", "-s", device.serial, "exec-out", "screencap -p"], env=host_adb.env, capture_output=True).stdout
    assert home.startswith(b"\x89PNG\r\n\x1a\n") and dialog.startswith(b"\x89PNG\r\n\x1a\n")
    assert home != dialog


def test_date_applies_the_configured_skew_and_old_toybox_lacks_nanoseconds():
    skewed = SimDevice(build_state(14, clock_skew_ns=5_000_000_000), clock=lambda: 1_700_000_000_123_456_789)
    assert skewed.run_shell("date +%s%N").out.strip() == b"1700000005123456789"
    old = SimDevice(build_state(7), clock=lambda: 1_700_000_000_123_456_789)
    assert old.run_shell("date +%s%N").out.strip() == b"1700000000%N"
    assert old.run_shell("ps -A").code != 0          # Android 7's toolbox ps has no -A


def test_snapshot_sees_every_kind_of_change():
    device = SimDevice(build_state(14))
    before = device.state.snapshot()
    for command in ["settings put global http_proxy 127.0.0.1:1", "su 0 mount -t tmpfs tmpfs /system/etc/security/cacerts",
                    "echo x > /data/local/tmp/f", "su 0 iptables -w -I OUTPUT -p udp --dport 443 -j REJECT"]:
        changed = SimDevice(build_state(14))
        changed.run_shell(command)
        assert changed.state.snapshot() != before, command
    assert SimDevice(build_state(14)).state.snapshot() == before


def test_iptables_checks_inserts_and_deletes_rules_as_root_only_with_its_exit_codes():
    device = SimDevice(build_state(14))
    rule = "OUTPUT -p udp --dport 443 -j REJECT"
    denied = device.run_shell(f"iptables -w -I {rule}")
    assert denied.code == 3 and b"you must be root" in denied.err
    assert device.run_shell(f"su 0 iptables -w -C {rule}").code == 1      # not there yet
    assert device.run_shell(f"su 0 iptables -w -I {rule}").code == 0
    assert device.run_shell(f"su 0 iptables -w -C {rule}").code == 0
    assert device.run_shell(f"su 0 ip6tables -w -C {rule}").code == 1     # each family has its own table
    assert device.run_shell("su 0 iptables -w -C INPUT -p udp --dport 443 -j REJECT").code == 1  # each chain its own
    assert device.run_shell(f"su 0 iptables -w -D {rule}").code == 0
    missing = device.run_shell(f"su 0 iptables -w -D {rule}")
    assert missing.code == 1 and b"Bad rule" in missing.err
    assert device.run_shell("su 0 iptables -w -X nonsense").code == 2
