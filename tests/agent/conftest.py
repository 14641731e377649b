"""Fixtures of the agent tests: real Frida against real local processes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from monitor.data import load_catalogue
from monitor.data.models import Catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def listener() -> Iterator[None]:
    """Something listening on loopback 27042, frida-server's default port, for the stealth probes to find (the
    tests using it skip when the port is taken on this machine)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("127.0.0.1", 27042))
    except OSError:
        server.close()
        pytest.skip("port 27042 is taken on this machine")
    server.listen(16)
    yield
    server.close()
