"""Errors the library raises. The CLI turns each into one clear message and an exit code; library code never prints."""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error consentmon reports to a user. `hint` says how to fix it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class DataFileError(MonitorError):
    """A knowledge file (catalogue, rules, SDKs, scopes, words) or a scenario is malformed."""


class RunDirError(MonitorError):
    """A run directory is missing, incomplete or tampered with."""


class CaptureError(MonitorError):
    """Capture could not record something; raised so nothing passes unrecorded."""


class AgentError(MonitorError):
    """The Frida agent could not be built, loaded or talked to."""


class TargetError(MonitorError):
    """The program under test could not be started or attached to."""


class DeviceError(MonitorError):
    """A device could not be reached, prepared or restored."""
