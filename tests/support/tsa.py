"""A local RFC 3161 time-stamping authority: OpenSSL's own `openssl ts -reply` behind an HTTP server on
loopback, with a CA and a TSA certificate (extendedKeyUsage timeStamping, critical) made for the test.

    with LocalTsa(tmp_path) as tsa:
        sign_run(run, key, tsa_url=tsa.url)        # tsa.ca is the CA certificate to trust
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOOPBACK = "127.0.0.1"

CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ v3_tsa ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class LocalTsa:
    def __init__(self, folder: Path, *, refuse: bool = False) -> None:
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.refuse = refuse
        self.ca = self.dir / "ca.crt"
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None

    def _make_pki(self) -> None:
        d = self.dir
        (d / "tsa.cnf").write_text(CONFIG.format(dir=d))
        (d / "serial").write_text("01\n")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                 "-subj", "/CN=consentmon test TSA CA", cwd=d)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
                 "-subj", "/CN=consentmon test TSA", cwd=d)
        _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "tsa.crt", "-days", "2", "-extfile", "tsa.cnf", "-extensions", "v3_tsa", cwd=d)

    def _reply(self, query: bytes) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.dir) as work:
            (Path(work) / "q.tsq").write_bytes(query)
            _openssl("ts", "-reply", "-config", str(self.dir / "tsa.cnf"), "-queryfile", "q.tsq", "-out", "r.tsr",
                     cwd=Path(work))
            return (Path(work) / "r.tsr").read_bytes()

    def __enter__(self) -> "LocalTsa":
        self._make_pki()
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                tsa.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if tsa.refuse:
                    self.send_response(503)
                    self.end_headers()
                    return
                reply = tsa._reply(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/tsa"

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
