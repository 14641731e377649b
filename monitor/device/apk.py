"""What an APK is, read on the host: package, version, permissions, SHA-256, signer certificates.

androguard reads the APK: the zip (its lenient reader opens the tampered archives packed apps ship), the
binary AndroidManifest.xml, and the signer certificates of the APK Signature Scheme v3 / v2 block or of
the v1 JAR signature. This module only decides what the tested build *is*, for the evidence: which signer
(v3 over v2 over v1, as Android prefers them), and which inputs are not one installable APK (a split set,
a config split, something that is not a zip), each refused with one clear ApkError.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import DeviceError

if TYPE_CHECKING:
    from androguard.core.apk import APK

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"


class ApkError(DeviceError):
    """The file given as an APK is not one installable APK (missing, not a zip, a split set, a config split)."""

    exit_code = 2


@dataclass(frozen=True)
class ApkInfo:
    package: str
    version_code: int | None
    version_name: str | None
    min_sdk: int | None
    target_sdk: int | None
    permissions: tuple[str, ...]
    sha256: str
    signer_sha256: tuple[str, ...] = field(default=())
    signature_scheme: str | None = None      # "v3", "v2", "v1" or None when unsigned

    def as_run_info(self) -> dict[str, object]:
        return {"package": self.package, "version_code": self.version_code, "version_name": self.version_name,
                "apk_sha256": self.sha256, "signer_sha256": list(self.signer_sha256),
                "signature_scheme": self.signature_scheme, "min_sdk": self.min_sdk, "target_sdk": self.target_sdk}


@dataclass(frozen=True)
class OpenedApk:
    """An APK androguard has read, with its bytes and a name to quote in messages."""

    apk: "APK"
    data: bytes
    name: str

    def manifest(self) -> Any:
        """The manifest as an lxml element (attributes in the android namespace: ANDROID_NS + name)."""
        return self.apk.get_android_manifest_xml()


def describe(error: BaseException) -> str:
    """An exception from a parser as one short line (its type and the first line of its text)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:160]}" if text else type(error).__name__


def _quiet_androguard() -> None:
    # androguard logs every step through loguru's default stderr handler; a library of ours never prints.
    from loguru import logger
    logger.disable("androguard")


def _split_set_entries(data: bytes) -> list[str]:
    """The .apk members of a zip that has no AndroidManifest.xml of its own (an .apks / .xapk bundle)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError, struct.error):
        return []  # a damaged or exotic zip (e.g. "zip file version 6.4"): androguard's read below says what it is
    if "AndroidManifest.xml" in names:
        return []
    return sorted(name for name in names if name.lower().endswith(".apk"))


def open_apk(source: bytes | str | Path) -> OpenedApk:
    """Read an APK with androguard; ApkError (one line and a fix) for anything that is not one APK."""
    _quiet_androguard()
    from androguard.core.apk import APK

    if isinstance(source, str):
        source = Path(source)   # a path given as text, not the APK's bytes
    if isinstance(source, Path):
        name = str(source)
        if not source.exists():
            raise ApkError(f"no such file: {source}", hint="give the path of the .apk file")
        if source.is_dir():
            raise ApkError(f"{source} is a folder, not an APK", hint="give the path of the .apk file")
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ApkError(f"cannot read {source}: {exc.strerror or exc}", hint="check the file's permissions") from exc
    else:
        name, data = "the APK", bytes(source)
    if not data.startswith(b"PK"):
        raise ApkError(f"not an APK: {name} is not a zip archive", hint="pass the .apk file the store or build produced")
    members = _split_set_entries(data)
    if members:
        raise _split_set_error(name, members)
    try:
        apk = APK(data, raw=True)
    except Exception as exc:   # androguard and its zip reader raise many types for a broken archive
        raise ApkError(f"not an APK: {name} cannot be read as a zip ({describe(exc)})",
                       hint="pass the .apk file the store or build produced") from exc
    root = apk.get_android_manifest_xml()
    if root is None or not apk.is_valid_APK():
        raise ApkError(f"not an APK: {name} has no readable AndroidManifest.xml with a <manifest> root",
                       hint="pass the built .apk, not a source tree or another kind of zip")
    split = root.get("split")
    if split:
        raise ApkError(f"{name} is the split '{split}' of {root.get('package')}, not a whole app",
                       hint="pass the base APK of the set (base.apk); a device installs the set with `adb install-multiple`")
    return OpenedApk(apk=apk, data=data, name=name)


def _split_set_error(name: str, members: list[str]) -> ApkError:
    shown = ", ".join(members[:4]) + ("…" if len(members) > 4 else "")
    what = f"a split APK set ({len(members)} APKs: {shown})" if len(members) > 1 else f"an APK bundle (holding {shown})"
    return ApkError(f"{name} is {what}, not one APK",
                    hint="unpack it and pass its base APK (base.apk, or the one named after the package)")


def _as_int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lower().startswith("0x"):
        try:
            return int(text, 16)
        except ValueError:
            return None
    return int(text) if text.isdigit() else None


def manifest_permissions(opened: OpenedApk) -> tuple[str, ...]:
    """uses-permission and uses-permission-sdk-23 names, in manifest order, each once."""
    seen: dict[str, None] = {}
    for element in opened.manifest().iter("uses-permission", "uses-permission-sdk-23"):
        name = element.get(ANDROID_NS + "name")
        if name:
            seen.setdefault(str(name), None)
    return tuple(seen)


def _signer_certificates(certificates: list[bytes], public_keys: list[bytes]) -> list[bytes]:
    """Each signer's own certificate: the one whose key is the signer's public key (a signer may carry its
    chain; androguard lists every certificate of every signer). Without such a match, the certificates as given."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    by_key: dict[bytes, bytes] = {}
    for cert in certificates:
        try:
            key = x509.load_der_x509_certificate(cert).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        except ValueError:
            continue
        by_key.setdefault(key, cert)
    matched = [by_key[key] for key in public_keys if key in by_key]
    return list(dict.fromkeys(matched)) if len(matched) == len(public_keys) and matched else list(dict.fromkeys(certificates))


def signers(opened: OpenedApk, warnings: list[str] | None = None) -> tuple[str | None, tuple[str, ...]]:
    """(scheme, SHA-256 of each signer certificate) from the strongest scheme the APK carries. A malformed
    signature is an ApkError, or, given a `warnings` list, a warning there and no signer."""
    apk = opened.apk
    try:
        for scheme, signed, certificates, keys in (
                ("v3", apk.is_signed_v3, apk.get_certificates_der_v3, apk.get_public_keys_der_v3),
                ("v2", apk.is_signed_v2, apk.get_certificates_der_v2, apk.get_public_keys_der_v2)):
            if signed():
                found = _signer_certificates(certificates(), keys())
                if found:
                    return scheme, tuple(hashlib.sha256(cert).hexdigest() for cert in found)
        v1 = [apk.get_certificate_der(name) for name in apk.get_signature_names()]
    except Exception as exc:   # a malformed signing block or PKCS#7 file: androguard raises struct/ValueError/asn1 errors
        if warnings is not None:
            warnings.append(f"the signature could not be read ({describe(exc)}): no signer recorded")
            return None, ()
        raise ApkError(f"{opened.name} has a malformed signature ({describe(exc)})",
                       hint="re-sign it with apksigner, or pass the build the store shipped") from exc
    v1_certs = tuple(hashlib.sha256(cert).hexdigest() for cert in v1 if cert)
    return ("v1", v1_certs) if v1_certs else (None, ())


def apk_info(opened: OpenedApk, warnings: list[str] | None = None) -> ApkInfo:
    """The APK's identity; `warnings` as for `signers` (a scan reports a broken signature, an install refuses it)."""
    apk = opened.apk
    scheme, signer_sha256 = signers(opened, warnings)
    version_name = apk.get_androidversion_name()
    return ApkInfo(
        package=str(apk.get_package() or ""),
        version_code=_as_int(apk.get_androidversion_code()),
        version_name=None if version_name is None else str(version_name),
        min_sdk=_as_int(apk.get_min_sdk_version()),
        target_sdk=_as_int(apk.get_target_sdk_version()),
        permissions=manifest_permissions(opened),
        sha256=hashlib.sha256(opened.data).hexdigest(),
        signer_sha256=signer_sha256,
        signature_scheme=scheme,
    )


def read_apk_info(source: bytes | Path) -> ApkInfo:
    return apk_info(open_apk(Path(source) if isinstance(source, str) else source))
