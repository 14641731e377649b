"""Integrity beyond hashes: who sealed a run (an ed25519 signature over manifest.json) and when it existed
(an RFC 3161 time-stamp of manifest.json from a time-stamping authority).

The manifest already fixes every file and the event chain; signing it signs the whole run. Both live
beside the manifest and are not themselves in it:
  signature.json   {"algorithm": "ed25519", "public_key" (raw, base64), "public_key_sha256", "signature",
                    "manifest_sha256", "signed_ns", "timestamp": {tsa (URL), file, time, serial, tsa_subject,
                    policy} or absent}
  manifest.tsr     the TSA's TimeStampResp (DER), as `openssl ts -verify -in manifest.tsr -data manifest.json`
                   checks it too
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from asn1crypto import cms, tsp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import load_der_x509_certificate, load_pem_x509_certificate

from monitor.errors import RunDirError
from monitor.store import MANIFEST_FILE, SIGNATURE_FILE, TIMESTAMP_FILE
from monitor.store.files import write_atomic


class SigningError(RunDirError):
    """A key, a signature or a time-stamp that cannot be used or does not hold."""


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the {what} ({exc.strerror or exc})", hint="check the path") from exc


def load_private_key(path: Path) -> ed25519.Ed25519PrivateKey:
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not an unencrypted PEM private key ({exc})",
                           hint="make one with: openssl genpkey -algorithm ed25519 -out KEY.pem") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path}: a {type(key).__name__.removesuffix('PrivateKey')} key; runs are signed with ed25519",
                           hint="make one with: openssl genpkey -algorithm ed25519 -out KEY.pem")
    return key


def load_public_key(path: Path) -> ed25519.Ed25519PublicKey:
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = load_private_key(path).public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningError(f"{path}: not an ed25519 public key",
                           hint="export it with: openssl pkey -in KEY.pem -pubout -out KEY.pub")
    return key


def _raw(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ---- RFC 3161 -----------------------------------------------------------------------------------

def timestamp_request(digest: bytes) -> bytes:
    """A TimeStampReq for a SHA-256 digest, asking for the TSA's certificate in the reply."""
    request = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": int.from_bytes(os.urandom(8), "big"),
        "cert_req": True,
    })
    return request.dump()


def fetch_timestamp(url: str, digest: bytes, *, timeout: float = 15.0) -> bytes:
    request = urllib.request.Request(url, data=timestamp_request(digest),
                                     headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's TSA URL
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SigningError(f"the time-stamping authority {url} did not answer: {exc}",
                           hint="check the --tsa URL, or sign without a time-stamp (--tsa left out)") from exc


def _verify_cms_signature(signed: cms.SignedData, content: bytes) -> dict[str, Any]:
    """Check the TSA's signature over the token; returns its certificate's subject and the signing time facts."""
    signer = signed["signer_infos"][0]
    certificates = [choice.chosen for choice in signed["certificates"] or [] if choice.name == "certificate"]
    sid = signer["sid"].chosen
    certificate = next((cert for cert in certificates
                        if isinstance(sid, cms.IssuerAndSerialNumber) and cert.serial_number == sid["serial_number"].native),
                       certificates[0] if certificates else None)
    if certificate is None:
        raise SigningError("the time-stamp carries no TSA certificate", hint="ask the TSA for its certificate (cert_req is set)")
    attributes = signer["signed_attrs"]
    digest_name = signer["digest_algorithm"]["algorithm"].native
    digest = hashlib.new(digest_name, content).digest()
    message_digest = next((attr["values"][0].native for attr in attributes if attr["type"].native == "message_digest"), None)
    if message_digest != digest:
        raise SigningError("the time-stamp token's content does not match its signed digest")
    to_verify = attributes.untag().dump()  # signed over as an explicit SET OF, per RFC 5652 5.4
    public_key = load_der_x509_certificate(certificate.dump()).public_key()
    signature = signer["signature"].native
    chosen = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(), "sha1": hashes.SHA1()}[digest_name]
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, to_verify, padding.PKCS1v15(), chosen)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, to_verify, ec.ECDSA(chosen))
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, to_verify)
        else:
            raise SigningError(f"the TSA's key type {type(public_key).__name__} is not supported")
    except InvalidSignature as exc:
        raise SigningError("the time-stamp's signature does not verify with the TSA's certificate") from exc
    return {"tsa_subject": certificate.subject.human_friendly, "tsa_certificate": certificate.dump()}


def read_timestamp(reply: bytes, digest: bytes, *, trusted_ca: Path | None = None) -> dict[str, Any]:
    """Check a TimeStampResp against the digest it must stamp; returns {time, serial, tsa_subject, policy}. With `trusted_ca`,
    the TSA's certificate must be issued by it."""
    try:
        response = tsp.TimeStampResp.load(reply)
        status = response["status"]["status"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise SigningError(f"not an RFC 3161 time-stamp reply ({exc})") from exc
    if status not in ("granted", "granted_with_mods"):
        text = response["status"]["status_string"].native
        raise SigningError(f"the time-stamping authority refused: {status}{f' ({text})' if text else ''}")
    token = response["time_stamp_token"]
    signed = token["content"]
    info = signed["encap_content_info"]["content"].parsed
    imprint = info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint["hashed_message"].native != digest:
        raise SigningError("the time-stamp is for another document (its message imprint differs from manifest.json)")
    content = signed["encap_content_info"]["content"].contents
    checked = _verify_cms_signature(signed, content)
    if trusted_ca is not None:
        ca = load_pem_x509_certificate(_read(trusted_ca, "TSA CA certificate"))
        tsa_cert = load_der_x509_certificate(checked["tsa_certificate"])
        try:
            tsa_cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise SigningError(f"the TSA certificate ({checked['tsa_subject']}) is not issued by {trusted_ca}") from exc
    return {"time": info["gen_time"].native.isoformat(), "serial": int(info["serial_number"].native),
            "tsa_subject": checked["tsa_subject"], "policy": info["policy"].native}


# ---- sign and verify a run ----------------------------------------------------------------------

def sign_run(root: Path, key_path: Path, *, tsa_url: str | None = None) -> dict[str, Any]:
    """Sign RUN_DIR/manifest.json with an ed25519 key, and have it time-stamped when `tsa_url` is given."""
    root = Path(root)
    manifest = root / MANIFEST_FILE
    if not manifest.exists():
        raise SigningError(f"{manifest} is missing: only a sealed run can be signed",
                           hint="let the run finish (or `consentmon recover` it), then sign")
    key = load_private_key(key_path)
    data = manifest.read_bytes()
    digest = hashlib.sha256(data).digest()
    public = _raw(key.public_key())
    record: dict[str, Any] = {
        "schema": 1, "algorithm": "ed25519", "manifest_sha256": digest.hex(),
        "public_key": base64.b64encode(public).decode(), "public_key_sha256": hashlib.sha256(public).hexdigest(),
        "signature": base64.b64encode(key.sign(data)).decode(), "signed_ns": time.time_ns(),
    }
    if tsa_url:
        reply = fetch_timestamp(tsa_url, digest)
        stamped = read_timestamp(reply, digest)
        write_atomic(root / TIMESTAMP_FILE, reply)
        record["timestamp"] = {"tsa": tsa_url, "file": TIMESTAMP_FILE, **stamped}  # time, serial, tsa_subject, policy
    write_atomic(root / SIGNATURE_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def verify_signature(root: Path, *, public_key: Path | None = None, tsa_ca: Path | None = None,
                     required: bool = False) -> tuple[list[str], dict[str, Any] | None]:
    """(problems, the signature record) for RUN_DIR's signature.json; no signature is a problem only when
    `required` (a key to check against was given)."""
    root = Path(root)
    path = root / SIGNATURE_FILE
    if not path.exists():
        return ([f"{SIGNATURE_FILE}: the run is not signed"] if required or public_key else []), None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        signature = base64.b64decode(record["signature"], validate=True)
        public = base64.b64decode(record["public_key"], validate=True)
        embedded = ed25519.Ed25519PublicKey.from_public_bytes(public)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{SIGNATURE_FILE}: unreadable ({exc})"], None
    problems: list[str] = []
    data = (root / MANIFEST_FILE).read_bytes() if (root / MANIFEST_FILE).exists() else b""
    try:
        embedded.verify(signature, data)
    except InvalidSignature:
        problems.append(f"{SIGNATURE_FILE}: the signature does not match {MANIFEST_FILE} (the manifest changed after signing)")
    if public_key is not None and _raw(load_public_key(public_key)) != public:
        problems.append(f"{SIGNATURE_FILE}: signed by another key (public key SHA-256 {record.get('public_key_sha256')}), "
                        f"not {public_key}")
    stamp = record.get("timestamp")
    if stamp:
        reply_path = root / str(stamp.get("file") or TIMESTAMP_FILE)
        try:
            read_timestamp(_read(reply_path, "time-stamp"), hashlib.sha256(data).digest(), trusted_ca=tsa_ca)
        except SigningError as exc:
            problems.append(f"{reply_path.name}: {exc.message}")
    return problems, record

