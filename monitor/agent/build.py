"""Builds the TypeScript agent (hooks/) into one JavaScript bundle with frida's own compiler.

The bundle lives in monitor/agent/_bundle/ with a stamp of the sources it came from, and is rebuilt
only when a source changed. An installed package without hooks/ uses the bundle it ships.

Two variants of the one agent: "phone" (agent.js) bundles frida-java-bridge exactly as published;
"host-art" (agent-host-art.js) is for Debian's ART 10 on a host and bundles the bridge with the guard
of host-art/frida-java-bridge.patch applied at build time to a copy (tests/art/).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import frida

from monitor.errors import AgentError

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLE_DIR = PACKAGE_DIR / "_bundle"
BUNDLE_FILE = BUNDLE_DIR / "agent.js"
STAMP_FILE = BUNDLE_DIR / "agent.json"
HOOKS_DIR = PACKAGE_DIR.parent.parent / "hooks"
VARIANT_PATCHES = {"phone": None, "host-art": PACKAGE_DIR / "host-art" / "frida-java-bridge.patch"}


def _bundle_paths(variant: str) -> tuple[Path, Path]:
    if variant not in VARIANT_PATCHES:
        raise AgentError(f"no agent variant {variant!r}", hint=f"one of {', '.join(VARIANT_PATCHES)}")
    if variant == "phone":
        return BUNDLE_FILE, STAMP_FILE
    return BUNDLE_DIR / f"agent-{variant}.js", BUNDLE_DIR / f"agent-{variant}.json"


def _source_files(hooks_dir: Path) -> list[Path]:
    files = sorted((hooks_dir / "src").rglob("*.ts"))
    files += [hooks_dir / name for name in ("package.json", "package-lock.json", "tsconfig.json") if (hooks_dir / name).exists()]
    bridge = hooks_dir / "node_modules" / "frida-java-bridge" / "package.json"
    if bridge.exists():
        files.append(bridge)
    return files


def sources_digest(hooks_dir: Path = HOOKS_DIR, variant: str = "phone") -> str:
    digest = hashlib.sha256(frida.__version__.encode())
    patch = VARIANT_PATCHES[variant]
    if patch is not None:
        digest.update(b"patch\0" + patch.read_bytes() + b"\0")
    for path in _source_files(hooks_dir):
        digest.update(path.relative_to(hooks_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _stamp(variant: str = "phone") -> dict[str, str]:
    try:
        return json.loads(_bundle_paths(variant)[1].read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def apply_patch(package_dir: Path, patch_text: str) -> None:
    """Apply a unified diff (paths relative to package_dir, as `--- lib/x.js`). Strict: every hunk's old
    text must occur exactly once, so a bridge version the patch was not written for fails the build."""
    for file_part in re.split(r"^(?=--- )", patch_text, flags=re.M)[1:]:
        target = package_dir / re.search(r"^\+\+\+ (\S+)", file_part, re.M).group(1)
        text = target.read_text()
        for hunk in re.split(r"^@@[^\n]*\n", file_part, flags=re.M)[1:]:
            lines = [line if line != "\n" else " \n" for line in hunk.splitlines(keepends=True)]
            old = "".join(line[1:] for line in lines if line[0] in " -")
            new = "".join(line[1:] for line in lines if line[0] in " +")
            if text.count(old) != 1:
                raise AgentError(f"{target.name}: a hunk of the host-ART patch matches {text.count(old)} times",
                                 hint="frida-java-bridge changed: update monitor/agent/host-art/frida-java-bridge.patch")
            text = text.replace(old, new)
        target.write_text(text)


def _patched_copy(hooks_dir: Path, patch: Path, into: Path) -> Path:
    """A copy of the agent project whose frida-java-bridge carries the patch; hooks/ stays untouched."""
    for name in ("src", "node_modules"):
        shutil.copytree(hooks_dir / name, into / name, symlinks=True)
    for name in ("package.json", "package-lock.json", "tsconfig.json"):
        if (hooks_dir / name).exists():
            shutil.copy2(hooks_dir / name, into / name)
    apply_patch(into / "node_modules" / "frida-java-bridge", patch.read_text())
    return into


def build_agent(hooks_dir: Path = HOOKS_DIR, *, force: bool = False, variant: str = "phone") -> Path:
    """Return the path of an up-to-date agent bundle, compiling it if the sources changed."""
    bundle_file, stamp_file = _bundle_paths(variant)
    if not (hooks_dir / "src").is_dir():
        if bundle_file.exists():
            return bundle_file
        raise AgentError("the agent bundle is missing and there are no agent sources to build it from",
                         hint="reinstall consentmon, or run `make agent` in a source checkout")
    if not (hooks_dir / "node_modules" / "frida-java-bridge").is_dir():
        raise AgentError(f"{hooks_dir}/node_modules/frida-java-bridge is missing",
                         hint=f"run `npm ci` in {hooks_dir} (or `make agent`)")
    digest = sources_digest(hooks_dir, variant)
    if not force and bundle_file.exists() and _stamp(variant).get("sources_sha256") == digest:
        return bundle_file
    compiler = frida.Compiler()
    diagnostics: list[str] = []
    compiler.on("diagnostics", lambda items: diagnostics.extend(_describe(item) for item in items))
    patch = VARIANT_PATCHES[variant]
    try:
        with tempfile.TemporaryDirectory(prefix=f"consentmon-agent-{variant}-") as scratch:
            project = hooks_dir if patch is None else _patched_copy(hooks_dir, patch, Path(scratch))
            bundle = compiler.build("src/index.ts", project_root=str(project))
    except frida.InvalidArgumentError as exc:
        detail = "\n".join(diagnostics) or str(exc)
        raise AgentError(f"the agent does not compile:\n{detail}", hint=f"fix the TypeScript in {hooks_dir}/src") from exc
    if diagnostics:
        raise AgentError("the agent compiled with type errors:\n" + "\n".join(diagnostics), hint=f"fix the TypeScript in {hooks_dir}/src")
    BUNDLE_DIR.mkdir(parents=True, exist_ok=True)
    bundle_file.write_text(bundle)
    stamp_file.write_text(json.dumps({
        "sources_sha256": digest,
        "bundle_sha256": hashlib.sha256(bundle.encode()).hexdigest(),
        "frida": frida.__version__,
        "variant": variant,
    }, indent=2))
    return bundle_file


def _describe(item: dict) -> str:
    where = item.get("file", {}) or {}
    path = where.get("path", "?")
    line = where.get("line")
    position = f"{path}:{line + 1}" if isinstance(line, int) else path
    return f"{position}: TS{item.get('code', '?')}: {item.get('text', item)}"


def bundle_info(variant: str = "phone") -> dict[str, str]:
    """Versions for run.json: which agent recorded a run."""
    stamp = _stamp(variant)
    return {"bundle_sha256": stamp.get("bundle_sha256", "unknown"), "frida": frida.__version__, "variant": variant}


def main() -> None:
    path = build_agent(force=False)
    print(f"agent bundle: {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
