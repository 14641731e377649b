import pytest

from monitor.testing.adbsim.pytest_fixtures import adb_env, frida_server_file, host_adb, make_sim, mitm_ca  # noqa: F401

REAL_DEVICE_SKIP = "needs a real Android device"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tests/conftest.py tests `"device" in item.keywords`, which also matches this folder's name;
    # only tests that carry the `device` marker need a real device.
    for item in items:
        if item.get_closest_marker("device") is None:
            item.own_markers[:] = [m for m in item.own_markers
                                   if not (m.name == "skip" and str(m.kwargs.get("reason", "")).startswith(REAL_DEVICE_SKIP))]
