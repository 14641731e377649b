"""pytest fixtures of the host ART tests (tests/art/conftest.py imports them).

`art10` builds the runtime on first use in a session, or finds it in the cache (≤ 5 s): `make test`
therefore builds it exactly when ART tests are selected, and a run of other tests never waits for it.
Where Debian's registry cannot be reached, every ART test is skipped with one line saying why; a build
step that fails is an error of each ART test, with the step's one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from monitor.data import load_catalogue
from monitor.hostart import HostArt

from support.art.build import BuildError, RegistryUnreachable, ensure_runtime
from support.art.stubs import StubProgram, stub_program


@pytest.fixture(scope="session")
def art10(request: pytest.FixtureRequest) -> Iterator[HostArt]:
    if os.environ.get("CONSENTMON_ART", "").lower() in ("0", "off", "no"):
        pytest.skip("host ART tests switched off (CONSENTMON_ART=off)")
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def progress(line: str) -> None:   # a cold build takes a minute or two: show its steps
        if capture is None:
            return
        with capture.global_and_fixture_disabled():
            print(line, flush=True)

    try:
        home = ensure_runtime(progress=progress)
    except RegistryUnreachable as error:
        pytest.skip(f"host ART not built, Debian's registry is unreachable: {error.reason}")
    except BuildError as error:
        pytest.fail(str(error), pytrace=False)
    yield HostArt(home)


@pytest.fixture(scope="session")
def art_stub_program(art10: HostArt) -> StubProgram:
    try:
        return stub_program(art10, load_catalogue())
    except BuildError as error:
        pytest.fail(str(error), pytrace=False)
