"""Exit codes of `consentmon analyze` and `consentmon run`, table-tested: 1 only when the gate fails, every error
2 or more by its kind (monitor.devci.exitcodes.EXIT_CODES, which the README's table repeats)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.devci.exitcodes import EXIT_CODES, ExitCode

from .conftest import consentmon, umeng_before_consent

README = Path(__file__).resolve().parents[2] / "README.md"
ACCEPTING = """version: 1
accepted:
  - rule: before-consent
    subject: sdk:umeng
    categories: [device_id, wifi]
    reason: the SDK's early init is being moved behind the dialog (ticket APP-17)
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# (what, how the command line is built from the runs, expected code). `{umeng}` has one high
# before-consent case by the Umeng SDK; `{clean}` has none.
CASES = [
    ("no gate asked", ["analyze", "{umeng}"], ExitCode.OK),
    ("gated rule has a case", ["analyze", "{umeng}", "--fail-on", "before-consent"], ExitCode.GATE),
    ("another rule gated", ["analyze", "{umeng}", "--fail-on", "after-refusal,background"], ExitCode.OK),
    ("severity threshold reached", ["analyze", "{umeng}", "--fail-on", "high"], ExitCode.GATE),
    ("lower threshold includes high", ["analyze", "{umeng}", "--fail-on", "low"], ExitCode.GATE),
    ("repeated --fail-on", ["analyze", "{umeng}", "--fail-on", "after-refusal", "--fail-on", "before-consent"], ExitCode.GATE),
    ("any on a clean run", ["analyze", "{clean}", "--fail-on", "any"], ExitCode.OK),
    ("baseline accepts the case", ["analyze", "{umeng}", "--fail-on", "any", "--baseline", "{accepting}"], ExitCode.OK),
    ("baseline alone gates every case", ["analyze", "{umeng}", "--baseline", "{empty}"], ExitCode.GATE),
    ("expired acceptance", ["analyze", "{umeng}", "--fail-on", "high", "--baseline", "{expired}"], ExitCode.GATE),
    ("unknown rule in --fail-on", ["analyze", "{umeng}", "--fail-on", "before-consnet"], ExitCode.USAGE),
    ("empty --fail-on", ["analyze", "{umeng}", "--fail-on", ","], ExitCode.USAGE),
    ("unknown format", ["analyze", "{umeng}", "--format", "pdf"], ExitCode.USAGE),
    ("unknown option", ["analyze", "{umeng}", "--fail-onn", "high"], ExitCode.USAGE),
    ("time without a zone", ["analyze", "{umeng}", "--consent-at", "2026-01-01T08:00:00"], ExitCode.USAGE),
    ("run without a command", ["run", "--host", "--fail-on", "any", "--out", "{new}"], ExitCode.USAGE),
    ("not a run directory", ["analyze", "{empty_dir}", "--fail-on", "any"], ExitCode.RUN_DIR),
    ("malformed baseline", ["analyze", "{umeng}", "--fail-on", "any", "--baseline", "{malformed}"], ExitCode.DATA),
    ("missing baseline", ["analyze", "{umeng}", "--baseline", "{missing}"], ExitCode.DATA),
    ("malformed rules", ["analyze", "{umeng}", "--fail-on", "high", "--rules", "{malformed}"], ExitCode.DATA),
    ("target cannot start", ["run", "--host", "--fail-on", "any", "--out", "{new}", "--", "no-such-program-xyz"], ExitCode.RUN),
    ("output folder cannot be made", ["analyze", "{umeng}", "--format", "sarif", "--output-dir", "{under_file}"], ExitCode.ERROR),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("exit-codes")
    from .conftest import clean

    (root / "not-a-run").mkdir()
    _write(root / "a-file", "x")
    return {
        "umeng": str(umeng_before_consent(root / "umeng")),
        "clean": str(clean(root / "clean")),
        "accepting": str(_write(root / "accepting.yaml", ACCEPTING)),
        "empty": str(_write(root / "empty.yaml", "version: 1\naccepted: []\n")),
        "expired": str(_write(root / "expired.yaml", ACCEPTING + "    expires: 2020-01-31\n")),
        "malformed": str(_write(root / "malformed.yaml", "version: 1\naccepted:\n  - rule: before-consent\n    subjekt: app\n")),
        "missing": str(root / "no-such-baseline.yaml"),
        "empty_dir": str(root / "not-a-run"),
        "new": str(root / "new-run"),
        "under_file": str(root / "a-file" / "out"),
    }


@pytest.mark.parametrize(("what", "args", "expected"), CASES, ids=[case[0] for case in CASES])
def test_exit_code(what: str, args: list[str], expected: ExitCode, places: dict[str, str], tmp_path: Path) -> None:
    filled = [arg.format(**places) for arg in args]
    if "{new}" in args:
        filled[filled.index(places["new"])] = str(tmp_path / "new-run")
    result = consentmon(*filled)
    assert result.returncode == expected, f"{what}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr


def test_an_unexpected_exception_is_7_with_its_traceback_never_1(places: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.cli.analyze as analyze_module
    from monitor.cli.app import app

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the analyzer")

    monkeypatch.setattr(analyze_module, "analyze_run", broken)
    result = CliRunner().invoke(app, ["analyze", places["umeng"], "--fail-on", "any"])
    assert result.exit_code == ExitCode.INTERNAL, result.output
    assert "a bug in the analyzer" in result.output and "Traceback" in result.output


def test_every_code_is_in_the_table_once_and_only_1_means_the_gate() -> None:
    codes = [code for code, _ in EXIT_CODES]
    assert codes == sorted(set(codes)) == list(ExitCode)
    assert [code for code in codes if code == 1] == [ExitCode.GATE]


def test_the_readme_table_is_the_module_table() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `?(\d+)`? \| (.+?) \|$", section, flags=re.MULTILINE)
    assert [(int(code), meaning) for code, meaning in rows] == [(int(code), meaning) for code, meaning in EXIT_CODES]
