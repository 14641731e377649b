"""Who read it: app, SDK or unknown code, from the stack."""

from __future__ import annotations

import pytest

from monitor.analysis.attribution import Attributor, attribute_events, frame_class
from monitor.analysis.timeline import build_timeline
from monitor.data import load_sdks
from monitor.data.models import LocalName, Sdk, SdkTable
from monitor.data import load_attribution
from monitor.store.reader import read_run
from monitor.testing.factories import APP, APP_FRAME, UMENG_FRAME, at, pi_read, write_run

TABLE = load_attribution()
CONF = TABLE.confidence
GAID = "com.google.android.gms.ads.identifier.AdvertisingIdClient$Info.getId"


# A fixed table, so these tests do not move when the bundled one (data, growing) is refined.
FIXTURE_SDKS = SdkTable(version="t", sdks=[
    Sdk(id="umeng", name=LocalName(en="Umeng"), vendor="Alibaba", kind="analytics", prefixes=["com.umeng"], source="fixture table"),
    Sdk(id="gads", name=LocalName(en="AdMob"), vendor="Google", kind="ads", prefixes=["com.google.android.gms.ads"], source="fixture table"),
])


def _sdk_of(prefix: str) -> str:
    return next(sdk.id for sdk in FIXTURE_SDKS.sdks if prefix in sdk.prefixes)


@pytest.fixture(scope="module")
def attributor() -> Attributor:
    return Attributor(sdks=FIXTURE_SDKS, table=TABLE, app_package=APP)


@pytest.mark.parametrize(("stack", "owner", "sdk_prefix", "via"), [
    ([UMENG_FRAME], "sdk", "com.umeng", "direct"),
    ([APP_FRAME], "app", None, "direct"),
    # platform frames are skipped, the first caller below them decides
    (["android.app.ActivityThread.main(ActivityThread.java:1)", "java.lang.reflect.Method.invoke(Native Method)",
      "kotlin.jvm.internal.X.y(X.kt:3)", UMENG_FRAME, APP_FRAME], "sdk", "com.umeng", "direct"),
    # the nearest decides: the app calling into an SDK is the app's read if the app frame is on top
    ([APP_FRAME, UMENG_FRAME], "app", None, "direct"),
    # obfuscated frames on top: the nearest known frame decides, with lower confidence
    (["a.b.c(SourceFile:1)", "o.a0$1.run(Unknown Source:4)", UMENG_FRAME], "sdk", "com.umeng", "via_obfuscated"),
    (["a.b.c(SourceFile:1)", APP_FRAME], "app", None, "via_obfuscated"),
    # readable code of nobody we know called the API
    (["org.unknownlib.Tracker.collect(Tracker.java:9)", UMENG_FRAME], "unknown", None, "unknown_code"),
    # only obfuscated frames: nobody can be named
    (["a.b.c(SourceFile:1)", "a.b.d(SourceFile:2)"], "unknown", None, "unknown_code"),
    # a prefix is matched on package boundaries: com.umengx is not com.umeng
    (["com.umengx.Foo.bar(Foo.java:1)"], "unknown", None, "unknown_code"),
    ([], "unknown", None, "no_stack"),
])
def test_stack_attribution(attributor, stack, owner, sdk_prefix, via):
    result = attributor.attribute(stack)
    assert (result.owner, result.sdk_id, result.via) == (owner, _sdk_of(sdk_prefix) if sdk_prefix else None, via)
    assert result.confidence == CONF[via]


def test_the_hooked_sdk_api_heading_the_stack_is_not_its_caller(attributor):
    stack = [f"{GAID}(Native Method)", APP_FRAME]
    assert attributor.attribute(stack, api=GAID).owner == "app"


def test_longest_prefix_wins_between_sdk_and_app_package():
    sdks = SdkTable(version="t", sdks=[
        Sdk(id="vendor", name=LocalName(en="Vendor"), vendor="V", kind="ads", prefixes=["com.vendor"], source="fixture table"),
        Sdk(id="vendor-push", name=LocalName(en="Vendor push"), vendor="V", kind="push", prefixes=["com.vendor.push"], source="fixture table"),
        Sdk(id="inside", name=LocalName(en="Inside"), vendor="I", kind="x", prefixes=["com.vendor.app.sdk"], source="fixture table"),
    ])
    attributor = Attributor(sdks=sdks, table=TABLE, app_package="com.vendor.app")
    assert attributor.attribute(["com.vendor.push.Svc.run(Svc.java:1)"]).sdk_id == "vendor-push"
    assert attributor.attribute(["com.vendor.ads.A.b(A.java:1)"]).sdk_id == "vendor"
    # the app's package beats the vendor's shorter prefix…
    assert attributor.attribute(["com.vendor.app.Main.x(Main.java:1)"]).owner == "app"
    # …and an SDK vendored inside the app's package beats the app's
    assert attributor.attribute(["com.vendor.app.sdk.Core.x(Core.java:1)"]).sdk_id == "inside"


@pytest.mark.parametrize(("frame", "cls"), [
    ("com.umeng.commonsdk.UMConfigure.preInit(UMConfigure.java:17)", "com.umeng.commonsdk.UMConfigure"),
    ("at com.a.B$1.run(Unknown Source)", "com.a.B$1"),
    ("a.b.c(SourceFile:1)", "a.b"),
])
def test_frame_class(frame, cls):
    assert frame_class(frame) == cls


def test_attribute_events_marks_reads_only_and_keeps_input(tmp_path):
    run = read_run(write_run(tmp_path / "run", [pi_read(ts=at(1), stack=[UMENG_FRAME]), pi_read(ts=at(2))]))
    timeline = build_timeline(run.events)
    before = timeline.copy()
    marked = attribute_events(timeline, Attributor(sdks=FIXTURE_SDKS, table=TABLE, app_package=APP))
    assert timeline.equals(before)
    assert marked["sdk_id"].tolist() == ["umeng", None]
    assert marked["owner"].tolist() == ["sdk", "app"]


def test_bundled_table_names_the_vendor_of_a_umeng_frame():
    result = Attributor(sdks=load_sdks(), table=TABLE, app_package=APP).attribute([UMENG_FRAME])
    sdk = next(sdk for sdk in load_sdks().sdks if sdk.id == result.sdk_id)
    assert any(frame_class(UMENG_FRAME).startswith(prefix) for prefix in sdk.prefixes)
    assert "umeng" in sdk.id


def test_a_stack_of_only_the_runtime_is_the_platform_not_the_app():
    from monitor.analysis.attribution import PLATFORM, Attributor
    from monitor.data import load_sdks
    from monitor.data import load_attribution

    attributor = Attributor(sdks=load_sdks(), table=load_attribution(), app_package="com.example.demo")
    jvm_start = ["0x7fc78ce234c6 libjvm.so!_ZN2os5fopenEPKcS1_+0x36", "0x7fc78cabe9cf libjvm.so!JNI_CreateJavaVM+0x4f",
                 "0x7fc7978a189f libjli.so!JavaMain+0x8f", "0x7fc7977451f5 libc.so.6!0x891f5"]
    assert attributor.attribute(jvm_start, api="libc.fopen").owner == PLATFORM
    # An SDK's own native library on the stack is code, not the platform: it is the reader.
    sdk_native = ["0x7f0000001000 libc.so!fopen+0x10", "0x7f0000002000 libumeng_sec.so!collect+0x44",
                  "0x7f0000003000 libart.so!art_quick_invoke_stub+0x20"]
    result = attributor.attribute(sdk_native, api="libc.fopen")
    assert result.owner == "unknown" and "libumeng_sec.so" in result.frame


def test_platform_reads_are_not_reported_before_consent(tmp_path):
    from monitor.testing import factories as f

    stack = ["0x7fc78ce234c6 libjvm.so!_ZN2os5fopenEPKcS1_+0x36", "0x7fc7977451f5 libc.so.6!0x891f5"]
    events = [f.pi_read(ts=f.at(0.1), api="libc.fopen", category="device_id", value="processor: 0", stack=stack),
              f.pi_read(ts=f.at(0.2), api="android.telephony.TelephonyManager.getDeviceId", category="device_id",
                        value="867530912345675", stack=["com.example.demo.App.onCreate(App.java:3)"]),
              f.click(ts=f.at(1.0), text="同意")]
    findings = f.judge(tmp_path, events)
    apis = {item.api for item in findings.findings if item.rule == "before-consent"}
    assert apis == {"android.telephony.TelephonyManager.getDeviceId"}
    assert findings.summary["platform_reads"] == 1
