"""Real APKs for the scan tests, built by Debian's Android tools at test time.

    smali (libsmali-java)   class stubs → classes.dex (and classes2.dex): Debian has no dx/d8 in bookworm,
                            and smali is the assembler of the dex format itself
    aapt (aapt)             AndroidManifest.xml + res/xml → binary XML, resources.arsc, the zip
    zipalign, apksigner     4-byte alignment, then a v1 + v2 + v3 signature with a keytool key
                            (apksigner, keytool from the JDK)

Each APK is built once per set of inputs under `<cache>/apkbuild/<hash>/` (cache_root: $CONSENTMON_CACHE or
~/.cache/consentmon; the hash covers the spec, this file and the tools' versions), in a staging folder
renamed into place. `missing_tools()` names the Debian packages a machine lacks (.ci/run installs them).
Native libraries are stand-in files with the names real apps ship: the scan reads names, not code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from monitor.cache import cache_root

FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
TOOLS = {"smali": "libsmali-java", "aapt": "aapt", "zipalign": "zipalign", "apksigner": "apksigner",
         "keytool": "openjdk-17-jre-headless"}
RECEIVER = "android.content.BroadcastReceiver"
APPLICATION = "android.app.Application"


class ApkBuildError(Exception):
    """A build step failed; str() names the step, the tool's last lines and the fix."""


@dataclass(frozen=True)
class Receiver:
    name: str
    actions: tuple[str, ...]
    exported: bool = False


@dataclass(frozen=True)
class ApkSpec:
    package: str
    version_code: int = 1
    version_name: str = "1.0"
    min_sdk: int = 21
    target_sdk: int = 33
    permissions: tuple[str, ...] = ()
    application: str | None = None               # android:name of <application> (a packer's stub, say)
    receivers: tuple[Receiver, ...] = ()
    services: tuple[str, ...] = ()               # <service> entries only: no class in the dex (as in a packed app)
    classes: tuple[str, ...] = ()                # more classes in classes.dex
    classes2: tuple[str, ...] = ()               # classes in a second dex (multidex)
    files: tuple[str, ...] = ()                  # other APK entries, e.g. lib/arm64-v8a/libjiagu.so, assets/x
    network_security_config: str | None = None   # the XML of res/xml/network_security_config.xml
    uses_cleartext: bool | None = None           # android:usesCleartextTraffic
    debuggable: bool = False
    split: str | None = None                     # makes a config split (<manifest split="…">)
    rotated: bool = False                        # key rotation: v1/v2 by an older key, v3 by the current one (a lineage)


@dataclass(frozen=True)
class BuiltApk:
    path: Path
    signer_sha256: str          # SHA-256 of the signing certificate, as keytool exports it
    spec: ApkSpec = field(repr=False)


def missing_tools() -> list[str]:
    """Debian packages to install for building APKs here ([] when all are present)."""
    missing = sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})
    if not FRAMEWORK_RES.exists():
        missing.append("android-framework-res")
    return missing


def _run(step: str, argv: list[str], cwd: Path, fix: str) -> str:
    try:
        result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ApkBuildError(f"apk build, step '{step}': {error} — fix: {fix}") from error
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-4:])
        raise ApkBuildError(f"apk build, step '{step}' exited {result.returncode}: {tail[:500]} — fix: {fix}")
    return result.stdout


def _tool_versions() -> list[str]:
    """The Debian package version of each tool (its path where dpkg does not know it): part of the cache key."""
    versions = []
    for name, package in TOOLS.items():
        try:
            version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True,
                                     timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            version = ""
        path = shutil.which(name)
        versions.append(f"{name}={version or (os.path.realpath(path) if path else None)}")
    versions.append(hashlib.sha256(FRAMEWORK_RES.read_bytes()).hexdigest()[:16] if FRAMEWORK_RES.exists() else "no-framework-res")
    return versions


def _descriptor(name: str) -> str:
    return "L" + name.replace(".", "/") + ";"


def _smali(name: str, superclass: str = "java.lang.Object") -> str:
    """A class with a constructor (and onReceive for a receiver), in smali, the dex assembler's language."""
    body = [f".class public {_descriptor(name)}", f".super {_descriptor(superclass)}",
            f'.source "{name.rsplit(".", 1)[-1]}.java"', "",
            ".method public constructor <init>()V", "    .registers 1",
            f"    invoke-direct {{p0}}, {_descriptor(superclass)}-><init>()V", "    return-void", ".end method", ""]
    if superclass == RECEIVER:
        body += [".method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V", "    .registers 3",
                 "    return-void", ".end method", ""]
    return "\n".join(body)


def _manifest(spec: ApkSpec) -> str:
    android = 'xmlns:android="http://schemas.android.com/apk/res/android"'
    split = f' split="{spec.split}"' if spec.split else ""
    lines = [f'<manifest {android} package="{spec.package}" android:versionCode="{spec.version_code}" '
             f'android:versionName="{spec.version_name}"{split}>',
             f'  <uses-sdk android:minSdkVersion="{spec.min_sdk}" android:targetSdkVersion="{spec.target_sdk}"/>']
    lines += [f'  <uses-permission android:name="{name}"/>' for name in spec.permissions]
    attrs = []
    if spec.application:
        attrs.append(f'android:name="{spec.application}"')
    if spec.network_security_config is not None:
        attrs.append('android:networkSecurityConfig="@xml/network_security_config"')
    if spec.uses_cleartext is not None:
        attrs.append(f'android:usesCleartextTraffic="{str(spec.uses_cleartext).lower()}"')
    if spec.debuggable:
        attrs.append('android:debuggable="true"')
    lines.append(f'  <application {" ".join(attrs)}>')
    lines += [f'    <service android:name="{name}" android:exported="false"/>' for name in spec.services]
    for receiver in spec.receivers:
        lines.append(f'    <receiver android:name="{receiver.name}" android:exported="{str(receiver.exported).lower()}">')
        lines.append("      <intent-filter>")
        lines += [f'        <action android:name="{action}"/>' for action in receiver.actions]
        lines += ["      </intent-filter>", "    </receiver>"]
    lines += ["  </application>", "</manifest>", ""]
    return "\n".join(lines)


def _keystore(folder: Path, name: str = "signer") -> tuple[Path, str]:
    """A fixed signing key (made once per cache folder) and its certificate's SHA-256."""
    store = folder / f"{name}.p12"
    if not store.exists():
        staging = folder / f".signer-{os.getpid()}.p12"
        staging.unlink(missing_ok=True)
        _run("keytool -genkeypair", ["keytool", "-genkeypair", "-keystore", str(staging), "-storetype", "PKCS12",
                                     "-storepass", "consentmon", "-alias", "signer", "-keyalg", "EC", "-groupname",
                                     "secp256r1", "-validity", "36500", "-dname", f"CN=consentmon scan test {name}"],
             folder, "install a JDK (openjdk-17-jre-headless)")
        staging.replace(store)
    der = subprocess.run(["keytool", "-exportcert", "-keystore", str(store), "-storetype", "PKCS12", "-storepass",
                          "consentmon", "-alias", "signer"], capture_output=True, check=True, timeout=120).stdout
    return store, hashlib.sha256(der).hexdigest()


def build_apk(spec: ApkSpec, *, cache: Path | None = None) -> BuiltApk:
    """The signed APK for `spec`, built now or taken from the cache."""
    missing = missing_tools()
    if missing:
        raise ApkBuildError(f"apk build: missing tools — fix: apt-get install {' '.join(missing)} (.ci/run does)")
    root = (cache or cache_root()) / "apkbuild"
    root.mkdir(parents=True, exist_ok=True)
    store, signer_sha256 = _keystore(root)
    old_store, _ = _keystore(root, "signer-old") if spec.rotated else (None, None)
    key = hashlib.sha256(json.dumps([asdict(spec), _tool_versions(), signer_sha256], sort_keys=True).encode()
                         + Path(__file__).read_bytes()).hexdigest()[:20]
    home = root / key
    apk = home / f"{spec.package}.apk"
    if apk.exists():
        return BuiltApk(apk, signer_sha256, spec)
    staging = root / f".staging-{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _build(spec, staging, store, old_store)
        if not apk.exists():           # another process may have finished the same build meanwhile: keep its
            shutil.rmtree(home, ignore_errors=True)
            try:
                staging.rename(home)
            except OSError:
                if not apk.exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuiltApk(apk, signer_sha256, spec)


def _build(spec: ApkSpec, staging: Path, store: Path, old_store: Path | None) -> None:
    work = staging / "work"
    (work / "res").mkdir(parents=True)
    (work / "AndroidManifest.xml").write_text(_manifest(spec))
    if spec.network_security_config is not None:
        (work / "res/xml").mkdir()
        (work / "res/xml/network_security_config.xml").write_text(spec.network_security_config)
    main_classes = {name: "java.lang.Object" for name in spec.classes}
    main_classes.update({receiver.name: RECEIVER for receiver in spec.receivers})
    if spec.application:
        main_classes[spec.application] = APPLICATION
    entries = []
    for dex, classes in (("classes.dex", main_classes), ("classes2.dex", {n: "java.lang.Object" for n in spec.classes2})):
        if not classes:
            continue
        source = work / f"smali-{dex}"
        for name, superclass in classes.items():
            path = source / (name.replace(".", "/") + ".smali")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_smali(name, superclass))
        _run(f"smali {dex}", ["smali", "assemble", "--api", str(spec.min_sdk), "-o", str(work / dex), str(source)],
             work, "the class names must be valid Java names")
        entries.append(dex)
    for relative in spec.files:
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"stand-in for {relative} (consentmon scan test)\n".encode())
        entries.append(relative)
    unsigned, aligned = staging / "unsigned.apk", staging / "aligned.apk"
    _run("aapt package", ["aapt", "package", "-f", "-M", "AndroidManifest.xml", "-S", "res", "-I", str(FRAMEWORK_RES),
                          "-F", str(unsigned)], work, "the manifest or res/xml does not compile; see the message")
    if entries:
        _run("aapt add", ["aapt", "add", str(unsigned), *entries], work, "check the entry names")
    _run("zipalign", ["zipalign", "-f", "4", str(unsigned), str(aligned)], work, "apt-get install zipalign")
    signer = ["--ks", str(store), "--ks-type", "PKCS12", "--ks-pass", "pass:consentmon"]
    if old_store is not None:
        old = ["--ks", str(old_store), "--ks-type", "PKCS12", "--ks-pass", "pass:consentmon"]
        lineage = staging / "lineage"
        _run("apksigner rotate", ["apksigner", "rotate", "--out", str(lineage), "--old-signer", *old, "--new-signer", *signer],
             work, "apt-get install apksigner")
        signer = [*old, "--next-signer", *signer, "--lineage", str(lineage)]
    _run("apksigner sign", ["apksigner", "sign", *signer,
                            "--v1-signing-enabled", "true", "--v2-signing-enabled", "true", "--v3-signing-enabled", "true",
                            "--min-sdk-version", str(spec.min_sdk), "--out", str(staging / f"{spec.package}.apk"), str(aligned)],
         work, "apt-get install apksigner")
    (staging / "lineage").unlink(missing_ok=True)
    shutil.rmtree(work)
    unsigned.unlink()
    aligned.unlink()
    (staging / f"{spec.package}.apk.idsig").unlink(missing_ok=True)
