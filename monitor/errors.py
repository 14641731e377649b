"""Errors the library raises. The CLI turns each into one clear message and an exit code; library code never prints.

The exit code is the error's kind, the same for every command (README "Exit codes", monitor/devci/exitcodes.py):
1 is kept for "cases found" (the CI gate, `diff`'s new cases, doctor's unready device), so an error is never 1.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error consentmon reports to a user. `hint` says how to fix it."""

    exit_code = 6   # any other error consentmon reports

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class DataFileError(MonitorError):
    """A knowledge file (catalogue, rules, SDKs, scopes, words) or a scenario is malformed."""

    exit_code = 4


class RunDirError(MonitorError):
    """A run directory is missing, incomplete or tampered with."""

    exit_code = 3


class CaptureError(MonitorError):
    """Capture could not record something; raised so nothing passes unrecorded."""

    exit_code = 5   # the run could not be recorded


class AgentError(MonitorError):
    """The Frida agent could not be built, loaded or talked to."""

    exit_code = 5   # the run could not be recorded


class TargetError(MonitorError):
    """The program under test could not be started or attached to."""

    exit_code = 5   # the run could not be recorded


class DeviceError(MonitorError):
    """A device could not be reached, prepared or restored."""

    exit_code = 5   # the run could not be recorded
