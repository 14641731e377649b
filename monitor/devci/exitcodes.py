"""The exit codes of `consentmon run` and `consentmon analyze`: the one table CI scripts rely on (every other
command reports errors with the same codes: each error class carries its own, monitor/errors.py).

1 means one thing only — the gate found cases it fails on — so a broken tool can never pass for a
violation, nor a violation for a broken tool: every error is 2 or more. The README's table is this one
(a test compares them).
"""

from __future__ import annotations

from enum import IntEnum

from monitor.errors import AgentError, CaptureError, DataFileError, DeviceError, MonitorError, RunDirError, TargetError


class ExitCode(IntEnum):
    OK = 0
    GATE = 1
    USAGE = 2
    RUN_DIR = 3
    DATA = 4
    RUN = 5
    ERROR = 6
    INTERNAL = 7


# (code, what it means): the README's "Exit codes" table, row for row.
EXIT_CODES: tuple[tuple[ExitCode, str], ...] = (
    (ExitCode.OK, "no case the gate fails on (or no `--fail-on`/`--baseline` given)"),
    (ExitCode.GATE, "cases selected by `--fail-on` that the baseline does not accept: new, with new PI types, or past their `expires`"),
    (ExitCode.USAGE, "the command line is wrong: an unknown option, or an unknown rule or severity in `--fail-on`"),
    (ExitCode.RUN_DIR, "the run directory is missing, incomplete, not analysed, or fails verification"),
    (ExitCode.DATA, "a file given is malformed: baseline, rules, scope or scenario (the message names file:line)"),
    (ExitCode.RUN, "the run could not be recorded: the target, the Frida agent, the capture or the device failed"),
    (ExitCode.ERROR, "any other error consentmon reports (e.g. an output file that cannot be written)"),
    (ExitCode.INTERNAL, "an unexpected exception in consentmon itself: a bug, reported with its traceback"),
)


class GateUsageError(MonitorError):
    """`--fail-on` names a rule or severity that does not exist."""

    exit_code = ExitCode.USAGE


_BY_ERROR: tuple[tuple[type[MonitorError], ExitCode], ...] = (
    (GateUsageError, ExitCode.USAGE),
    (RunDirError, ExitCode.RUN_DIR),
    (DataFileError, ExitCode.DATA),
    (CaptureError, ExitCode.RUN),
    (AgentError, ExitCode.RUN),
    (TargetError, ExitCode.RUN),
    (DeviceError, ExitCode.RUN),
)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code of a gated command that stopped on `error` (never 0, never 1)."""
    if isinstance(error, MonitorError):
        if error.exit_code >= ExitCode.USAGE:  # an error class that says its own code (e.g. a file that is no APK: 2)
            return ExitCode(error.exit_code) if error.exit_code in ExitCode._value2member_map_ else ExitCode.ERROR
        for kind, code in _BY_ERROR:
            if isinstance(error, kind):
                return code
        return ExitCode.ERROR
    return ExitCode.INTERNAL
