"""Builds the TypeScript agent (hooks/) into one JavaScript bundle with frida's own compiler.

The bundle lives in monitor/agent/_bundle/ with a stamp of the sources it came from, and is rebuilt
only when a source changed. An installed package without hooks/ uses the bundle it ships.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import frida

from monitor.errors import AgentError

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLE_DIR = PACKAGE_DIR / "_bundle"
BUNDLE_FILE = BUNDLE_DIR / "agent.js"
STAMP_FILE = BUNDLE_DIR / "agent.json"
HOOKS_DIR = PACKAGE_DIR.parent.parent / "hooks"


def _source_files(hooks_dir: Path) -> list[Path]:
    files = sorted((hooks_dir / "src").rglob("*.ts"))
    files += [hooks_dir / name for name in ("package.json", "package-lock.json", "tsconfig.json") if (hooks_dir / name).exists()]
    bridge = hooks_dir / "node_modules" / "frida-java-bridge" / "package.json"
    if bridge.exists():
        files.append(bridge)
    return files


def sources_digest(hooks_dir: Path = HOOKS_DIR) -> str:
    digest = hashlib.sha256(frida.__version__.encode())
    for path in _source_files(hooks_dir):
        digest.update(path.relative_to(hooks_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _stamp() -> dict[str, str]:
    try:
        return json.loads(STAMP_FILE.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def build_agent(hooks_dir: Path = HOOKS_DIR, *, force: bool = False) -> Path:
    """Return the path of an up-to-date agent bundle, compiling it if the sources changed."""
    if not (hooks_dir / "src").is_dir():
        if BUNDLE_FILE.exists():
            return BUNDLE_FILE
        raise AgentError("the agent bundle is missing and there are no agent sources to build it from",
                         hint="reinstall consentmon, or run `make agent` in a source checkout")
    if not (hooks_dir / "node_modules" / "frida-java-bridge").is_dir():
        raise AgentError(f"{hooks_dir}/node_modules/frida-java-bridge is missing",
                         hint=f"run `npm ci` in {hooks_dir} (or `make agent`)")
    digest = sources_digest(hooks_dir)
    if not force and BUNDLE_FILE.exists() and _stamp().get("sources_sha256") == digest:
        return BUNDLE_FILE
    compiler = frida.Compiler()
    diagnostics: list[str] = []
    compiler.on("diagnostics", lambda items: diagnostics.extend(_describe(item) for item in items))
    try:
        bundle = compiler.build("src/index.ts", project_root=str(hooks_dir))
    except frida.InvalidArgumentError as exc:
        detail = "\n".join(diagnostics) or str(exc)
        raise AgentError(f"the agent does not compile:\n{detail}", hint=f"fix the TypeScript in {hooks_dir}/src") from exc
    if diagnostics:
        raise AgentError("the agent compiled with type errors:\n" + "\n".join(diagnostics), hint=f"fix the TypeScript in {hooks_dir}/src")
    BUNDLE_DIR.mkdir(parents=True, exist_ok=True)
    BUNDLE_FILE.write_text(bundle)
    STAMP_FILE.write_text(json.dumps({
        "sources_sha256": digest,
        "bundle_sha256": hashlib.sha256(bundle.encode()).hexdigest(),
        "frida": frida.__version__,
    }, indent=2))
    return BUNDLE_FILE


def _describe(item: dict) -> str:
    where = item.get("file", {}) or {}
    path = where.get("path", "?")
    line = where.get("line")
    position = f"{path}:{line + 1}" if isinstance(line, int) else path
    return f"{position}: TS{item.get('code', '?')}: {item.get('text', item)}"


def bundle_info() -> dict[str, str]:
    """Versions for run.json: which agent recorded a run."""
    stamp = _stamp()
    return {"bundle_sha256": stamp.get("bundle_sha256", "unknown"), "frida": frida.__version__}


def main() -> None:
    path = build_agent(force=False)
    print(f"agent bundle: {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
