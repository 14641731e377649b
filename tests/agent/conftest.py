"""Fixtures of the agent tests: real Frida against real local processes."""

from __future__ import annotations

import pytest

from monitor.data import load_catalogue
from monitor.data.models import Catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()
