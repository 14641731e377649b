"""A simulated Android device that the real `adb` server accepts with `adb connect 127.0.0.1:PORT`.

It speaks the device side of the transport: CNXN and RSA AUTH (a new host key is accepted as if the
user tapped "Allow"), OPEN/OKAY/WRTE/CLSE streams with one write in flight per stream, and the
services adb clients use: `shell:` (v1), `shell,v2,...:` (stdout/stderr/exit packets), `exec:`,
`sync:` (STAT, STA2/LST2, LIST, SEND, RECV), `reverse:`, `root:` and `tcp:PORT` (what a host's `adb forward`
opens: refused unless a simulated process listens on PORT). It listens on loopback only.
"""

from __future__ import annotations

import base64
import itertools
import os
import socket
import struct
import threading
import time
from typing import Callable

from support.adbsim import protocol as p
from support.adbsim.commands import Follow, make_shell
from support.adbsim.profiles import build_state
from support.adbsim.shell import Ctx, Result
from support.adbsim.state import INIT_NS, DeviceState


def _parse_android_pubkey(blob: bytes):
    """Android's adb public key: base64 of {len, n0inv, n[len], rr[len], e} little-endian words."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    text = blob.rstrip(b"\0").split(b" ", 1)[0]
    raw = base64.b64decode(text)
    words = struct.unpack_from("<I", raw, 0)[0]
    modulus = int.from_bytes(raw[8:8 + words * 4], "little")
    exponent = struct.unpack_from("<I", raw, 8 + words * 8)[0]
    return RSAPublicNumbers(exponent, modulus).public_key()


def _verify(public_key, token: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    try:
        # adb signs the 20-byte token as if it were a SHA-1 digest.
        public_key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
        return True
    except (InvalidSignature, ValueError):
        return False


class _Stream:
    def __init__(self, conn: "_Connection", local_id: int, remote_id: int) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.acked = threading.Event()
        self.closed = threading.Event()
        self.inbox = bytearray()
        self.inbox_ready = threading.Condition()

    def write(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            if self.closed.is_set():
                return False
            chunk, view = bytes(view[:self.conn.max_payload]), view[self.conn.max_payload:]
            self.acked.clear()
            if not self.conn.send(p.Message(p.A_WRTE, self.local_id, self.remote_id, chunk)):
                return False
            while not self.acked.wait(0.2):
                if self.closed.is_set() or self.conn.dead.is_set():
                    return False
        return True

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.conn.send(p.Message(p.A_CLSE, self.local_id, self.remote_id))
        self.conn.streams.pop(self.local_id, None)
        with self.inbox_ready:
            self.inbox_ready.notify_all()

    def read_exact(self, size: int, timeout: float = 30.0) -> bytes | None:
        deadline = time.monotonic() + timeout
        with self.inbox_ready:
            while len(self.inbox) < size:
                if self.closed.is_set() or time.monotonic() > deadline:
                    return None
                self.inbox_ready.wait(0.2)
            data = bytes(self.inbox[:size])
            del self.inbox[:size]
            return data


class _Connection:
    def __init__(self, device: "SimDevice", sock: socket.socket) -> None:
        self.device = device
        self.sock = sock
        self.send_lock = threading.Lock()
        self.streams: dict[int, _Stream] = {}
        self.ids = itertools.count(1)
        self.max_payload = 4096
        self.token = b""
        self.dead = threading.Event()

    def send(self, message: p.Message) -> bool:
        try:
            with self.send_lock:
                self.sock.sendall(message.pack())
            return True
        except OSError:
            self.dead.set()
            return False

    def serve(self) -> None:
        try:
            while not self.dead.is_set():
                self._handle(p.read_message(self.sock))
        except (p.ConnectionClosed, OSError):
            pass
        finally:
            self.dead.set()
            for stream in list(self.streams.values()):
                stream.closed.set()
            try:
                self.sock.close()
            except OSError:
                pass

    def _send_token(self) -> None:
        self.token = os.urandom(20)
        self.send(p.Message(p.A_AUTH, p.AUTH_TOKEN, 0, self.token))

    def _online(self) -> None:
        props = self.device.state.props
        banner = (f"device::ro.product.name={props.get('ro.product.name', '')};"
                  f"ro.product.model={props.get('ro.product.model', '')};"
                  f"ro.product.device={props.get('ro.product.device', '')};"
                  f"features={','.join(self.device.features)}")
        self.send(p.Message(p.A_CNXN, p.A_VERSION, p.MAX_PAYLOAD, banner.encode()))

    def _handle(self, msg: p.Message) -> None:
        if msg.command == p.A_CNXN:
            self.max_payload = min(msg.arg1 or 4096, p.MAX_PAYLOAD)
            if self.device.auth:
                self._send_token()
            else:
                self._online()
        elif msg.command == p.A_AUTH:
            if msg.arg0 == p.AUTH_SIGNATURE:
                if any(_verify(key, self.token, msg.data) for key in self.device.authorized_keys):
                    self._online()
                else:
                    self._send_token()
            elif msg.arg0 == p.AUTH_RSAPUBLICKEY:
                self.device.authorized_keys.append(_parse_android_pubkey(msg.data))
                self._online()
        elif msg.command == p.A_OPEN:
            service = msg.data.rstrip(b"\0").decode("utf-8", errors="replace")
            if service.split(":", 1)[0] in self.device.state.refused_services:
                self.send(p.Message(p.A_CLSE, 0, msg.arg0))
                return
            if service.startswith("tcp:") and not self.device.accepts_tcp(service):
                # adbd's connect to the device port failed (nothing listens): the stream is closed at once.
                self.send(p.Message(p.A_CLSE, 0, msg.arg0))
                return
            stream = _Stream(self, next(self.ids), msg.arg0)
            self.streams[stream.local_id] = stream
            self.send(p.Message(p.A_OKAY, stream.local_id, stream.remote_id))
            threading.Thread(target=self.device._run_service, args=(stream, service), daemon=True,
                             name=f"adbsim-{service[:20]}").start()
        elif msg.command == p.A_OKAY:
            stream = self.streams.get(msg.arg1)
            if stream is not None:
                stream.remote_id = msg.arg0
                stream.acked.set()
        elif msg.command == p.A_WRTE:
            stream = self.streams.get(msg.arg1)
            if stream is not None:
                with stream.inbox_ready:
                    stream.inbox += msg.data
                    stream.inbox_ready.notify_all()
                self.send(p.Message(p.A_OKAY, msg.arg1, msg.arg0))
        elif msg.command == p.A_CLSE:
            stream = self.streams.pop(msg.arg1, None)
            if stream is not None:
                stream.closed.set()
                with stream.inbox_ready:
                    stream.inbox_ready.notify_all()


S_IFREG = 0o100000
S_IFDIR = 0o040000


class SimDevice:
    """One simulated device. `state` survives `stop()`/`start()`, as a phone's does across a cable pull."""

    features = ("shell_v2", "cmd", "stat_v2", "fixed_push_mkdir")

    def __init__(self, state: DeviceState | None = None, *, android: int = 14, port: int = 0, auth: bool = True,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.state = state if state is not None else build_state(android)
        self.auth = auth
        self.clock = clock
        self.authorized_keys: list = []
        self.shell = make_shell()
        self._port = port
        self._listener: socket.socket | None = None
        self._connections: list[_Connection] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self._port}"

    def start(self) -> "SimDevice":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._port))
        listener.listen(8)
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept, daemon=True, name=f"adbsim-{self._port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go away like an unplugged phone: stop listening and drop every connection."""
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass
            self._listener = None
        for conn in list(self._connections):
            conn.dead.set()
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.sock.close()
            except OSError:
                pass
        self._connections.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SimDevice":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        # A short accept timeout: closing a socket does not wake a thread blocked in accept().
        listener.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                sock, _addr = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            self._connections.append(conn)
            threading.Thread(target=conn.serve, daemon=True, name="adbsim-conn").start()

    # ---- services ----------------------------------------------------------------------------

    def run_shell(self, command: str, *, user: str | None = None) -> Result:
        """Run a command line as adbd would (also handy for tests that poke the device directly)."""
        with self.state.lock:
            ctx = Ctx(self.state, user or self._adbd_user(), INIT_NS, b"", self.clock)
            return self.shell.run(ctx, command)

    def _adbd_user(self) -> str:
        return "root" if self.state.root_mode == "adbd" else "shell"

    def _run_service(self, stream: _Stream, service: str) -> None:
        try:
            if service.startswith("shell,") or service.startswith("shell:"):
                options, _, command = service.partition(":")
                if ",v2" in options or options.startswith("shell,v2"):
                    self._shell_v2(stream, command)
                else:
                    self._shell_v1(stream, command)
            elif service.startswith("exec:"):
                self._shell_v1(stream, service[5:])
            elif service.startswith("sync:"):
                self._sync(stream)
            elif service.startswith("reverse:"):
                self._reverse(stream, service[len("reverse:"):])
            elif service.startswith("tcp:"):
                self._tcp(stream, int(service[len("tcp:"):].split(":")[-1]))
            elif service.startswith("root:"):
                debuggable = self.state.props.get("ro.debuggable") == "1"
                if debuggable:
                    self.state.root_mode = "adbd"
                stream.write(b"restarting adbd as root\n" if debuggable else b"adbd cannot run as root in production builds\n")
            elif service.startswith("unroot:"):
                if self.state.root_mode == "adbd":
                    self.state.root_mode = None
                stream.write(b"restarting adbd as non root\n")
        finally:
            stream.close()

    def _follow(self, stream: _Stream, follow: Follow, wrap: Callable[[bytes], bytes]) -> None:
        while not stream.closed.is_set() and not self._stopping.is_set():
            chunk = follow.next_chunk(0.1)
            if chunk and not stream.write(wrap(chunk)):
                return

    def _shell_v1(self, stream: _Stream, command: str) -> None:
        if not command.strip():
            stream.write(b"interactive shells are not simulated\n")
            return
        result = self.run_shell(command)
        stream.write(result.out + result.err)
        if result.follow is not None:
            self._follow(stream, result.follow, lambda chunk: chunk)

    def _shell_v2(self, stream: _Stream, command: str) -> None:
        result = self.run_shell(command)
        if result.out:
            stream.write(p.shell_packet(p.SHELL_STDOUT, result.out))
        if result.err:
            stream.write(p.shell_packet(p.SHELL_STDERR, result.err))
        if result.follow is not None:
            self._follow(stream, result.follow, lambda chunk: p.shell_packet(p.SHELL_STDOUT, chunk))
        stream.write(p.shell_packet(p.SHELL_EXIT, bytes([result.code & 0xFF])))

    def accepts_tcp(self, service: str) -> bool:
        """`tcp:PORT` (or tcp:HOST:PORT): a process listens on that port of the device."""
        port = service[len("tcp:"):].split(":")[-1]
        with self.state.lock:
            return port.isdigit() and self.state.listener(int(port)) is not None

    def _tcp(self, stream: _Stream, port: int) -> None:
        """A connection forwarded to a listening process. The frida-server stand-in speaks no Frida protocol:
        it takes what the client sends first (Frida's WebSocket upgrade), records it, and hangs up."""
        first = b""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not stream.closed.is_set():
            with stream.inbox_ready:
                if stream.inbox:
                    first = bytes(stream.inbox)
                    stream.inbox.clear()
                    break
                stream.inbox_ready.wait(0.1)
        with self.state.lock:
            self.state.connections.append((port, first))

    def _reverse(self, stream: _Stream, command: str) -> None:
        state = self.state
        with state.lock:
            if command == "list-forward":
                body = "".join(f"(reverse) {r.remote} {r.local}\n" for r in state.reverses).encode()
                stream.write(f"{len(body):04x}".encode() + body)
                return
            if command == "killforward-all":
                state.reverses.clear()
                stream.write(b"OKAY")
                return
            if command.startswith("killforward:"):
                remote = command[len("killforward:"):]
                before = len(state.reverses)
                state.reverses = [r for r in state.reverses if r.remote != remote]
                if len(state.reverses) == before:
                    message = f"listener '{remote}' not found".encode()
                    stream.write(b"FAIL" + f"{len(message):04x}".encode() + message)
                else:
                    stream.write(b"OKAY")
                return
            if command.startswith("forward:"):
                rest = command[len("forward:"):]
                norebind = rest.startswith("norebind:")
                if norebind:
                    rest = rest[len("norebind:"):]
                remote, _, local = rest.partition(";")
                existing = [r for r in state.reverses if r.remote == remote]
                if existing and norebind:
                    message = b"cannot rebind existing socket"
                    stream.write(b"FAIL" + f"{len(message):04x}".encode() + message)
                    return
                from support.adbsim.state import ReverseRule

                state.reverses = [r for r in state.reverses if r.remote != remote] + [ReverseRule(remote, local)]
                stream.write(b"OKAY")
                return
        message = b"unknown reverse command"
        stream.write(b"FAIL" + f"{len(message):04x}".encode() + message)

    # ---- sync ---------------------------------------------------------------------------------

    def _stat(self, path: str) -> tuple[int, int, int] | None:
        file = self.state.read_file(path)
        if file is not None:
            return S_IFREG | file.mode, len(file.data), file.mtime
        if self.state.is_dir(path):
            return S_IFDIR | 0o755, 4096, 1_700_000_000
        return None

    def _sync(self, stream: _Stream) -> None:
        user = self._adbd_user()
        while True:
            header = stream.read_exact(8)
            if header is None:
                return
            request, length = header[:4], struct.unpack("<I", header[4:])[0]
            if request == b"QUIT":
                return
            path_bytes = stream.read_exact(length) if length else b""
            if path_bytes is None:
                return
            path = path_bytes.decode("utf-8", errors="replace")
            with self.state.lock:
                if request == b"STAT":
                    mode, size, mtime = self._stat(path) or (0, 0, 0)
                    stream.write(b"STAT" + struct.pack("<III", mode, size, mtime))
                elif request in (b"STA2", b"LST2"):
                    found = self._stat(path)
                    error = 0 if found else 2
                    mode, size, mtime = found or (0, 0, 0)
                    stream.write(request + struct.pack("<IQQIIIIQqqq", error, 1, 1, mode, 1, 0, 0, size, mtime, mtime, mtime))
                elif request == b"LIST":
                    for name in self.state.list_dir(path) or []:
                        mode, size, mtime = self._stat(path.rstrip("/") + "/" + name) or (0, 0, 0)
                        encoded = name.encode()
                        stream.write(b"DENT" + struct.pack("<IIII", mode, size, mtime, len(encoded)) + encoded)
                    stream.write(b"DONE" + b"\0" * 16)
                elif request == b"RECV":
                    file = self.state.read_file(path)
                    if file is None:
                        message = b"No such file or directory"
                        stream.write(b"FAIL" + struct.pack("<I", len(message)) + message)
                        continue
                    for offset in range(0, len(file.data), 64 * 1024):
                        chunk = file.data[offset:offset + 64 * 1024]
                        stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                    stream.write(b"DONE" + struct.pack("<I", 0))
                    continue
            if request == b"SEND":
                self._receive_file(stream, path, user)
            elif request not in (b"STAT", b"STA2", b"LST2", b"LIST", b"RECV"):
                message = b"unknown sync request"
                stream.write(b"FAIL" + struct.pack("<I", len(message)) + message)
                return

    def _receive_file(self, stream: _Stream, spec: str, user: str) -> None:
        from support.adbsim.commands import check_writable

        path, _, mode_text = spec.rpartition(",")
        mode = int(mode_text) & 0o7777 if mode_text.isdigit() else 0o644
        data = bytearray()
        mtime = 0
        while True:
            header = stream.read_exact(8)
            if header is None:
                return
            kind, length = header[:4], struct.unpack("<I", header[4:])[0]
            if kind == b"DATA":
                chunk = stream.read_exact(length)
                if chunk is None:
                    return
                data += chunk
            elif kind == b"DONE":
                mtime = length
                break
            else:
                return
        with self.state.lock:
            ctx = Ctx(self.state, user, INIT_NS, b"", self.clock)
            denied = check_writable(ctx, path)
            if denied:
                message = f"couldn't create file: {denied}".encode()
                stream.write(b"FAIL" + struct.pack("<I", len(message)) + message)
                return
            parent = path.rsplit("/", 1)[0] or "/"
            self.state.make_dirs(parent)
            self.state.write_file(path, bytes(data), mode, owner=user)
            file = self.state.read_file(path)
            if file is not None and mtime:
                file.mtime = mtime
        stream.write(b"OKAY" + b"\0\0\0\0")
