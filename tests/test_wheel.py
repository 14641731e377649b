"""The package as a user installs it: `pip install .` into a fresh venv outside the checkout, then
`consentmon demo` from an empty directory. Proves the demo and its app sources ship as package data and
that the installed product needs nothing from the test rig (tests/support) or the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.frida, pytest.mark.proxy]

ROOT = Path(__file__).resolve().parents[1]
RIG = ("adbsim", "stubgen", "native", "servers.py", "fixtures.py", "benchwriter.py", "pytest_fixtures.py")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    # A copy of what a source distribution holds, so building leaves nothing in the checkout.
    source = base / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "monitor", source / "monitor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    assert (source / "monitor" / "agent" / "_bundle" / "agent.js").exists(), "build the agent first (make agent)"
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # The dependencies come from the test venv (this machine may have no network); consentmon itself is built
    # and installed from the copy, not linked to the checkout: the test venv's editable-install hook is a
    # .pth file there, which a path listed in our own .pth does not run.
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps-from-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                             "--no-index", str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return env_dir


def test_the_installed_package_runs_the_demo_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import monitor, monitor.demo; print(monitor.__file__); "
                            "print(monitor.demo.DEMO_SOURCES)"], capture_output=True, text=True, check=True,
                           cwd=tmp_path).stdout.split()
    assert all(str(installed) in path for path in where), where  # the installed copy, not the checkout
    assert list(Path(where[1]).rglob("DemoApp.java")), "the demo app's sources are package data"
    package = Path(where[0]).parent
    shipped = {path.name for path in package.rglob("*")}
    assert not shipped & set(RIG), f"the test rig ships in the package: {sorted(shipped & set(RIG))}"
    out = tmp_path / "demo-run"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["COLUMNS"] = "200"
    result = subprocess.run([str(installed / "bin" / "consentmon"), "demo", "--out", str(out)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads((out / "findings.json").read_text())
    rules = {finding["rule"] for finding in findings["findings"]}
    assert {"before-consent", "third-party-transfer", "sdk-connects-before-consent"} <= rules
    assert (out / "report.html").exists()
    verify = subprocess.run([str(installed / "bin" / "consentmon"), "verify", str(out)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert sys.prefix not in where[0]
