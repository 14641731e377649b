"""The capture proxy's CA certificate in the device's system trust store.

Android names system CA files `<subject_hash_old>.0` (OpenSSL's pre-1.0 hash: the first four bytes
of the MD5 of the DER subject, little-endian). Android 14 moved the store into the updatable
Conscrypt APEX, read from each app's mount namespace, which is why it needs the bind mounts.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from monitor.errors import DeviceError

SYSTEM_STORE = "/system/etc/security/cacerts"
APEX_STORE = "/apex/com.android.conscrypt/cacerts"
FIRST_APEX_SDK = 34


def default_ca_path() -> Path:
    """Where mitmproxy keeps its CA after its first start (`confdir`, default ~/.mitmproxy)."""
    confdir = Path(os.environ.get("MITMPROXY_CONFDIR", Path.home() / ".mitmproxy"))
    return confdir / "mitmproxy-ca-cert.pem"


def load_ca(path: Path) -> x509.Certificate:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DeviceError(f"cannot read the CA certificate {path}: {exc}",
                          hint="start mitmproxy once (mitmdump) to create ~/.mitmproxy, or pass --ca FILE") from exc
    try:
        return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise DeviceError(f"{path} is not an X.509 certificate ({exc})", hint="pass mitmproxy-ca-cert.pem") from exc


def subject_hash_old(cert: x509.Certificate) -> str:
    digest = hashlib.md5(cert.subject.public_bytes()).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def store_file_name(cert: x509.Certificate) -> str:
    return f"{subject_hash_old(cert)}.0"


def pem_bytes(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def store_for_sdk(sdk: int) -> str:
    return APEX_STORE if sdk >= FIRST_APEX_SDK else SYSTEM_STORE
