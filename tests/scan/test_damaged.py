"""A damaged or deliberately malformed APK (packers ship such manifests and resource tables) gives a scan
or one ApkError — never another exception, so the command line never shows a traceback."""

from __future__ import annotations

import zipfile

import pytest

from monitor.device.apk import ApkError
from monitor.scan import ApkScan, scan_apk, scan_for_run


def rewritten(source, target, member: str, change) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info.filename)
            copy.writestr(info.filename, change(data) if info.filename == member else data)


@pytest.mark.parametrize("member", ["AndroidManifest.xml", "resources.arsc", "classes.dex", "classes2.dex",
                                    "res/xml/network_security_config.xml", "META-INF/SIGNER.EC"])
@pytest.mark.parametrize("damage", ["truncate-half", "truncate-16", "garbage"])
def test_damaged_member_gives_a_scan_or_one_apk_error(packed_apk, tmp_path, member, damage):
    change = {"truncate-half": lambda data: data[: len(data) // 2], "truncate-16": lambda data: data[:16],
              "garbage": lambda data: bytes((byte * 7 + 13) % 256 for byte in data)}[damage]
    target = tmp_path / "damaged.apk"
    rewritten(packed_apk.path, target, member, change)
    try:
        result = scan_apk(target)
    except ApkError as error:
        assert error.hint and "\n" not in error.message
        recorded = scan_for_run(target)
        assert recorded["error"] == error.message
    else:
        assert isinstance(result, ApkScan)


def test_what_each_damage_means(packed_apk, tmp_path):
    target = tmp_path / "damaged.apk"
    rewritten(packed_apk.path, target, "AndroidManifest.xml", lambda data: data[:16])
    with pytest.raises(ApkError, match="no readable AndroidManifest.xml"):
        scan_apk(target)
    rewritten(packed_apk.path, target, "META-INF/SIGNER.EC", lambda data: data[: len(data) // 2])
    unsigned = scan_apk(target)   # rewriting the zip also dropped the v2/v3 block: only the broken v1 is left
    assert (unsigned.signature_scheme, unsigned.signer_sha256) == (None, [])
    assert any("signature could not be read" in warning for warning in unsigned.warnings)
    rewritten(packed_apk.path, target, "res/xml/network_security_config.xml", lambda data: data[:16])
    network = scan_apk(target).network_security
    assert (network.config_file, network.ca_route) == (None, "system")
    rewritten(packed_apk.path, target, "classes2.dex", lambda data: data[:16])
    partial = scan_apk(target)
    assert "tencent-bugly" not in {sdk.id for sdk in partial.sdks}
    assert any(warning.startswith("classes2.dex could not be read as dex") for warning in partial.warnings)
