"""Programs on this machine that the agent spawns: found on PATH like a shell would, JVMs recognised."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.errors import TargetError


def is_jvm_command(argv: list[str]) -> bool:
    return Path(argv[0]).name in {"java", "java.exe"}


def resolve_program(argv: list[str]) -> list[str]:
    """Frida spawns by path, not through a shell: look the program up on PATH like a shell would."""
    program = argv[0]
    if os.sep in program:
        return argv
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate.resolve()), *argv[1:]]
    raise TargetError(f"{program}: command not found on PATH", hint="give the full path of the program after --")
