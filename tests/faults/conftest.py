"""The fault suite's fixtures and the hypothesis profiles of its fuzz tests.

`fuzz` is the profile CI runs (`make fuzz`: CONSENTMON_FUZZ=10000, i.e. 10 000 cases per fuzz test);
`make test` runs the same tests under `fuzz-quick` (a few hundred cases each) so it stays fast.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from support.fixtures import adb_env, frida_server_file, host_adb, make_sim, mitm_ca  # noqa: F401

FUZZ_CASES = int(os.environ.get("CONSENTMON_FUZZ", "0") or 0)
settings.register_profile("fuzz", max_examples=FUZZ_CASES or 10_000, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                 HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
settings.register_profile("fuzz-quick", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                 HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: hypothesis fuzzing of a reader (CONSENTMON_FUZZ=N runs N cases each)")
    config.addinivalue_line("markers", "soak: the long-running soak (make soak MINUTES=N)")
