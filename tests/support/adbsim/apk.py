"""Build small APKs for tests: a real binary AndroidManifest.xml (AXML), a v1 JAR signature made
with a fresh certificate, and optionally an APK Signing Block (v2 or v3) carrying that certificate.

The signing block's signature bytes are not a valid signature over the APK digest: readers here
record the signer, they do not verify it, and a device is never asked to install these.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import struct
import zipfile
from dataclasses import dataclass

ANDROID_NS = "http://schemas.android.com/apk/res/android"
ATTR_RESOURCE_IDS = {"versionCode": 0x0101021B, "versionName": 0x0101021C, "minSdkVersion": 0x0101020C,
                     "targetSdkVersion": 0x01010270, "name": 0x01010003}


def _utf16_pool(strings: list[str]) -> bytes:
    offsets, body = [], bytearray()
    for text in strings:
        offsets.append(len(body))
        encoded = text.encode("utf-16-le")
        body += struct.pack("<H", len(text)) + encoded + b"\0\0"
    while len(body) % 4:
        body += b"\0"
    header_size = 28
    strings_start = header_size + 4 * len(strings)
    size = strings_start + len(body)
    return struct.pack("<HHIIIIII", 0x0001, header_size, size, len(strings), 0, 0, strings_start, 0) + \
        struct.pack(f"<{len(strings)}I", *offsets) + bytes(body)


def encode_manifest(package: str, version_code: int, version_name: str, permissions: list[str],
                    min_sdk: int = 21, target_sdk: int = 33) -> bytes:
    """A binary AndroidManifest.xml as aapt2 lays it out (string pool, resource map, elements)."""
    attr_names = list(ATTR_RESOURCE_IDS)
    strings = attr_names + [ANDROID_NS, "android", "package", "manifest", "uses-sdk", "uses-permission",
                            "application", package, version_name] + permissions
    index = {s: i for i, s in enumerate(strings)}
    pool = _utf16_pool(strings)
    resmap = struct.pack("<HHI", 0x0180, 8, 8 + 4 * len(attr_names)) + struct.pack(f"<{len(attr_names)}I", *ATTR_RESOURCE_IDS.values())
    ns_uri = index[ANDROID_NS]

    def attr(name: str, value: object, *, android: bool = True) -> bytes:
        ns = ns_uri if android else -1
        if isinstance(value, int):
            return struct.pack("<iiiHBBI", ns, index[name], -1, 8, 0, 0x10, value)
        return struct.pack("<iiiHBBI", ns, index[name], index[str(value)], 8, 0, 0x03, index[str(value)])

    def start(tag: str, attrs: list[bytes], line: int) -> bytes:
        body = struct.pack("<iiHHHHHH", -1, index[tag], 20, 20, len(attrs), 0, 0, 0) + b"".join(attrs)
        return struct.pack("<HHIIi", 0x0102, 16, 16 + len(body), line, -1) + body

    def end(tag: str, line: int) -> bytes:
        return struct.pack("<HHIIiii", 0x0103, 16, 24, line, -1, -1, index[tag])

    nodes = [struct.pack("<HHIIiii", 0x0100, 16, 24, 1, -1, index["android"], ns_uri)]
    nodes.append(start("manifest", [attr("versionCode", version_code), attr("versionName", version_name),
                                    attr("package", package, android=False)], 2))
    nodes.append(start("uses-sdk", [attr("minSdkVersion", min_sdk), attr("targetSdkVersion", target_sdk)], 3))
    nodes.append(end("uses-sdk", 3))
    for line, permission in enumerate(permissions, start=4):
        nodes.append(start("uses-permission", [attr("name", permission)], line))
        nodes.append(end("uses-permission", line))
    nodes.append(start("application", [], 90))
    nodes.append(end("application", 90))
    nodes.append(end("manifest", 91))
    nodes.append(struct.pack("<HHIIiii", 0x0101, 16, 24, 92, -1, index["android"], ns_uri))
    body = pool + resmap + b"".join(nodes)
    return struct.pack("<HHI", 0x0003, 8, 8 + len(body)) + body


@dataclass(frozen=True)
class TestSigner:
    certificate_der: bytes
    key: object

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.certificate_der).hexdigest()


def make_signer(common_name: str = "consentmon test") -> TestSigner:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
            .not_valid_after(datetime.datetime(2054, 1, 1, tzinfo=datetime.timezone.utc))
            .sign(key, hashes.SHA256()))
    return TestSigner(cert.public_bytes(Encoding.DER), key)


def _v1_files(entries: dict[str, bytes], signer: TestSigner) -> dict[str, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    def digest(data: bytes) -> str:
        return base64.b64encode(hashlib.sha256(data).digest()).decode()

    manifest = "Manifest-Version: 1.0\r\nCreated-By: consentmon tests\r\n\r\n"
    sections = {name: f"Name: {name}\r\nSHA-256-Digest: {digest(data)}\r\n\r\n" for name, data in entries.items()}
    manifest += "".join(sections.values())
    signature_file = f"Signature-Version: 1.0\r\nSHA-256-Digest-Manifest: {digest(manifest.encode())}\r\n\r\n"
    signature_file += "".join(f"Name: {name}\r\nSHA-256-Digest: {digest(text.encode())}\r\n\r\n" for name, text in sections.items())
    cert = x509.load_der_x509_certificate(signer.certificate_der)
    block = (pkcs7.PKCS7SignatureBuilder().set_data(signature_file.encode()).add_signer(cert, signer.key, hashes.SHA256())
             .sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.NoCapabilities]))
    return {"META-INF/MANIFEST.MF": manifest.encode(), "META-INF/CERT.SF": signature_file.encode(), "META-INF/CERT.EC": block}


def _lp(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def _signing_block(scheme_id: int, signer: TestSigner) -> bytes:
    # v3 adds min/max SDK after the certificates in the signed data and after the signed data in the
    # signer (source.android.com/docs/security/features/apksigning/v3); v2 has neither.
    sdk_range = struct.pack("<II", 24, 0x7FFFFFFF) if scheme_id == 0xF05368C0 else b""
    signed_data = _lp(b"") + _lp(_lp(signer.certificate_der)) + sdk_range + _lp(b"")
    signer_record = _lp(signed_data) + sdk_range + _lp(_lp(struct.pack("<I", 0x0201) + _lp(b"\0" * 64))) + _lp(b"public key")
    value = _lp(_lp(signer_record))
    pair = struct.pack("<QI", len(value) + 4, scheme_id) + value
    size = len(pair) + 8 + 16
    return struct.pack("<Q", size) + pair + struct.pack("<Q", size) + b"APK Sig Block 42"


def build_apk(package: str = "com.example.consentdemo", *, version_code: int = 7, version_name: str = "1.0.7",
              permissions: list[str] | None = None, signer: TestSigner | None = None,
              block_scheme: str | None = None, v1: bool = True) -> bytes:
    """An APK: manifest, a dex stand-in, a v1 signature (unless v1=False) and, with
    block_scheme "v2" or "v3", an APK Signing Block."""
    signer = signer or make_signer()
    entries = {"AndroidManifest.xml": encode_manifest(package, version_code, version_name, permissions or []),
               "classes.dex": b"dex\n035\0" + package.encode()}
    if v1:
        entries.update(_v1_files(dict(entries), signer))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            archive.writestr(info, data)
    data = buffer.getvalue()
    if block_scheme is None:
        return data
    scheme_id = {"v2": 0x7109871A, "v3": 0xF05368C0}[block_scheme]
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<I", data, eocd + 16)[0]
    block = _signing_block(scheme_id, signer)
    new_eocd = bytearray(data[eocd:])
    struct.pack_into("<I", new_eocd, 16, cd_offset + len(block))
    return data[:cd_offset] + block + data[cd_offset:eocd] + bytes(new_eocd)
