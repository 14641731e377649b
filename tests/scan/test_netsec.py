"""The network security config rules of Android's documentation, case by case (the parsed XML is what
androguard gives for the binary file; the real-APK path is in test_scan.py)."""

from __future__ import annotations

import pytest
from lxml import etree

from monitor.scan.netsec import evaluate


def config(xml: str):
    return etree.fromstring(f"<network-security-config>{xml}</network-security-config>")


def scan(xml: str | None, *, target: int = 33, uses_cleartext: bool | None = None, debuggable: bool = False):
    return evaluate(config(xml) if xml is not None else None, config_file=None if xml is None else "res/xml/nsc.xml",
                    target_sdk=target, uses_cleartext=uses_cleartext, debuggable=debuggable)


@pytest.mark.parametrize("target, cleartext, user_cas, route", [(23, True, "all", "user"), (24, True, "none", "system"),
                                                                 (27, True, "none", "system"), (28, False, "none", "system")])
def test_defaults_without_a_config_follow_the_target_level(target, cleartext, user_cas, route):
    result = scan(None, target=target)
    assert (result.cleartext_permitted, result.user_cas, result.ca_route) == (cleartext, user_cas, route)


def test_uses_cleartext_traffic_counts_only_without_a_config():
    assert scan(None, target=30, uses_cleartext=True).cleartext_permitted is True
    with_config = scan('<base-config cleartextTrafficPermitted="false"/>', target=30, uses_cleartext=True)
    assert with_config.cleartext_permitted is False
    assert any("usesCleartextTraffic is ignored" in note for note in with_config.notes)


def test_base_config_without_trust_anchors_keeps_the_target_default():
    assert scan('<base-config cleartextTrafficPermitted="true"/>', target=30).user_cas == "none"
    assert scan('<base-config cleartextTrafficPermitted="true"/>', target=23).user_cas == "all"


def test_user_cas_for_some_domains_only_still_needs_the_system_store():
    result = scan('<domain-config><domain includeSubdomains="true">api.example.com</domain>'
                  '<trust-anchors><certificates src="user"/></trust-anchors></domain-config>')
    assert (result.user_cas, result.user_ca_domains, result.ca_route) == ("some-domains", ["*.api.example.com"], "system")
    assert "*.api.example.com" in result.ca_route_reason


def test_nested_domain_configs_inherit_from_the_enclosing_one():
    result = scan('<domain-config cleartextTrafficPermitted="true"><domain>a.example.com</domain>'
                  '<trust-anchors><certificates src="user"/></trust-anchors>'
                  '<domain-config><domain>b.a.example.com</domain></domain-config></domain-config>')
    assert result.cleartext_domains == ["a.example.com", "b.a.example.com"]
    assert result.user_ca_domains == ["a.example.com", "b.a.example.com"]


def test_debug_overrides_count_only_in_a_debuggable_build():
    xml = '<debug-overrides><trust-anchors><certificates src="user"/></trust-anchors></debug-overrides>'
    debug = scan(xml, debuggable=True)
    assert (debug.user_cas, debug.ca_route) == ("debug-only", "user")
    release = scan(xml, debuggable=False)
    assert (release.user_cas, release.ca_route) == ("none", "system")
    assert any("not debuggable" in note for note in release.notes)


def test_pins_unless_the_user_ca_overrides_them():
    pinned = ('<domain-config><domain>pay.example.com</domain><pin-set><pin digest="SHA-256">AAAA</pin></pin-set>'
              '<trust-anchors><certificates src="user"{}/></trust-anchors></domain-config>')
    assert scan(pinned.format("")).pinned_domains == ["pay.example.com"]
    assert scan(pinned.format(' overridePins="true"')).pinned_domains == []


def test_a_domain_that_trusts_only_system_cas_in_an_app_that_trusts_user_cas_is_named():
    result = scan('<base-config><trust-anchors><certificates src="user"/></trust-anchors></base-config>'
                  '<domain-config><domain>bank.example.com</domain>'
                  '<trust-anchors><certificates src="system"/></trust-anchors></domain-config>')
    assert result.ca_route == "user"
    assert any("bank.example.com" in note and "system store" in note for note in result.notes)
