"""A run handed over as evidence can say who sealed it and when it existed: an ed25519 signature over the
manifest and an RFC 3161 time-stamp from a TSA (a real one made with `openssl ts`, over loopback HTTP);
verify checks both and names what no longer holds."""

from __future__ import annotations

import json
import subprocess

import pytest

from monitor.store.manifest import verify_run
from monitor.store.signing import SigningError, sign_run, verify_signature
from monitor.testing.factories import at, pi_read, write_run
from support.tsa import LocalTsa


def _key(path, algorithm="ed25519"):
    subprocess.run(["openssl", "genpkey", "-algorithm", algorithm, "-out", str(path)], check=True, capture_output=True)
    return path


@pytest.fixture()
def run(tmp_path):
    return write_run(tmp_path / "run", [pi_read(ts=at(i)) for i in range(3)])


def test_signed_and_time_stamped_run_verifies_with_the_right_key_and_tsa(run, tmp_path):
    key = _key(tmp_path / "key.pem")
    with LocalTsa(tmp_path / "tsa") as tsa:
        record = sign_run(run, key, tsa_url=tsa.url)
    assert record["timestamp"]["tsa"].startswith("http://127.0.0.1:") and record["timestamp"]["time"]
    assert verify_run(run) == []                                  # the proofs sit beside the manifest, outside it
    problems, checked = verify_signature(run, public_key=key, tsa_ca=tsa.ca)
    assert problems == [] and checked["public_key_sha256"] == record["public_key_sha256"]
    # OpenSSL agrees the time-stamp is for this manifest, issued by this TSA.
    result = subprocess.run(["openssl", "ts", "-verify", "-in", str(run / "manifest.tsr"), "-data", str(run / "manifest.json"),
                             "-CAfile", str(tsa.ca), "-untrusted", str(tmp_path / "tsa" / "tsa.crt")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_manifest_changed_after_signing_and_a_wrong_key_are_named(run, tmp_path):
    key = _key(tmp_path / "key.pem")
    other = _key(tmp_path / "other.pem")
    with LocalTsa(tmp_path / "tsa") as tsa:
        sign_run(run, key, tsa_url=tsa.url)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["events"]["count"] += 1
    (run / "manifest.json").write_text(json.dumps(manifest))
    problems, _ = verify_signature(run, public_key=other)
    assert any("does not match manifest.json" in p for p in problems)
    assert any("signed by another key" in p for p in problems)
    assert any(p.startswith("manifest.tsr: the time-stamp is for another document") for p in problems)


def test_a_tsa_certificate_from_another_ca_is_refused(run, tmp_path):
    key = _key(tmp_path / "key.pem")
    with LocalTsa(tmp_path / "tsa") as tsa, LocalTsa(tmp_path / "other-tsa") as other:
        sign_run(run, key, tsa_url=tsa.url)
    problems, _ = verify_signature(run, tsa_ca=other.ca)
    assert problems and "is not issued by" in problems[0]


def test_bad_keys_and_an_unanswering_tsa_are_one_clear_error(run, tmp_path):
    with pytest.raises(SigningError, match="runs are signed with ed25519") as wrong:
        sign_run(run, _key(tmp_path / "rsa.pem", "RSA"))
    assert "openssl genpkey -algorithm ed25519" in wrong.value.hint
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(SigningError, match="not an unencrypted PEM private key"):
        sign_run(run, tmp_path / "junk.pem")
    with LocalTsa(tmp_path / "tsa", refuse=True) as tsa:
        with pytest.raises(SigningError, match="did not answer"):
            sign_run(run, _key(tmp_path / "key.pem"), tsa_url=tsa.url)
    assert not (run / "signature.json").exists()                  # nothing half-written
    problems, _ = verify_signature(run, required=True)
    assert problems == ["signature.json: the run is not signed"]


def test_sign_and_verify_from_the_command_line(run, tmp_path):
    from typer.testing import CliRunner

    from monitor.cli.app import app

    key = _key(tmp_path / "key.pem")
    runner = CliRunner()
    with LocalTsa(tmp_path / "tsa") as tsa:
        signed = runner.invoke(app, ["sign", str(run), "--key", str(key), "--tsa", tsa.url])
        assert signed.exit_code == 0, signed.output
        assert "time-stamped" in signed.output
        checked = runner.invoke(app, ["verify", str(run), "--key", str(key), "--tsa-ca", str(tsa.ca)])
        assert checked.exit_code == 0, checked.output
        assert "signed with ed25519 key SHA-256" in checked.output
    lines = (run / "events.jsonl").read_bytes().splitlines(keepends=True)
    (run / "events.jsonl").write_bytes(lines[0] + lines[1].replace(b"867530900000001", b"867530900000002") + lines[2])
    tampered = runner.invoke(app, ["verify", str(run), "--key", str(key)])
    assert tampered.exit_code == 3 and "line 2 is the first that differs" in " ".join(tampered.output.split())
    unsigned = runner.invoke(app, ["verify", str(write_run(tmp_path / "plain", [pi_read()])), "--key", str(key)])
    assert unsigned.exit_code == 3 and "the run is not signed" in " ".join(unsigned.output.split())
