"""The SDK table: large enough to attribute what real apps embed, each entry traceable and well-formed."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import pytest

from monitor.analysis.attribution import Attributor
from monitor.data import load_sdks
from monitor.data.models import SdkTable
from monitor.data import load_attribution
from monitor.data.yamlfile import load_model
from monitor.errors import DataFileError

URL = re.compile(r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?(/\S*)?$")
# A named document rather than a page: a regulation number or a titled standard.
NAMED_DOCUMENT = re.compile(r"《.+》|〔\d{4}〕\d+号|GB/T \d+")
JAVA_SEGMENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
JAVA_RESERVED = set(keyword.kwlist) | {
    "abstract", "boolean", "byte", "case", "catch", "char", "const", "default", "do", "double", "enum",
    "extends", "final", "float", "goto", "implements", "instanceof", "int", "interface", "long", "native",
    "new", "package", "private", "protected", "public", "short", "static", "super", "switch",
    "synchronized", "this", "throw", "throws", "transient", "void", "volatile",
}


@pytest.fixture(scope="module")
def table() -> SdkTable:
    return load_sdks()


def test_table_covers_at_least_150_sdks(table: SdkTable) -> None:
    assert len(table.sdks) >= 150


def test_every_source_is_a_url_or_a_named_document(table: SdkTable) -> None:
    bad = [(sdk.id, sdk.source) for sdk in table.sdks
           if not URL.match(sdk.source) and not NAMED_DOCUMENT.search(sdk.source)]
    assert bad == []


def test_no_source_points_back_at_the_seed_table(table: SdkTable) -> None:
    # The seed list in shared/reference was a starting point, not evidence a report can cite.
    assert [sdk.id for sdk in table.sdks if "sdk-signatures.yaml" in sdk.source] == []


def test_prefixes_are_java_package_names(table: SdkTable) -> None:
    bad = []
    for sdk in table.sdks:
        for prefix in sdk.prefixes:
            segments = prefix.split(".")
            if not all(JAVA_SEGMENT.match(s) and s not in JAVA_RESERVED for s in segments):
                bad.append((sdk.id, prefix))
    assert bad == []


def test_domains_are_hostnames_without_scheme_or_path(table: SdkTable) -> None:
    bad = []
    for sdk in table.sdks:
        for domain in sdk.domains:
            labels = domain.split(".")
            ok = (len(labels) >= 2 and len(domain) <= 253 and all(HOST_LABEL.match(label) for label in labels)
                  and labels[-1].isalpha())
            if not ok:
                bad.append((sdk.id, domain))
    assert bad == []


def test_a_domain_belongs_to_one_sdk(table: SdkTable) -> None:
    # A flow is attributed by its host; two owners for one domain would make that a coin toss.
    owners: dict[str, list[str]] = {}
    for sdk in table.sdks:
        for domain in sdk.domains:
            owners.setdefault(domain, []).append(sdk.id)
    assert {d: ids for d, ids in owners.items() if len(ids) > 1} == {}


def test_every_name_vendor_and_kind_is_filled(table: SdkTable) -> None:
    bad = [sdk.id for sdk in table.sdks
           if not (sdk.name.en.strip() and (sdk.name.zh or "").strip() and sdk.vendor.strip() and sdk.kind.strip())]
    assert bad == []


def test_the_original_entries_are_kept(table: SdkTable) -> None:
    ids = {sdk.id for sdk in table.sdks}
    seed = {"umeng", "tencent-bugly", "tencent-gdt", "jpush", "getui", "pangle", "huawei-hms-core", "msa-oaid",
            "firebase-analytics", "google-admob", "facebook-sdk", "appsflyer", "adjust", "sentry", "vungle"}
    assert seed - ids == set()


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        # Nested prefixes: the longest on a segment boundary wins.
        ("com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:10)", "umeng-analytics"),
        ("com.umeng.message.PushAgent.register(PushAgent.java:3)", "umeng-push"),
        ("com.umeng.vt.Foo.bar(Foo.java:1)", "umeng"),
        ("com.huawei.hms.ads.identifier.AdvertisingIdClient.getAdvertisingIdInfo(A.java:5)", "huawei-oaid"),
        ("com.huawei.hms.push.HmsMessaging.turnOnPush(H.java:2)", "huawei-push"),
        ("com.google.android.gms.measurement.internal.zzfr.a(Unknown Source)", "firebase-analytics"),
        ("com.tencent.mm.opensdk.modelpay.PayReq.checkArgs(PayReq.java:9)", "wechat-pay"),
        ("com.tencent.mm.opensdk.openapi.WXAPIFactory.createWXAPI(W.java:1)", "wechat-opensdk"),
        # com.bytedance.sdk.open is its own package, not the start of com.bytedance.sdk.openadsdk.
        ("com.bytedance.sdk.openadsdk.TTAdSdk.init(TTAdSdk.java:4)", "pangle"),
        ("com.bytedance.sdk.open.douyin.DouYinOpenApiFactory.create(D.java:1)", "douyin-opensdk"),
        # Frameworks under com.facebook are not the Facebook SDK.
        ("com.facebook.react.modules.network.NetworkingModule.sendRequest(N.java:1)", "react-native"),
        ("com.facebook.appevents.AppEventsLogger.logEvent(A.java:1)", "facebook-sdk"),
        ("cn.com.chinatelecom.account.api.CtAuth.init(CtAuth.java:1)", "china-telecom-one-tap-login"),
        ("com.easefun.polyvsdk.video.PolyvVideoView.start(P.java:1)", "polyv"),
    ],
)
def test_stack_frames_attribute_to_the_expected_sdk(table: SdkTable, frame: str, expected: str) -> None:
    attributor = Attributor(sdks=table, table=load_attribution(), app_package="com.example.shop")
    result = attributor.attribute([frame, "com.example.shop.MainActivity.onCreate(MainActivity.java:20)"])
    assert (result.owner, result.sdk_id) == ("sdk", expected)


@pytest.mark.parametrize("frame, expected", [
    ("com.android.billingclient.api.BillingClientImpl.queryPurchases(BillingClientImpl.java:88)", "google-play-billing"),
    ("com.android.installreferrer.api.InstallReferrerClientImpl.getInstallReferrer(InstallReferrerClientImpl.java:40)",
     "google-install-referrer"),
])
def test_an_sdk_under_a_platform_looking_package_is_still_attributed(table: SdkTable, frame: str, expected: str) -> None:
    # com.android.* is platform code in attribution.yaml, but a known SDK prefix wins over that list.
    framework = tuple(load_attribution().framework_prefixes)
    assert frame.startswith(framework)
    attributor = Attributor(sdks=table, table=load_attribution(), app_package="com.example.shop")
    result = attributor.attribute(["android.app.Activity.onResume(Activity.java:10)", frame,
                                   "com.example.shop.MainActivity.onCreate(MainActivity.java:20)"])
    assert (result.owner, result.sdk_id) == ("sdk", expected)


def test_optional_fields_are_checked_like_the_rest(tmp_path: Path) -> None:
    bad = tmp_path / "sdks.yaml"
    bad.write_text(
        'version: "1"\n'
        "sdks:\n"
        "  - id: x\n"
        '    name: {en: "X", zh: "X"}\n'
        '    vendor: "V"\n'
        '    kind: "ads"\n'
        '    prefixes: ["com.x"]\n'
        '    source: "https://example.org/x"\n'
        '    aliases: "not a list"\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        load_model(bad, SdkTable)
    assert f"{bad}:9" in str(caught.value) and "aliases" in str(caught.value)


def test_every_kind_has_a_chinese_name(table: SdkTable) -> None:
    # The report's SDK sheet names each SDK's kind in Chinese first (the English kind stays in the English report).
    assert table.kinds and {sdk.kind for sdk in table.sdks} <= set(table.kinds)
    assert table.kind_name("crash reporting", "zh") == "崩溃上报" and table.kind_name("crash reporting", "en") == "crash reporting"


def _table_with(tmp_path: Path, kinds: str, kind: str) -> Path:
    path = tmp_path / "sdks.yaml"
    path.write_text(
        'version: "1"\n'
        f"kinds:\n{kinds}"
        "sdks:\n"
        "  - id: x\n"
        '    name: {en: "X", zh: "X"}\n'
        '    vendor: "V"\n'
        f'    kind: "{kind}"\n'
        '    prefixes: ["com.x"]\n'
        '    source: "https://example.org/x"\n',
        encoding="utf-8",
    )
    return path


def test_the_schema_refuses_a_kind_without_a_chinese_name(tmp_path: Path) -> None:
    assert load_model(_table_with(tmp_path, '  "ads": "广告"\n', "ads"), SdkTable).kind_name("ads", "zh") == "广告"
    with pytest.raises(DataFileError) as caught:
        load_model(_table_with(tmp_path, '  "ads": "广告"\n', "session replay"), SdkTable)
    assert "session replay" in str(caught.value) and "Chinese name" in str(caught.value)
    with pytest.raises(DataFileError) as caught:          # a "Chinese name" that is not Chinese
        load_model(_table_with(tmp_path, '  "ads": "ads"\n', "ads"), SdkTable)
    assert "kinds" in str(caught.value)


def test_vendors_named_in_chinese_are_vendors_of_the_table(tmp_path: Path, table: SdkTable) -> None:
    assert table.vendor_name("Tencent", "zh") == "腾讯" and table.vendor_name("Tencent", "en") == "Tencent"
    assert table.vendor_name("Adjust", "zh") == "Adjust"           # known by its Latin name in Chinese too
    path = _table_with(tmp_path, '  "ads": "广告"\n', "ads")
    path.write_text(path.read_text(encoding="utf-8").replace("sdks:\n", 'vendors:\n  "W": "某公司"\nsdks:\n', 1), encoding="utf-8")
    with pytest.raises(DataFileError) as caught:                  # a vendor no SDK has: a typo
        load_model(path, SdkTable)
    assert "'W'" in str(caught.value)
