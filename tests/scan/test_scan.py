"""`scan_apk` on real APKs: built here by smali, aapt, zipalign and apksigner (tests/support/apkbuild.py),
and the APKs signed by Debian's apksigner in tests/data/android/apk."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.device.apk import open_apk
from monitor.scan import ApkScan, scan_apk

DATA = Path(__file__).resolve().parents[1] / "data" / "android" / "apk"
REAL_SIGNER = "07150f76008b1d93ff383b2f0d07776938833fce07b7c6b566b8c337ff9358b8"


def test_identity_signer_and_sdk_levels_of_a_built_apk(packed_apk):
    scan = scan_apk(packed_apk.path)
    assert (scan.package, scan.version_code, scan.version_name) == ("com.example.scanme", 12, "1.2")
    assert (scan.min_sdk, scan.target_sdk) == (21, 33)
    assert scan.signature_scheme == "v3"
    assert scan.signer_sha256 == [packed_apk.signer_sha256]       # keytool's export of the signing certificate
    if shutil.which("apksigner"):
        printed = subprocess.run(["apksigner", "verify", "--print-certs", str(packed_apk.path)],
                                 capture_output=True, text=True, timeout=120).stdout
        assert f"certificate SHA-256 digest: {packed_apk.signer_sha256}" in printed


def test_permissions_in_manifest_order_with_the_dangerous_ones_flagged(packed_apk):
    scan = scan_apk(packed_apk.path)
    assert [entry.name for entry in scan.permissions] == list(packed_apk.spec.permissions)
    assert scan.dangerous_permissions() == ["android.permission.READ_PHONE_STATE", "android.permission.ACCESS_FINE_LOCATION"]
    location = next(entry for entry in scan.permissions if entry.name.endswith("ACCESS_FINE_LOCATION"))
    assert (location.group, location.dangerous_since) == ("location", 23)


def test_self_start_receivers_with_whether_android_still_delivers_them(packed_apk, legu_apk):
    scan = scan_apk(packed_apk.path)
    receivers = {receiver.receiver: receiver for receiver in scan.self_start}
    boot = receivers["com.example.scanme.BootReceiver"]
    assert {t.action: t.delivered for t in boot.triggers} == {"android.intent.action.BOOT_COMPLETED": True,
                                                              "android.net.conn.CONNECTIVITY_CHANGE": False}
    umeng = receivers["com.umeng.message.UmengBootReceiver"]
    assert umeng.sdk == "umeng-push" and umeng.exported is True
    assert [t.delivered for t in umeng.triggers] == [False]     # USER_PRESENT: not to manifest receivers at target 33
    # Target 25: CONNECTIVITY_CHANGE is no longer delivered (API 24+), PACKAGE_ADDED still is (until 26).
    legu = scan_apk(legu_apk.path)
    (net,) = legu.self_start
    assert net.receiver == "com.example.legu.NetReceiver"       # ".NetReceiver" resolved against the package
    assert {t.action: t.delivered for t in net.triggers} == {"android.net.conn.CONNECTIVITY_CHANGE": False,
                                                             "android.intent.action.PACKAGE_ADDED": True}


def test_sdks_in_the_dex_by_package_prefix_with_class_counts_across_dex_files(packed_apk):
    scan = scan_apk(packed_apk.path)
    assert scan.dex.files == ["classes.dex", "classes2.dex"]
    counts = {sdk.id: sdk.classes for sdk in scan.sdks}
    assert counts["tencent-bugly"] == 2
    umeng_ids = {sdk.id for sdk in scan.sdks if sdk.id.startswith("umeng")}
    assert sum(counts[i] for i in umeng_ids) == 3                 # UMConfigure, MobclickAgent, the push receiver
    assert scan.dex.app_classes == 3                              # MainActivity, net.Api, BootReceiver
    assert [row.package for row in scan.dex.unattributed] == ["org.example.unknownsdk"]
    assert scan.dex.classes == 10 and scan.dex.packer_classes == 1


def test_an_sdk_the_packer_hid_from_the_dex_is_still_found_in_the_manifest(packed_apk):
    scan = scan_apk(packed_apk.path)
    getui = next(sdk for sdk in scan.sdks if sdk.id.startswith("getui"))
    assert (getui.classes, getui.packages, getui.components) == (0, [], ["service com.igexin.sdk.PushService"])
    umeng_push = next(sdk for sdk in scan.sdks if sdk.id == "umeng-push")
    assert umeng_push.classes == 1 and umeng_push.components == ["receiver com.umeng.message.UmengBootReceiver"]


def test_native_libraries_per_abi_and_the_packer_by_stub_class_and_library(packed_apk, legu_apk):
    scan = scan_apk(packed_apk.path)
    assert scan.native_libraries == {"arm64-v8a": ["libjiagu_a64.so", "libumeng-spy.so"], "armeabi-v7a": ["libjiagu.so"]}
    (jiagu,) = scan.packers
    assert jiagu.id == "qihoo360-jiagu" and jiagu.name_zh == "360加固保"
    assert "class com.stub.StubApp" in jiagu.evidence and "library lib/armeabi-v7a/libjiagu.so" in jiagu.evidence
    assert any("360加固保" in warning for warning in scan.warnings)
    legu = scan_apk(legu_apk.path)
    (packer,) = legu.packers
    assert packer.id == "tencent-legu"
    assert "library lib/armeabi-v7a/libshella-4.1.0.19.so" in packer.evidence      # a versioned name, by pattern
    assert any(item.startswith("classes under com.tencent.StubShell") for item in packer.evidence)


def test_a_packers_stub_under_its_vendors_sdk_prefix_is_counted_as_the_packer(yidun_apk):
    scan = scan_apk(yidun_apk.path)
    assert [packer.id for packer in scan.packers] == ["netease-yidun"]
    assert {sdk.id: sdk.classes for sdk in scan.sdks} == {"netease-yidun-captcha": 1}   # the wrapper is not an SDK
    assert scan.dex.packer_classes == 2
    (boot,) = scan.self_start[0].triggers
    assert (boot.delivered, boot.missing_permission) == (False, "android.permission.RECEIVE_BOOT_COMPLETED")


def test_network_security_config_and_the_ca_route(packed_apk, legu_apk, plain_apk):
    network = scan_apk(packed_apk.path).network_security
    assert network.config_file == "res/xml/network_security_config.xml"
    assert network.cleartext_permitted is True and network.cleartext_blocked_domains == ["*.pay.example.com"]
    assert (network.user_cas, network.ca_route) == ("all", "user")
    assert network.pinned_domains == ["*.pay.example.com"]
    # No config, target 25: user CAs are not trusted (API 24+), cleartext is (≤ 27).
    legu = scan_apk(legu_apk.path).network_security
    assert (legu.config_file, legu.cleartext_permitted, legu.user_cas, legu.ca_route) == (None, True, "none", "system")
    plain = scan_apk(plain_apk.path).network_security
    assert (plain.cleartext_permitted, plain.ca_route) == (False, "system")


@pytest.mark.parametrize("name, scheme", [("demo-v2v3.apk", "v3"), ("demo-v1.apk", "v1")])
def test_the_apksigner_signed_apks_of_the_test_data(name, scheme):
    scan = scan_apk(DATA / name)
    assert (scan.package, scan.signature_scheme, scan.signer_sha256) == ("com.example.consentdemo", scheme, [REAL_SIGNER])
    assert scan.dangerous_permissions() == ["android.permission.CAMERA"]
    assert scan.sdks == [] and scan.packers == []
    # Their classes.dex is a stand-in: said once, not a crash.
    assert any("classes.dex could not be read as dex" in warning for warning in scan.warnings)


def test_the_scan_is_plain_json_data(packed_apk):
    scan = scan_apk(packed_apk.path)
    again = ApkScan.model_validate_json(scan.model_dump_json())
    assert again == scan
    assert scan.as_run_info()["network_security"]["ca_route"] == "user"


def test_a_rotated_key_reports_the_v3_signer_the_device_sees(rotated_apk):
    """apksigner signs v1/v2 with the old key and v3 with the new one (a signing lineage): Android 9+ reads v3."""
    scan = scan_apk(rotated_apk.path)
    assert (scan.signature_scheme, scan.signer_sha256) == ("v3", [rotated_apk.signer_sha256])
    printed = subprocess.run(["apksigner", "verify", "--print-certs", str(rotated_apk.path)], capture_output=True, text=True,
                             timeout=120).stdout
    assert f"Signer #1 certificate SHA-256 digest: {rotated_apk.signer_sha256}" in printed
    v2 = [hashlib.sha256(cert).hexdigest() for cert in open_apk(rotated_apk.path).apk.get_certificates_der_v2()]
    assert v2 and v2 != [rotated_apk.signer_sha256]                   # the older key signs v2
