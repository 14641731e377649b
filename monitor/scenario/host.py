"""A program on this machine as a scenario target, driven through its control channel.

A host program that wants to be driven listens on 127.0.0.1:$CONSENTMON_CONTROL_PORT and answers one
command per connection (`dump`, `tap X Y`, `home`, `resume`, `back`, `quit`; see the demo app's
ControlServer). `HostTarget` speaks that protocol and implements the same Target as a device, so one
scenario file runs on both. What a host program cannot do (permissions, relaunch) fails the step with a
clear error instead of pretending.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from monitor.errors import TargetError
from monitor.scenario.screens import render_screen
from monitor.scenario.uitree import parse_ui

LOOPBACK = "127.0.0.1"
CONTROL_ENV = "CONSENTMON_CONTROL_PORT"


class HostTarget:
    name = "host"

    def __init__(self, port: int, *, connect_timeout: float = 60.0, should_stop: Callable[[], bool] = lambda: False) -> None:
        self.port = port
        self.connect_timeout = connect_timeout
        self.should_stop = should_stop
        self._ready = False

    def _command(self, command: str) -> str:
        deadline = time.monotonic() + (5.0 if self._ready else self.connect_timeout)
        last_error: OSError | None = None
        while time.monotonic() < deadline and not self.should_stop():
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=10) as connection:
                    connection.sendall(command.encode() + b"\n")
                    chunks = []
                    while chunk := connection.recv(65536):
                        chunks.append(chunk)
                self._ready = True
                reply = b"".join(chunks).decode("utf-8", errors="replace")
                if reply.startswith("error "):
                    raise TargetError(f"the host program refused `{command}`: {reply[6:]}")
                return reply
            except OSError as error:  # not listening yet (still starting) or gone
                last_error = error
                time.sleep(0.1)
        raise TargetError(f"no control channel on {LOOPBACK}:{self.port} ({last_error})",
                          hint="the program must listen on $CONSENTMON_CONTROL_PORT to be driven by a scenario; "
                               "the demo app does")

    def launch(self) -> None:
        # The runner started the program already; `launch` brings it to the front.
        self._command("resume")

    def relaunch(self) -> None:
        raise TargetError("relaunch is not available on a host target", hint="run this scenario on a device or emulator")

    def force_stop(self) -> None:
        self._command("quit")

    def home(self) -> None:
        self._command("home")

    def back(self) -> None:
        self._command("back")

    def tap_point(self, x: int, y: int) -> None:
        if self._command(f"tap {x} {y}") != "ok":
            raise TargetError(f"nothing clickable at ({x}, {y})")

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None:
        raise TargetError("swipe is not available on a host target", hint="run this scenario on a device or emulator")

    def input_text(self, text: str) -> None:
        raise TargetError("text input is not available on a host target", hint="run this scenario on a device or emulator")

    def grant(self, permission: str) -> None:
        raise TargetError("runtime permissions exist only on a device", hint="run this scenario on a device or emulator")

    def revoke(self, permission: str) -> None:
        self.grant(permission)

    def ui_dump(self) -> str:
        return self._command("dump")

    def screenshot(self, path: Path) -> Path:
        """A PNG drawn from the UI tree: the host program has no framebuffer, but the picture shows which
        screen (dialog, main, launcher) was up and where its buttons were."""
        nodes = parse_ui(self.ui_dump())
        width = max((node.bounds[2] for node in nodes), default=1080)
        height = max((node.bounds[3] for node in nodes), default=2340)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_screen(nodes, width, height))
        return path
