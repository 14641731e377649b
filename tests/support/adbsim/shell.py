"""A small POSIX-ish shell over a `DeviceState`: `;`, `&&`, `||`, `|`, `&`, `>`/`>>`/`2>`/`2>&1`,
`$?` and `*` in the last path component. Enough for what adb clients send; anything else is a
command the handler table does not know, answered the way Android's mksh does (exit 127).
"""

from __future__ import annotations

import fnmatch
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from support.adbsim.state import DeviceState

if TYPE_CHECKING:
    from support.adbsim.commands import Follow


@dataclass
class Result:
    out: bytes = b""
    err: bytes = b""
    code: int = 0
    follow: "Follow | None" = None     # a streaming command (logcat without -d) keeps writing


@dataclass
class Ctx:
    state: DeviceState
    user: str                    # "shell" or "root"
    namespace: int
    stdin: bytes = b""
    now_ns: Callable[[], int] = field(default=lambda: 0)

    @property
    def is_root(self) -> bool:
        return self.user == "root"

    def with_user(self, user: str) -> "Ctx":
        return Ctx(self.state, user, self.namespace, self.stdin, self.now_ns)


Handler = Callable[[Ctx, list[str]], Result]
OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", ">&"}


def tokenize(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    return list(lexer)


@dataclass
class Command:
    argv: list[str]
    stdout_to: tuple[str, bool] | None = None    # (path, append)
    stderr_to: str | None = None                  # a path, or "&1"


def _parse_command(tokens: list[str]) -> Command:
    command = Command([])
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in (">", ">>") and index + 1 < len(tokens):
            is_stderr = bool(command.argv) and command.argv[-1] == "2" and index > 0
            if is_stderr:
                command.argv.pop()
                command.stderr_to = tokens[index + 1]
            else:
                command.stdout_to = (tokens[index + 1], token == ">>")
            index += 2
            continue
        if token == ">&" and index + 1 < len(tokens):
            if command.argv and command.argv[-1] == "2":
                command.argv.pop()
                command.stderr_to = "&1"
            index += 2
            continue
        if token == "<" and index + 1 < len(tokens):
            index += 2
            continue
        command.argv.append(token)
        index += 1
    return command


def parse(line: str) -> list[tuple[str | None, list[Command], bool]]:
    """Split into (connector, pipeline, background) triples."""
    tokens = tokenize(line)
    sequence: list[tuple[str | None, list[Command], bool]] = []
    connector: str | None = None
    pipeline: list[list[str]] = [[]]
    for token in tokens + [";"]:
        if token in (";", "&&", "||", "&"):
            if any(pipeline):
                commands = [_parse_command(part) for part in pipeline if part]
                sequence.append((connector, commands, token == "&"))
            connector = token if token in ("&&", "||") else None
            pipeline = [[]]
        elif token == "|":
            pipeline.append([])
        else:
            pipeline[-1].append(token)
    return sequence


class Shell:
    def __init__(self, handlers: dict[str, Handler], fallback: Callable[[Ctx, list[str]], Result | None]) -> None:
        self.handlers = handlers
        self.fallback = fallback

    def run(self, ctx: Ctx, line: str) -> Result:
        try:
            sequence = parse(line)
        except ValueError as exc:
            return Result(err=f"/system/bin/sh: syntax error: {exc}\n".encode(), code=2)
        out = bytearray()
        err = bytearray()
        code = 0
        for connector, pipeline, background in sequence:
            if connector == "&&" and code != 0:
                continue
            if connector == "||" and code == 0:
                continue
            result = self._pipeline(ctx, pipeline, code)
            if result.follow is not None and not background:
                result.out = bytes(out) + result.out
                return result
            if background:
                code = 0
                continue
            out += result.out
            err += result.err
            code = result.code
        return Result(bytes(out), bytes(err), code)

    def _pipeline(self, ctx: Ctx, pipeline: list[Command], last_code: int) -> Result:
        stdin = ctx.stdin
        result = Result()
        for command in pipeline:
            argv = [part.replace("$?", str(last_code)) for part in command.argv]
            argv = self._glob(ctx, argv)
            sub = Ctx(ctx.state, ctx.user, ctx.namespace, stdin, ctx.now_ns)
            result = self.exec(sub, argv)
            if command.stderr_to == "&1":
                result.out += result.err
                result.err = b""
            elif command.stderr_to is not None:
                if command.stderr_to != "/dev/null":
                    ctx.state.write_file(command.stderr_to, result.err, namespace=ctx.namespace)
                result.err = b""
            if command.stdout_to is not None:
                path, append = command.stdout_to
                if path != "/dev/null":
                    from support.adbsim.commands import check_writable

                    denied = check_writable(ctx, path)
                    if denied:
                        return Result(err=f"/system/bin/sh: can't create {path}: {denied}\n".encode(), code=1)
                    previous = ctx.state.read_file(path, ctx.namespace)
                    data = (previous.data if previous and append else b"") + result.out
                    ctx.state.write_file(path, data, namespace=ctx.namespace, owner=ctx.user)
                result.out = b""
            stdin = result.out
        return result

    def _glob(self, ctx: Ctx, argv: list[str]) -> list[str]:
        expanded: list[str] = []
        for arg in argv:
            if "*" in arg and arg.startswith("/"):
                directory, pattern = posixpath.split(arg)
                names = ctx.state.list_dir(directory, ctx.namespace) or []
                matches = [posixpath.join(directory, n) for n in names if fnmatch.fnmatchcase(n, pattern)]
                expanded.extend(matches or [arg])
            else:
                expanded.append(arg)
        return expanded

    def exec(self, ctx: Ctx, argv: list[str]) -> Result:
        if not argv:
            return Result()
        handler = self.handlers.get(posixpath.basename(argv[0]) if "/" in argv[0] and argv[0].startswith("/system/") else argv[0])
        if handler is not None:
            return handler(ctx, argv[1:])
        fallback = self.fallback(ctx, argv)
        if fallback is not None:
            return fallback
        return Result(err=f"/system/bin/sh: {argv[0]}: inaccessible or not found\n".encode(), code=127)
