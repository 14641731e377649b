"""pytest fixtures around the simulated device: a private real adb server, devices of any Android
version connected to it, a real mitmproxy CA and a frida-server stand-in carrying the installed
frida version. Import them into a conftest.py."""

from __future__ import annotations

import lzma
from pathlib import Path
from typing import Callable, Iterator

import pytest

from support.adbsim.hostadb import HostAdb
from support.adbsim.profiles import build_state
from support.adbsim.server import SimDevice


@pytest.fixture(scope="session")
def host_adb() -> Iterator[HostAdb]:
    with HostAdb() as adb:
        yield adb


@pytest.fixture()
def adb_env(host_adb: HostAdb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HostAdb:
    """Point adbutils and consentmon at the private adb server, and keep device state files and
    the mitmproxy folder inside the test's own directory."""
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(host_adb.port))
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    monkeypatch.delenv("CONSENTMON_SERIAL", raising=False)
    monkeypatch.setenv("CONSENTMON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MITMPROXY_CONFDIR", str(tmp_path / "no-mitmproxy"))
    return host_adb


@pytest.fixture()
def make_sim(adb_env: HostAdb) -> Iterator[Callable[..., SimDevice]]:
    started: list[SimDevice] = []

    def factory(android: int = 14, **state_options) -> SimDevice:
        device = SimDevice(build_state(android, **state_options)).start()
        started.append(device)
        adb_env.connect(device.serial)
        return device

    yield factory
    for device in started:
        adb_env.disconnect(device.serial)
        device.stop()


@pytest.fixture(scope="session")
def mitm_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA made by mitmproxy itself, as `mitmdump` makes on first start."""
    from mitmproxy.certs import CertStore

    confdir = tmp_path_factory.mktemp("mitmproxy")
    CertStore.from_store(confdir, "mitmproxy", 2048)
    return confdir / "mitmproxy-ca-cert.pem"


@pytest.fixture()
def frida_server_file(tmp_path: Path) -> Path:
    """A frida-server stand-in, .xz-packed like Frida's releases; the simulated device recognises
    it by the version marker and runs it as a frida-server of that version."""
    import frida

    path = tmp_path / f"frida-server-{frida.__version__}-android-x86_64.xz"
    path.write_bytes(lzma.compress(b"\x7fELF\x02\x01\x01 FRIDA_SERVER_VERSION=" + frida.__version__.encode()))
    return path
