"""`consentmon scan` as a user runs it: a table or JSON for an APK; for anything that is not one APK (missing,
not a zip, a split set as .apks/.xapk or several files, a config split) one error line, a fix, exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
import pytest

from monitor.device.apk import ApkError
from monitor.scan import ApkScan, scan_apk


def consentmon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "COLUMNS": "200"})


def assert_one_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert "fix:" in result.stderr


def test_table_names_the_packer_sdks_dangerous_permissions_and_ca_route(packed_apk):
    result = consentmon("scan", str(packed_apk.path))
    assert result.returncode == 0, result.stderr
    for text in ("com.example.scanme", "READ_PHONE_STATE", "BOOT_COMPLETED", "tencent-bugly", "360加固保",
                 "libjiagu_a64.so", "CA route: user store", packed_apk.signer_sha256):
        assert text in result.stdout, text


def test_json_is_the_scan_model(packed_apk):
    result = consentmon("scan", str(packed_apk.path), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert ApkScan.model_validate(json.loads(result.stdout)) == scan_apk(packed_apk.path)


def test_missing_file(tmp_path):
    assert_one_error(consentmon("scan", str(tmp_path / "absent.apk")), "no such file")


def test_not_a_zip(tmp_path):
    bogus = tmp_path / "app.apk"
    bogus.write_bytes(b"<html>this download link served a web page</html>")
    assert_one_error(consentmon("scan", str(bogus)), "not an APK", "not a zip")


def test_a_zip_that_is_not_an_apk(tmp_path):
    archive = tmp_path / "app.apk"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "hello")
    assert_one_error(consentmon("scan", str(archive)), "not an APK")


@pytest.mark.parametrize("suffix, extra", [(".apks", {"toc.pb": b"\x08\x01"}),
                                           (".xapk", {"manifest.json": b'{"package_name": "com.example.demo"}'})])
def test_split_apk_sets(tmp_path, plain_apk, split_apk, suffix, extra):
    bundle = tmp_path / f"app{suffix}"
    with zipfile.ZipFile(bundle, "w") as zipped:
        zipped.write(plain_apk.path, "base.apk" if suffix == ".apks" else "com.example.demo.apk")
        zipped.write(split_apk.path, "split_config.arm64_v8a.apk" if suffix == ".apks" else "config.arm64_v8a.apk")
        for name, data in extra.items():
            zipped.writestr(name, data)
    assert_one_error(consentmon("scan", str(bundle)), "split APK set", "2 APKs")
    # The same bundle renamed .apk is still recognised by its content.
    renamed = bundle.with_suffix(".apk")
    renamed.write_bytes(bundle.read_bytes())
    assert_one_error(consentmon("scan", str(renamed)), "split APK set")


def test_several_apks_on_the_command_line(plain_apk, split_apk):
    assert_one_error(consentmon("scan", str(plain_apk.path), str(split_apk.path)), "2 APKs given")


def test_a_config_split_alone(split_apk):
    assert_one_error(consentmon("scan", str(split_apk.path)), "split 'config.arm64_v8a'", "com.example.demo")


def test_library_errors_are_apk_errors(tmp_path):
    with pytest.raises(ApkError) as caught:
        scan_apk(tmp_path)
    assert caught.value.exit_code == 2 and caught.value.hint


def test_an_xapk_holding_one_apk_and_its_obb(tmp_path, plain_apk):
    bundle = tmp_path / "app.xapk"
    with zipfile.ZipFile(bundle, "w") as zipped:
        zipped.write(plain_apk.path, "com.example.demo.apk")
        zipped.writestr("Android/obb/com.example.demo/main.5.com.example.demo.obb", b"obb")
        zipped.writestr("manifest.json", b'{"package_name": "com.example.demo"}')
    assert_one_error(consentmon("scan", str(bundle)), "an APK bundle", "com.example.demo.apk")
