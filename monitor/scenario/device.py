"""An app on an Android device as a scenario target (adb: am, input, uiautomator, screencap)."""

from __future__ import annotations

from pathlib import Path

from monitor.device.app import AppControl


class DeviceTarget:
    """An app on an Android device. `clear_first` wipes its data before the first launch only, so a
    scenario's later `relaunch` keeps what the user chose."""

    def __init__(self, app: AppControl, *, clear_first: bool = True) -> None:
        self.app = app
        self.name = f"device:{app.device.serial}"
        self._clear_pending = clear_first

    def launch(self) -> None:
        if self._clear_pending:
            self.app.clear()
            self._clear_pending = False
        self.app.launch()

    def relaunch(self) -> None:
        self.app.relaunch()

    def force_stop(self) -> None:
        self.app.force_stop()

    def home(self) -> None:
        self.app.home()

    def back(self) -> None:
        self.app.back()

    def tap_point(self, x: int, y: int) -> None:
        self.app.tap_point(x, y)

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None:
        self.app.swipe(x1, y1, x2, y2, duration_ms)

    def input_text(self, text: str) -> None:
        self.app.input_text(text)

    def grant(self, permission: str) -> None:
        self.app.grant(permission)

    def revoke(self, permission: str) -> None:
        self.app.revoke(permission)

    def ui_dump(self) -> str:
        return self.app.ui_dump()

    def screenshot(self, path: Path) -> Path:
        return self.app.screenshot(path)
