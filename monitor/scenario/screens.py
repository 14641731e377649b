"""A screen as a picture, drawn from its UI tree, for targets that have no framebuffer to capture.

A host program driven by a scenario (the built-in demo) answers `dump` with a uiautomator-format tree but
has nothing to screencap; the screenshot a scenario takes there is drawn from that tree, so the evidence
still shows which screen (dialog, main, launcher) was up and where its buttons were.
"""

from __future__ import annotations

import struct
import zlib
from typing import Iterable, Protocol


class ScreenNode(Protocol):
    @property
    def cls(self) -> str: ...
    @property
    def bounds(self) -> tuple[int, int, int, int]: ...


def render_screen(nodes: Iterable[ScreenNode], width: int, height: int, *, scale: int = 8) -> bytes:
    """A real PNG of the screen: every node a filled rectangle, buttons darker. Downscaled so a
    screenshot stays small; enough to see which screen was shown."""
    w, h = max(1, width // scale), max(1, height // scale)
    pixels = bytearray(b"\xff\xff\xff" * (w * h))
    shades = {"android.widget.Button": (0x30, 0x80, 0xd0), "android.widget.LinearLayout": (0xe8, 0xe8, 0xe8),
              "android.widget.TextView": (0xc0, 0xc0, 0xc0), "android.widget.EditText": (0xa0, 0xd0, 0xa0)}
    for node in nodes:
        colour = shades.get(node.cls)
        if colour is None:
            continue
        x1, y1, x2, y2 = (v // scale for v in node.bounds)
        for row in range(max(0, y1), min(h, y2)):
            start = (row * w + max(0, x1)) * 3
            end = (row * w + min(w, x2)) * 3
            pixels[start:end] = bytes(colour) * ((end - start) // 3)
    raw = b"".join(b"\x00" + bytes(pixels[row * w * 3:(row + 1) * w * 3]) for row in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
