"""The device side of the adb transport protocol: 24-byte message headers and their payloads.

Layout of a header (all little-endian uint32): command, arg0, arg1, data length, data checksum
(byte sum; only checked by peers older than version 0x01000001), magic (command XOR 0xffffffff).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass


def _cmd(name: bytes) -> int:
    return struct.unpack("<I", name)[0]


A_SYNC = _cmd(b"SYNC")
A_CNXN = _cmd(b"CNXN")
A_AUTH = _cmd(b"AUTH")
A_OPEN = _cmd(b"OPEN")
A_OKAY = _cmd(b"OKAY")
A_CLSE = _cmd(b"CLSE")
A_WRTE = _cmd(b"WRTE")
A_STLS = _cmd(b"STLS")

# AUTH arg0 values.
AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3

# The version that made checksums optional; the host sends it and so do we.
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024

HEADER = struct.Struct("<6I")
NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY",
         A_CLSE: "CLSE", A_WRTE: "WRTE", A_STLS: "STLS"}


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, hex(self.command))

    def pack(self) -> bytes:
        checksum = sum(self.data) & 0xFFFFFFFF
        return HEADER.pack(self.command, self.arg0, self.arg1, len(self.data), checksum,
                           self.command ^ 0xFFFFFFFF) + self.data


class ConnectionClosed(Exception):
    """The host closed the TCP connection."""


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionClosed()
        chunks += chunk
    return bytes(chunks)


def read_message(sock: socket.socket) -> Message:
    command, arg0, arg1, length, _checksum, magic = HEADER.unpack(_read_exact(sock, HEADER.size))
    if magic != command ^ 0xFFFFFFFF:
        raise ConnectionClosed()
    data = _read_exact(sock, length) if length else b""
    return Message(command, arg0, arg1, data)


# Shell protocol v2 packet ids: one byte id, uint32 length, payload.
SHELL_STDIN = 0
SHELL_STDOUT = 1
SHELL_STDERR = 2
SHELL_EXIT = 3
SHELL_CLOSE_STDIN = 4
SHELL_WINDOW_SIZE = 5


def shell_packet(packet_id: int, data: bytes) -> bytes:
    return struct.pack("<BI", packet_id, len(data)) + data
