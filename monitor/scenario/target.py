"""What a scenario drives: one Target protocol, implemented by `scenario.device.DeviceTarget` (an app on an
Android device) and `scenario.host.HostTarget` (a program on this machine with a control channel)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Target(Protocol):
    name: str                                   # "device:<serial>" / "host"
    def launch(self) -> None: ...               # start the app (first run: after pm clear if requested)
    def relaunch(self) -> None: ...             # force-stop then launch
    def force_stop(self) -> None: ...
    def home(self) -> None: ...                 # app to background
    def back(self) -> None: ...
    def tap_point(self, x: int, y: int) -> None: ...
    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None: ...
    def input_text(self, text: str) -> None: ...
    def grant(self, permission: str) -> None: ...
    def revoke(self, permission: str) -> None: ...
    def ui_dump(self) -> str: ...               # uiautomator-format XML
    def screenshot(self, path: Path) -> Path: ...   # PNG written to path
