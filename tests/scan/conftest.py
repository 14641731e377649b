"""Real APKs built by Debian's Android tools (tests/support/apkbuild.py), once per inputs, for the scan tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from support.apkbuild import ApkSpec, BuiltApk, Receiver, build_apk, missing_tools
from support.fixtures import adb_env, frida_server_file, host_adb, make_sim, mitm_ca  # noqa: F401

NETWORK_SECURITY_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<network-security-config>
  <base-config cleartextTrafficPermitted="true">
    <trust-anchors>
      <certificates src="system"/>
      <certificates src="user"/>
    </trust-anchors>
  </base-config>
  <domain-config cleartextTrafficPermitted="false">
    <domain includeSubdomains="true">pay.example.com</domain>
    <pin-set expiration="2030-01-01">
      <pin digest="SHA-256">7HIpactkIAq2Y49orFOOQKurWxmmSFZhBCoQYcRhJ3Y=</pin>
    </pin-set>
  </domain-config>
</network-security-config>
"""

# An app packed by 360 Jiagu with Umeng and Bugly left visible, two dangerous permissions, a boot receiver.
PACKED = ApkSpec(
    package="com.example.scanme", version_code=12, version_name="1.2", min_sdk=21, target_sdk=33,
    permissions=("android.permission.INTERNET", "android.permission.READ_PHONE_STATE",
                 "android.permission.ACCESS_FINE_LOCATION", "android.permission.RECEIVE_BOOT_COMPLETED"),
    application="com.stub.StubApp",
    receivers=(Receiver("com.example.scanme.BootReceiver",
                        ("android.intent.action.BOOT_COMPLETED", "android.net.conn.CONNECTIVITY_CHANGE")),
               Receiver("com.umeng.message.UmengBootReceiver", ("android.intent.action.USER_PRESENT",), exported=True)),
    # Getui's push service is declared in the manifest, its classes are in the packer's encrypted dex.
    services=("com.igexin.sdk.PushService",),
    classes=("com.example.scanme.MainActivity", "com.example.scanme.net.Api",
             "com.umeng.commonsdk.UMConfigure", "com.umeng.analytics.MobclickAgent"),
    classes2=("com.tencent.bugly.crashreport.CrashReport", "com.tencent.bugly.Bugly", "org.example.unknownsdk.Tracker"),
    files=("lib/armeabi-v7a/libjiagu.so", "lib/arm64-v8a/libjiagu_a64.so", "lib/arm64-v8a/libumeng-spy.so"),
    network_security_config=NETWORK_SECURITY_CONFIG,
)

# A plain app: no config (target 33: system CAs only), Tencent Legu's stub and library, old target for delivery.
LEGU = ApkSpec(
    package="com.example.legu", version_code=3, version_name="3.0", min_sdk=21, target_sdk=25,
    permissions=("android.permission.CAMERA",),
    application="com.tencent.StubShell.TxAppEntry",
    receivers=(Receiver(".NetReceiver", ("android.net.conn.CONNECTIVITY_CHANGE", "android.intent.action.PACKAGE_ADDED")),),
    classes=("com.example.legu.MainActivity",),
    files=("lib/armeabi-v7a/libshella-4.1.0.19.so",),
)

PLAIN = ApkSpec(package="com.example.demo", version_code=5, version_name="5.0", min_sdk=24, target_sdk=34,
                permissions=("android.permission.INTERNET",), classes=("com.example.demo.MainActivity",))

SPLIT = ApkSpec(package="com.example.demo", version_code=5, version_name="5.0", min_sdk=24, target_sdk=34,
                split="config.arm64_v8a", files=("lib/arm64-v8a/libnative.so",))


def _build(spec: ApkSpec) -> BuiltApk:
    missing = missing_tools()
    if missing:
        pytest.skip(f"Debian's Android tools are missing: apt-get install {' '.join(missing)} (.ci/run does)")
    return build_apk(spec)


@pytest.fixture(scope="session")
def packed_apk() -> BuiltApk:
    return _build(PACKED)


@pytest.fixture(scope="session")
def legu_apk() -> BuiltApk:
    return _build(LEGU)


@pytest.fixture(scope="session")
def plain_apk() -> BuiltApk:
    return _build(PLAIN)


@pytest.fixture(scope="session")
def split_apk() -> BuiltApk:
    return _build(SPLIT)


# NetEase Yidun's wrapper lives under com.netease.nis, the prefix of Yidun's anti-fraud SDK in the SDK table.
# It also declares a boot receiver without RECEIVE_BOOT_COMPLETED, which Android then never calls.
YIDUN = ApkSpec(package="com.example.yidun", min_sdk=21, target_sdk=30, application="com.netease.nis.wrapper.MyApplication",
                receivers=(Receiver("com.example.yidun.Boot", ("android.intent.action.BOOT_COMPLETED",)),),
                classes=("com.netease.nis.wrapper.Entry", "com.netease.nis.captcha.Captcha", "com.example.yidun.Main"),
                files=("lib/arm64-v8a/libnesec.so",))


@pytest.fixture(scope="session")
def yidun_apk() -> BuiltApk:
    return _build(YIDUN)


@pytest.fixture(scope="session")
def rotated_apk() -> BuiltApk:
    return _build(replace(PLAIN, rotated=True))
