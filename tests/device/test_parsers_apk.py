"""Parsers against real device outputs (tests/data/android, sources in its README), and the APK
reader against APKs signed by Debian's real apksigner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.device.apk import read_apk_info
from monitor.device.parsers import parse_dumpsys_package, parse_getprop, parse_ps
from monitor.errors import DeviceError
from monitor.scenario.uitree import find_by_text, parse_ui
from support.adbsim.apk import build_apk, make_signer

DATA = Path(__file__).resolve().parents[1] / "data" / "android"
REAL_SIGNER = "07150f76008b1d93ff383b2f0d07776938833fce07b7c6b566b8c337ff9358b8"


def test_getprop_of_a_real_android14_emulator():
    props = parse_getprop((DATA / "getprop-android14-emulator.txt").read_text())
    assert props["ro.build.version.sdk"] == "34"
    assert props["ro.product.cpu.abilist"] == "x86_64,arm64-v8a"
    assert props["ro.product.cpu.abilist32"] == ""
    assert props["ro.build.description"] == "sdk_gphone64_x86_64-userdebug 14 UE1A.230829.050 12077443 dev-keys"
    # A value spanning three lines does not swallow the properties after it.
    assert props["persist.sys.boot.reason.history"].count("\n") == 2
    assert props["persist.sys.timezone"] == "Europe/Bucharest"


def test_ps_of_a_real_android14_emulator_finds_zygote_and_its_apps():
    rows = parse_ps((DATA / "ps-A-android14-emulator.txt").read_text())
    zygote = next(r for r in rows if r.name == "zygote64")
    assert (zygote.user, zygote.pid, zygote.ppid) == ("root", 369, 1)
    children = {r.name for r in rows if r.ppid == zygote.pid}
    assert {"system_server", "com.android.systemui", "com.android.chrome"} <= children
    # The WCHAN column may hold a word (sigsuspend); the name is still the last column.
    assert next(r for r in rows if r.pid == 5014).name == "sh"


def test_dumpsys_package_of_a_real_multi_user_device_reads_user_0_only():
    text = (DATA / "dumpsys-package-android14-multiuser.txt").read_text()
    uwb = parse_dumpsys_package(text, "com.android.uwb.resources")
    assert (uwb.version_code, uwb.min_sdk, uwb.target_sdk, uwb.version_name) == (1, 33, 34, "T-initial")
    torrent = parse_dumpsys_package(text, "org.proninyaroslav.libretorrent")
    assert torrent.granted["android.permission.WAKE_LOCK"] is True                    # install permission
    assert torrent.granted["android.permission.SCHEDULE_EXACT_ALARM"] is False
    # User 11 granted notifications, user 0 did not: the answer is user 0's.
    assert torrent.granted["android.permission.POST_NOTIFICATIONS"] is False
    assert parse_dumpsys_package(text, "com.example.absent") is None


@pytest.mark.parametrize("name, scheme", [("demo-v2v3.apk", "v3"), ("demo-v1.apk", "v1")])
def test_apks_signed_by_real_apksigner_give_apksigners_certificate_digest(name, scheme):
    info = read_apk_info(DATA / "apk" / name)
    assert info.signature_scheme == scheme
    assert info.signer_sha256 == (REAL_SIGNER,)
    assert (info.package, info.version_code, info.version_name) == ("com.example.consentdemo", 7, "1.0.7")
    assert info.permissions == ("android.permission.CAMERA",)


@pytest.mark.parametrize("block", [None, "v2", "v3"])
def test_generated_apks_read_back(block):
    signer = make_signer()
    info = read_apk_info(build_apk("org.example.x", version_code=3, version_name="三.0", signer=signer, block_scheme=block,
                                   permissions=["android.permission.READ_PHONE_STATE"]))
    assert (info.package, info.version_code, info.version_name) == ("org.example.x", 3, "三.0")
    assert info.signer_sha256 == (signer.sha256,)
    assert info.signature_scheme == (block or "v1")


@pytest.mark.skipif(shutil.which("aapt") is None, reason="Debian's aapt is not installed (apt-get install aapt)")
def test_real_aapt_reads_the_manifests_the_test_apks_carry(tmp_path):
    apk = tmp_path / "x.apk"
    apk.write_bytes(build_apk("org.example.aapt", version_code=12, version_name="1.2", permissions=["android.permission.CAMERA"]))
    badging = subprocess.run(["aapt", "dump", "badging", str(apk)], capture_output=True, text=True, timeout=60).stdout
    assert "package: name='org.example.aapt' versionCode='12' versionName='1.2'" in badging
    assert "uses-permission: name='android.permission.CAMERA'" in badging


def test_not_an_apk_is_a_clear_error(tmp_path):
    bogus = tmp_path / "x.apk"
    bogus.write_bytes(b"PK not really")
    with pytest.raises(DeviceError) as caught:
        read_apk_info(bogus)
    assert "not an APK" in caught.value.message


def test_ui_dump_with_text_on_a_non_clickable_child_of_a_clickable_row():
    xml = ('<?xml version="1.0" encoding="UTF-8"?><hierarchy rotation="0">'
           '<node text="" class="android.widget.FrameLayout" package="p" clickable="true" bounds="[0,0][1080,2400]">'
           '<node text="同意并继续" resource-id="p:id/tv" class="android.widget.TextView" package="p" clickable="false" '
           'bounds="[540,1700][1000,1820]"/></node></hierarchy>')
    node = find_by_text(parse_ui(xml), "同意并继续")
    # Tapping the text's own centre reaches the clickable parent on a device.
    assert node.center == (770, 1760)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_ca_file_name_is_openssls_subject_hash_old(mitm_ca):
    from monitor.device import cacert

    expected = subprocess.run(["openssl", "x509", "-subject_hash_old", "-noout", "-in", str(mitm_ca)],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert cacert.store_file_name(cacert.load_ca(mitm_ca)) == f"{expected}.0"
