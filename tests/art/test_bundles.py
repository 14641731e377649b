"""One agent, two bundles: the phone bundle is frida-java-bridge exactly as published; the host-ART
bundle differs from it by the host guards of monitor/agent/host-art/frida-java-bridge.patch and nothing else."""

from __future__ import annotations

import difflib
import re

import pytest

from monitor.agent.build import HOOKS_DIR, VARIANT_PATCHES, build_agent
from monitor.errors import AgentError
from monitor.agent.build import apply_patch

PATCH = VARIANT_PATCHES["host-art"]


def _normal(line: str) -> str:
    """A source line as frida's compiler writes it into a bundle: hex literals in decimal, its own spacing,
    quotes and declarations (const → var /* @__PURE__ */), and a name may get a number appended where it
    would collide (vm → vm3): compared without any of these."""
    line = re.sub(r"\b0x([0-9a-fA-F]+)\b", lambda match: str(int(match.group(1), 16)), line).strip()
    line = re.sub(r"^(?:const|let|var)\s", "", line.replace("/* @__PURE__ */", "").replace("/*@__PURE__*/", ""))
    return re.sub(r"\s+", "", re.sub(r"\b([A-Za-z_$][A-Za-z_$]*)\d+\b", r"\1", line)).replace("'", '"')


def _code(line: str) -> bool:
    return bool(line) and not line.startswith("//")   # the compiler keeps code, not necessarily comments


def _patch_lines(sign: str) -> list[str]:
    body = PATCH.read_text().split("\n--- ", 1)[1]
    lines = [_normal(line[1:]) for line in body.splitlines() if line.startswith(sign) and not line.startswith(sign * 3)]
    return [line for line in lines if _code(line)]


def _javascript(bundle: str) -> list[str]:
    """The code of a frida bundle ("📦", a size and path per file, then "✄" before each file): index.js."""
    return bundle.split("\n✄\n")[1].splitlines()


def test_the_phone_bundle_carries_no_patch() -> None:
    phone = "\n".join(_normal(line) for line in _javascript(build_agent().read_text()))
    bridge = (HOOKS_DIR / "node_modules/frida-java-bridge/lib/android.js").read_text()
    distinctive = [line for line in _patch_lines("+") if len(line) >= 20]   # not a lone brace or `return;`
    assert len(distinctive) >= 5
    for line in distinctive:
        assert line not in phone and line not in bridge, line
    for line in _patch_lines("-"):
        assert line in phone, line   # the published code is there, as published


def test_the_host_art_bundle_is_the_phone_bundle_plus_the_patch_and_nothing_else() -> None:
    phone = _javascript(build_agent().read_text())
    host = _javascript(build_agent(variant="host-art").read_text())
    diff = [line for line in difflib.unified_diff(phone, host, lineterm="", n=0) if not line.startswith(("---", "+++", "@@"))]
    removed = [_normal(line[1:]) for line in diff if line.startswith("-") and _code(_normal(line[1:]))]
    added = [_normal(line[1:]) for line in diff if line.startswith("+") and _code(_normal(line[1:]))]
    assert removed == _patch_lines("-")
    assert added == _patch_lines("+")


def test_a_bridge_the_patch_was_not_written_for_fails_the_build_with_the_fix(tmp_path: pytest.TempPathFactory) -> None:
    bridge = tmp_path / "frida-java-bridge"   # type: ignore[operator]
    (bridge / "lib").mkdir(parents=True)
    (bridge / "lib/android.js").write_text("// another version\n")
    with pytest.raises(AgentError) as raised:
        apply_patch(bridge, PATCH.read_text())
    assert "frida-java-bridge.patch" in raised.value.hint
