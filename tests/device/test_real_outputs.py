"""The device parsers against real outputs of several Android versions (issue 5).

Every file read here is real tool output found in public sources; tests/data/android/README.md
names each source and what was left out. The expected values are read off the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.device.parsers import parse_getprop, parse_setting
from monitor.scenario.uitree import find_by_text, parse_ui

DATA = Path(__file__).resolve().parents[1] / "data" / "android"

# file, {property: value} as printed in that file
GETPROP_FACTS = [
    ("getprop-android6-emulator.txt", {
        "ro.build.version.sdk": "23",
        "ro.build.version.release": "6.0",
        "ro.product.cpu.abilist": "x86_64,x86",
        "ro.product.model": "Android SDK built for x86_64",
        "ro.build.type": "userdebug",
    }),
    ("getprop-android9-gwm-headunit.txt", {
        "ro.build.version.sdk": "28",
        "ro.build.version.release": "9",
        "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
        "ro.product.model": "msmnile_gvmq for arm64",
        "ro.hardware.type": "automotive",
    }),
    ("getprop-android10-samsung-starlte.txt", {
        # This excerpt holds the vendor copies of the build properties only.
        "ro.vendor.build.version.sdk": "29",
        "ro.vendor.build.version.release": "10",
        "ro.vendor.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
        "ro.vndk.version": "29",
    }),
    ("getprop-android12-huawei-matepad.txt", {
        "ro.build.version.sdk": "31",
        "ro.build.version.release": "12",
        "ro.product.cpu.abi": "arm64-v8a",
        "ro.product.model": "WGR-W09",
        "ro.config.marketing_name": "HUAWEI MatePad Pro",
    }),
]


@pytest.mark.parametrize(("name", "facts"), GETPROP_FACTS, ids=[n for n, _ in GETPROP_FACTS])
def test_getprop_of_real_devices(name, facts):
    text = (DATA / name).read_text(encoding="utf-8")
    props = parse_getprop(text)
    for key, value in facts.items():
        assert props[key] == value, key
    # Every line of these files is one property; none is lost or merged with the next.
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(props) == len(lines)


def test_getprop_keeps_empty_values_and_values_with_spaces_and_brackets():
    props = parse_getprop((DATA / "getprop-android6-emulator.txt").read_text(encoding="utf-8"))
    assert props["ro.serialno"] == ""
    assert props["ro.build.date"] == "Thu Jul  7 15:55:30 UTC 2016"
    head = parse_getprop((DATA / "getprop-android9-gwm-headunit.txt").read_text(encoding="utf-8"))
    assert head["persist.beantechs.pki.acttime"] == "2022年11月19日 01:21:31"
    assert head["ro.bosch.dbc.ver"] == "B30-006-014DB01  CAN DataBase for SC-CAN_V6.0"


def test_settings_list_global_lines_read_with_parse_setting():
    text = (DATA / "settings-list-global-android-unknown-console.txt").read_text(encoding="utf-8")
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key] = parse_setting(value)
    assert values["adb_enabled"] == "1"
    assert values["airplane_mode_radios"] == "cell,bluetooth,wifi,nfc,wimax"
    # An empty value is the empty string, not "not set".
    assert values["Phenotype_flags"] == ""
    assert parse_setting("null\n") is None


def test_uiautomator_dump_of_a_real_app_screen_with_chinese_text():
    nodes = parse_ui((DATA / "uiautomator-dump-android-unknown-hccr-app.xml").read_text(encoding="utf-8"))
    assert len(nodes) == 6
    assert nodes[0].bounds == (0, 0, 1200, 1920)
    assert [n.text for n in nodes if n.text] == ["hccr_sdk_1.0", "HCCR  SDK", "手写识别"]
    button = find_by_text(nodes, "手写识别")
    assert button is not None
    assert button.cls == "android.widget.Button"
    assert button.clickable
    assert button.resource_id == "com.example.hccr_sdk_10:id/inference"
    assert button.bounds == (0, 976, 1200, 1076)
    assert button.center == (600, 1026)
    image = next(n for n in nodes if n.content_desc == "image")
    assert image.label == "image"
