"""The scan's knowledge files: schema-checked, sourced, and the dangerous-permission list equal, API level by
API level, to androguard's copy of AOSP's own permission declarations (an independent record)."""

from __future__ import annotations

import pytest

from monitor.data import load_data, load_sdks


def test_dangerous_permissions_match_aosp_declarations_level_by_level():
    from androguard.core import androconf
    from loguru import logger

    logger.disable("androguard")
    table = load_data("dangerous_permissions")
    for level in range(23, 37):
        try:
            declared = androconf.load_api_specific_resource_module("aosp_permissions", level)
        except Exception:   # a level androguard ships no file for
            continue
        if not declared:
            continue
        aosp = {name for name, details in declared.items() if "dangerous" in str(details.get("protectionLevel", "")).split("|")}
        ours = {entry.name for entry in table.dangerous if entry.since <= level}
        assert ours == aosp, f"API {level}: only ours {sorted(ours - aosp)}, only AOSP's {sorted(aosp - ours)}"


@pytest.mark.parametrize("kind", ["packers", "self_start", "dangerous_permissions"])
def test_every_entry_names_a_public_source(kind):
    loaded = load_data(kind)
    entries = {"packers": lambda: loaded.packers, "self_start": lambda: loaded.actions,
               "dangerous_permissions": lambda: loaded.dangerous}[kind]()
    assert entries and all(entry.source.startswith("https://") for entry in entries)


def test_packers_named_in_the_issue_are_there_with_stub_classes_or_libraries():
    packers = {packer.id: packer for packer in load_data("packers").packers}
    for wanted in ("qihoo360-jiagu", "bangcle", "ijiami", "tencent-legu", "baidu", "netease-yidun", "dingxiang"):
        assert wanted in packers
    assert "com.stub.StubApp" in packers["qihoo360-jiagu"].classes
    assert "libjiagu.so" in packers["qihoo360-jiagu"].libraries


def test_packer_stub_classes_are_not_under_an_sdk_prefix_except_their_own_vendors():
    """Exact stub classes never fall under an SDK's prefix, but a vendor's packer may share its SDK's package
    (NetEase's Yidun wrapper under com.netease.nis): the scan then counts those classes as the packer's."""
    prefixes = {prefix: sdk for sdk in load_sdks().sdks for prefix in sdk.prefixes}
    for packer in load_data("packers").packers:
        for name in (*packer.classes, *packer.packages):
            owners = [sdk for prefix, sdk in prefixes.items() if name == prefix or name.startswith(prefix + ".")]
            assert all(sdk.vendor.split()[0] in packer.vendor for sdk in owners), (packer.id, name, [s.id for s in owners])


def test_a_packer_without_indicators_is_refused(tmp_path):
    from monitor.errors import DataFileError

    bad = tmp_path / "packers.yaml"
    bad.write_text('version: "1"\npackers:\n  - {id: x, name: {en: X}, vendor: V, source: "https://example.org/x"}\n')
    with pytest.raises(DataFileError):
        load_data("packers", bad)
