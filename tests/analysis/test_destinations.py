"""Who receives a flow: registrable domain, first or third party, SDK vendor — with no network at all."""

from __future__ import annotations

import socket

import pytest

from monitor.analysis import destinations
from monitor.analysis.destinations import Destination, classify_host, registrable_domain
from monitor.data.models import Sdk, SdkTable

SDKS = SdkTable(version="t", sdks=[
    Sdk(id="umeng", name={"en": "Umeng"}, vendor="Alibaba", kind="analytics", prefixes=["com.umeng"],
        domains=["umeng.com"], source="test table for destinations"),
    Sdk(id="baidu-location", name={"en": "Baidu Location"}, vendor="Baidu", kind="location", prefixes=["com.baidu.location"],
        domains=["loc.map.baidu.com"], source="test table for destinations"),
    Sdk(id="baidu-any", name={"en": "Baidu"}, vendor="Baidu", kind="misc", prefixes=["com.baidu.x"],
        domains=["baidu.com"], source="test table for destinations"),
])


@pytest.mark.parametrize("host,registrable", [
    ("alog.umeng.com", "umeng.com"), ("a.b.example.com.cn", "example.com.cn"), ("API.Example.CO.UK.", "example.co.uk"),
    ("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("localhost", "localhost"), ("x.gov.cn", "x.gov.cn"),
])
def test_registrable_domain(host: str, registrable: str) -> None:
    assert registrable_domain(host) == registrable


def test_sdk_by_domain_suffix_most_specific_wins() -> None:
    assert classify_host("alog.umeng.com", sdks=SDKS) == Destination("alog.umeng.com", "umeng.com", "third", "umeng", "Alibaba")
    assert classify_host("umeng.com", sdks=SDKS).sdk_id == "umeng"
    assert classify_host("notumeng.com", sdks=SDKS).sdk_id is None
    assert classify_host("loc.map.baidu.com", sdks=SDKS).sdk_id == "baidu-location"
    assert classify_host("www.baidu.com", sdks=SDKS).sdk_id == "baidu-any"


def test_listed_first_party_domains() -> None:
    listed = ["api.shop-example.com"]
    assert classify_host("api.shop-example.com", first_party_domains=listed, sdks=SDKS).party == "first"
    assert classify_host("img.shop-example.com", first_party_domains=listed, sdks=SDKS).party == "first"   # same registrable
    assert classify_host("tracker.example.net", first_party_domains=listed, sdks=SDKS).party == "third"
    # A vendor testing its own app: its listed domain is first party even though an SDK table names it.
    own = classify_host("alog.umeng.com", first_party_domains=["umeng.com"], sdks=SDKS)
    assert own.party == "first" and own.sdk_id == "umeng"


def test_package_label_heuristic() -> None:
    assert classify_host("m.jdshop.com.cn", app_package="com.jdshop.android", sdks=SDKS).party == "first"
    assert classify_host("cdn.other.com", app_package="com.jdshop.android", sdks=SDKS).party == "third"
    # "android" and "com" prove nothing: com.android.browser does not own android.com by this rule.
    assert classify_host("www.android.com", app_package="com.android.browser", sdks=SDKS).party == "unknown"


def test_unknown_without_first_party_knowledge() -> None:
    assert classify_host("x.y.com", sdks=SDKS).party == "unknown"
    assert classify_host("10.0.2.2", first_party_domains=["shop.com"], sdks=SDKS).party == "unknown"


def test_works_with_the_network_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("classify_host tried to use the network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    destinations._extractor.cache_clear()
    try:
        assert classify_host("alog.umeng.com.cn", sdks=SDKS).registrable_domain == "umeng.com.cn"
        assert registrable_domain("a.b.example.github.io") == "github.io"  # private suffixes are not used
    finally:
        destinations._extractor.cache_clear()
