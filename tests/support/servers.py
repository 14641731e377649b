"""Loopback servers for tests and benchmarks: an HTTPS server with a certificate made on the spot.

Everything listens on 127.0.0.1 only; nothing here ever contacts another address.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"


def self_signed_cert(directory: Path, common_name: str = "sdk-endpoint.test") -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (and `common_name`): (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName(common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).add_extension(alt_names, critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    port: int
    cert: Path
    received: list[ReceivedRequest] = field(default_factory=list)


@contextmanager
def https_server(directory: Path, *, reply: bytes = b"ok", delay: float = 0.0) -> Iterator[LoopbackServer]:
    """An HTTPS server on 127.0.0.1 that answers every GET/POST with `reply` (`delay` seconds after it has
    read the request: a slow server or long poll) and keeps what it received."""
    cert, key = self_signed_cert(directory)
    state = LoopbackServer(port=0, cert=cert)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0") or 0))
            state.received.append(ReceivedRequest(self.command, self.path, dict(self.headers), body))
            if delay:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return  # tests assert on `received`, not on a log

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="loopback-https", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def websocket_server(reply: Callable[[str], str] = lambda text: text) -> Iterator[int]:
    """A plain WebSocket server on 127.0.0.1 (yields its port) that answers every text message with
    `reply(text)` (an echo by default) and keeps each connection open until the client goes: a push or IM
    server, as far as a capture can tell."""
    import socket

    import wsproto
    from wsproto import events as ws_events

    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stopping = threading.Event()

    def serve(connection: socket.socket) -> None:
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        with connection:
            while not stopping.is_set():
                try:
                    data = connection.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, ws_events.Request):
                        connection.sendall(ws.send(ws_events.AcceptConnection()))
                    elif isinstance(event, ws_events.TextMessage):
                        connection.sendall(ws.send(ws_events.TextMessage(data=reply(event.data))))
                    elif isinstance(event, ws_events.CloseConnection):
                        connection.sendall(ws.send(event.response()))
                        return

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(0.2)
            threading.Thread(target=serve, args=(connection,), name="loopback-ws", daemon=True).start()

    thread = threading.Thread(target=accept, name="loopback-ws-accept", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
