"""The 39 app types of 国信办秘字〔2021〕14号: complete, in order, mapped onto categories the rules can use."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.data import load_catalogue
from monitor.data import load_app_types
from monitor.data.scope_models import AppTypeTable
from monitor.data.yamlfile import load_model
from monitor.errors import DataFileError

# Article 5's order, as listed in shared/reference/regulations.md.
REGULATION_ORDER = [
    "地图导航", "网络约车", "即时通信", "网络社区", "网络支付", "网上购物", "餐饮外卖", "邮件快件寄递", "交通票务",
    "婚恋相亲", "求职招聘", "网络借贷", "房屋租售", "二手车交易", "问诊挂号", "旅游服务", "酒店服务", "网络游戏",
    "学习教育", "本地生活", "女性健康", "用车服务", "投资理财", "手机银行", "邮箱云盘", "远程会议", "网络直播",
    "在线影音", "短视频", "新闻资讯", "运动健身", "浏览器", "输入法", "安全管理", "电子图书", "拍摄美化", "应用商店",
    "实用工具", "演出票务",
]
NO_PI_TYPES = {"女性健康", "网络直播", "在线影音", "短视频", "新闻资讯", "运动健身", "浏览器", "输入法", "安全管理",
               "电子图书", "拍摄美化", "应用商店", "实用工具"}


@pytest.fixture(scope="module")
def table() -> AppTypeTable:
    return load_app_types()


def test_exactly_the_39_types_in_the_regulations_order(table: AppTypeTable) -> None:
    assert [t.name_zh for t in table.types] == REGULATION_ORDER


def test_the_13_no_pi_types_need_nothing_and_the_others_need_something(table: AppTypeTable) -> None:
    empty = {t.name_zh for t in table.types if not t.necessary}
    assert empty == NO_PI_TYPES
    assert all(t.necessary_zh == [] for t in table.types if t.name_zh in NO_PI_TYPES)


def test_every_necessary_category_is_declared_with_labels(table: AppTypeTable) -> None:
    used = {c for t in table.types for c in t.necessary}
    assert used - set(table.categories) == set()
    assert all(table.categories[c].zh and table.categories[c].en for c in used)


def test_hookable_categories_are_ones_the_catalogue_hooks(table: AppTypeTable) -> None:
    hooked = set(load_catalogue().categories())
    assert set(table.hookable_categories()) - hooked == set()


def test_no_type_needs_device_ids_app_lists_or_the_address_book(table: AppTypeTable) -> None:
    # The regulation lists none of these for any type; a read of them is never "necessary".
    for category in ("device_id", "installed_apps", "running_apps", "contacts", "call_log", "sms", "clipboard"):
        assert [t.id for t in table.types if t.requires(category)] == []


def test_location_is_necessary_only_where_the_regulation_names_it(table: AppTypeTable) -> None:
    assert [t.id for t in table.types if t.requires("location")] == ["map_navigation", "ride_hailing", "vehicle_service"]


def test_lookup_by_id_and_by_chinese_name(table: AppTypeTable) -> None:
    assert table.get("map_navigation").name_zh == "地图导航"
    assert table.get("地图导航").id == "map_navigation"
    assert table.get("地图导航类").id == "map_navigation"
    assert table.get(" 网上购物 ").id == "online_shopping"
    assert table.get("Online_Shopping").id == "online_shopping"


def test_unknown_type_error_lists_the_valid_ids(table: AppTypeTable) -> None:
    with pytest.raises(DataFileError) as caught:
        table.get("宠物社交")
    message = str(caught.value)
    assert "宠物社交" in message
    assert all(app_type_id in message for app_type_id in table.ids())


def test_ids_are_unique_slugs(table: AppTypeTable) -> None:
    assert len(set(table.ids())) == 39


def test_verified_entries_name_the_regulation(table: AppTypeTable) -> None:
    assert all("14号" in t.source for t in table.types if t.verified)


def test_the_loader_is_cached() -> None:
    assert load_app_types() is load_app_types()


def test_an_undeclared_category_is_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "app_types.yaml"
    bad.write_text(
        'version: "1"\n'
        'regulation: "国信办秘字〔2021〕14号"\n'
        "categories:\n"
        "  location: {zh: 位置信息, en: Location, hookable: true}\n"
        "types:\n"
        "  - id: map_navigation\n"
        "    name_zh: 地图导航\n"
        "    name_en: Map and navigation\n"
        "    basic_function_zh: 定位和导航\n"
        "    basic_function_en: Positioning and navigation\n"
        "    necessary_zh: [位置信息、出发地、到达地]\n"
        "    necessary: [location, trip_endpoints]\n"
        "    verified: true\n"
        '    source: "国信办秘字〔2021〕14号"\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        load_model(bad, AppTypeTable)
    assert str(bad) in str(caught.value) and "trip_endpoints" in str(caught.value)


def test_wording_without_mapping_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "app_types.yaml"
    bad.write_text(
        'version: "1"\n'
        'regulation: "国信办秘字〔2021〕14号"\n'
        "categories: {}\n"
        "types:\n"
        "  - id: online_game\n"
        "    name_zh: 网络游戏\n"
        "    name_en: Online games\n"
        "    basic_function_zh: 提供网络游戏产品和服务\n"
        "    basic_function_en: Online game products and services\n"
        "    necessary_zh: [注册用户移动电话号码]\n"
        "    verified: false\n"
        '    source: "国信办秘字〔2021〕14号"\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        load_model(bad, AppTypeTable)
    assert f"{bad}:5" in str(caught.value)
