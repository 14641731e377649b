"""What an APK is, read on the host: package, version, permissions, SHA-256, signer certificates.

Reads the binary AndroidManifest.xml (Android's AXML chunk format) and the signer certificate from
the APK Signature Scheme v3/v2 block, or from the v1 JAR signature (META-INF/*.RSA|DSA|EC) when the
APK has no block. Nothing here verifies signatures: the point is to record which signer the tested
build had, as evidence, not to judge it.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import DeviceError

RES_STRING_POOL = 0x0001
RES_XML = 0x0003
RES_XML_START_ELEMENT = 0x0102
RES_XML_RESOURCE_MAP = 0x0180
UTF8_FLAG = 0x100

TYPE_REFERENCE = 0x01
TYPE_STRING = 0x03
TYPE_INT_DEC = 0x10
TYPE_INT_HEX = 0x11
TYPE_BOOLEAN = 0x12

# Attribute resource ids from android.R.attr, for manifests whose attribute names are stripped.
ATTR_IDS = {0x01010003: "name", 0x0101021B: "versionCode", 0x0101021C: "versionName",
            0x0101020C: "minSdkVersion", 0x01010270: "targetSdkVersion"}

SIG_BLOCK_MAGIC = b"APK Sig Block 42"
SCHEME_V2 = 0x7109871A
SCHEME_V3 = 0xF05368C0


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


def _string_pool(data: bytes, offset: int) -> list[str]:
    _type, header_size, _size = struct.unpack_from("<HHI", data, offset)
    count, _styles, flags, strings_start, _styles_start = struct.unpack_from("<IIIII", data, offset + 8)
    offsets = struct.unpack_from(f"<{count}I", data, offset + header_size)
    base = offset + strings_start
    utf8 = bool(flags & UTF8_FLAG)
    out = []
    for start in offsets:
        pos = base + start
        if utf8:
            # UTF-8 pools store the UTF-16 length then the byte length, each in one or two bytes.
            pos += 2 if data[pos] & 0x80 else 1
            length = data[pos]
            if length & 0x80:
                length = ((length & 0x7F) << 8) | data[pos + 1]
                pos += 2
            else:
                pos += 1
            out.append(data[pos:pos + length].decode("utf-8", errors="replace"))
        else:
            length = struct.unpack_from("<H", data, pos)[0]
            pos += 2
            if length & 0x8000:
                length = ((length & 0x7FFF) << 16) | struct.unpack_from("<H", data, pos)[0]
                pos += 2
            out.append(data[pos:pos + length * 2].decode("utf-16-le", errors="replace"))
    return out


def parse_manifest(data: bytes) -> list[tuple[str, dict[str, object]]]:
    """Start elements of a binary XML, in order, as (tag, {attribute: value})."""
    if len(data) < 8 or struct.unpack_from("<H", data, 0)[0] != RES_XML:
        raise DeviceError("AndroidManifest.xml is not binary XML", hint="pass the built .apk, not a source tree")
    strings: list[str] = []
    resource_ids: list[int] = []
    elements: list[tuple[str, dict[str, object]]] = []
    offset = struct.unpack_from("<H", data, 2)[0]
    while offset + 8 <= len(data):
        chunk_type, header_size, size = struct.unpack_from("<HHI", data, offset)
        if size < 8:
            raise DeviceError("AndroidManifest.xml has a malformed chunk")
        if chunk_type == RES_STRING_POOL:
            strings = _string_pool(data, offset)
        elif chunk_type == RES_XML_RESOURCE_MAP:
            count = (size - header_size) // 4
            resource_ids = list(struct.unpack_from(f"<{count}I", data, offset + header_size))
        elif chunk_type == RES_XML_START_ELEMENT:
            body = offset + header_size
            _ns, name, attr_start, attr_size, attr_count = struct.unpack_from("<iiHHH", data, body)
            attrs: dict[str, object] = {}
            for index in range(attr_count):
                pos = body + attr_start + index * attr_size
                _ans, aname, raw, _vsize, _res0, vtype, vdata = struct.unpack_from("<iiiHBBI", data, pos)
                key = strings[aname] if 0 <= aname < len(strings) else ""
                if (not key) and 0 <= aname < len(resource_ids):
                    key = ATTR_IDS.get(resource_ids[aname], "")
                if vtype == TYPE_STRING:
                    value: object = strings[vdata] if vdata < len(strings) else ""
                elif vtype in (TYPE_INT_DEC, TYPE_INT_HEX):
                    value = vdata
                elif vtype == TYPE_BOOLEAN:
                    value = vdata != 0
                elif vtype == TYPE_REFERENCE:
                    value = f"@0x{vdata:08x}"
                else:
                    value = strings[raw] if 0 <= raw < len(strings) else vdata
                attrs[key] = value
            elements.append((strings[name] if 0 <= name < len(strings) else "", attrs))
        offset += size
    return elements


def _length_prefixed(data: bytes, pos: int) -> tuple[bytes, int]:
    length = struct.unpack_from("<I", data, pos)[0]
    return data[pos + 4:pos + 4 + length], pos + 4 + length


def _sequence(data: bytes) -> list[bytes]:
    items, pos = [], 0
    while pos < len(data):
        item, pos = _length_prefixed(data, pos)
        items.append(item)
    return items


def _signing_block(apk: bytes) -> dict[int, bytes]:
    """The id → value pairs of the APK Signing Block, found just before the central directory."""
    eocd = apk.rfind(b"PK\x05\x06")
    if eocd < 0:
        return {}
    cd_offset = struct.unpack_from("<I", apk, eocd + 16)[0]
    if cd_offset < 32 or apk[cd_offset - 16:cd_offset] != SIG_BLOCK_MAGIC:
        return {}
    block_size = struct.unpack_from("<Q", apk, cd_offset - 24)[0]
    start = cd_offset - block_size - 8
    pos, end = start + 8, cd_offset - 24
    pairs = {}
    while pos + 12 <= end:
        length = struct.unpack_from("<Q", apk, pos)[0]
        pair_id = struct.unpack_from("<I", apk, pos + 8)[0]
        pairs[pair_id] = apk[pos + 12:pos + 8 + length]
        pos += 8 + length
    return pairs


def _block_certificates(value: bytes) -> list[bytes]:
    """First certificate of each signer in a v2/v3 scheme value."""
    certs = []
    for signer in _sequence(_length_prefixed(value, 0)[0]):
        signed_data, _ = _length_prefixed(signer, 0)
        _digests, pos = _length_prefixed(signed_data, 0)
        certificates, _ = _length_prefixed(signed_data, pos)
        chain = _sequence(certificates)
        if chain:
            certs.append(chain[0])
    return certs


def _v1_certificates(archive: zipfile.ZipFile) -> list[bytes]:
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    certs = []
    for name in archive.namelist():
        upper = name.upper()
        if upper.startswith("META-INF/") and upper.endswith((".RSA", ".DSA", ".EC")):
            try:
                loaded = pkcs7.load_der_pkcs7_certificates(archive.read(name))
            except ValueError as exc:
                raise DeviceError(f"{name} in the APK is not a PKCS#7 signature: {exc}") from exc
            if loaded:
                certs.append(loaded[0].public_bytes(Encoding.DER))
    return certs


def read_apk_info(source: bytes | Path) -> ApkInfo:
    data = Path(source).read_bytes() if isinstance(source, Path) else bytes(source)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        manifest = archive.read("AndroidManifest.xml")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DeviceError(f"not an APK: {exc}", hint="pass the .apk file the store or build produced") from exc
    elements = parse_manifest(manifest)
    if not elements or elements[0][0] != "manifest":
        raise DeviceError("AndroidManifest.xml has no <manifest> root element")
    root = elements[0][1]
    permissions = tuple(str(attrs.get("name")) for tag, attrs in elements if tag in ("uses-permission", "uses-permission-sdk-23") and attrs.get("name"))
    sdk = next((attrs for tag, attrs in elements if tag == "uses-sdk"), {})
    pairs = _signing_block(data)
    scheme, certs = None, []
    for scheme_name, scheme_id in (("v3", SCHEME_V3), ("v2", SCHEME_V2)):
        if scheme_id in pairs:
            certs = _block_certificates(pairs[scheme_id])
            if certs:
                scheme = scheme_name
                break
    if not certs:
        certs = _v1_certificates(archive)
        scheme = "v1" if certs else None

    def as_int(value: object) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, str) and value.isdigit() else None

    version_name = root.get("versionName")
    return ApkInfo(
        package=str(root.get("package", "")),
        version_code=as_int(root.get("versionCode")),
        version_name=None if version_name is None else str(version_name),
        min_sdk=as_int(sdk.get("minSdkVersion")),
        target_sdk=as_int(sdk.get("targetSdkVersion")),
        permissions=permissions,
        sha256=hashlib.sha256(data).hexdigest(),
        signer_sha256=tuple(hashlib.sha256(cert).hexdigest() for cert in certs),
        signature_scheme=scheme,
    )
