"""Tests on Android's own runtime (host ART 10, tests/support/art): the runtime is built on first use."""

from support.art.fixtures import art10, art_stub_program  # noqa: F401
