"""Load a YAML file into a pydantic model with errors that name the file, line and field.

Every knowledge file and every scenario goes through here, so a typo in any of them gets the same
kind of message: `scenarios/agree.yaml:12: steps.3.wait: Input should be a valid number`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from monitor.errors import DataFileError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _line_index(node: yaml.Node, path: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> None:
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index[path + (key,)] = key_node.start_mark.line + 1
            _line_index(value_node, path + (key,), index)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _line_index(item, path + (position,), index)


def _line_for(loc: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> int | None:
    # pydantic adds discriminator tags and the like to `loc`; fall back to the deepest known prefix.
    for end in range(len(loc), -1, -1):
        line = index.get(tuple(loc[:end]))
        if line is not None:
            return line
    return None


def _bad_scalar(text: str, loader: Any) -> tuple[str, str]:
    """(":LINE", "KEY: ") of the first date-tagged scalar that is no date, or ("", "") when none is found."""
    import datetime

    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError:
        return "", ""
    pending: list[tuple[str, yaml.Node]] = [("", root)] if root is not None else []
    while pending:
        key, node = pending.pop(0)
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":timestamp"):
            try:
                datetime.date.fromisoformat(node.value[:10])
            except ValueError:
                return f":{node.start_mark.line + 1}", f"{key}: " if key else ""
        elif isinstance(node, yaml.MappingNode):
            pending.extend((str(name.value), value) for name, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((key, item) for item in node.value)
    return "", ""


def read_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataFileError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: cannot read ({exc})", hint="save it as UTF-8 text") from exc
    # libyaml's C loader when present (it usually is): the same results, several times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DataFileError(f"{path}{line}: not valid YAML ({exc.problem})",
                            hint="check indentation and quoting on that line") from exc
    except (ValueError, OverflowError) as exc:
        # PyYAML turns a date-shaped scalar into a date and raises a bare ValueError for an impossible one
        # (2026-02-30): found again by its node, so the message names its line like every other.
        line, key = _bad_scalar(text, loader)
        raise DataFileError(f"{path}{line}: {key}not a valid date ({exc})",
                            hint="write a real date as YYYY-MM-DD, or quote the value to keep it as text") from exc
    except yaml.YAMLError as exc:
        # Refused before parsing (a control character, a byte sequence that is no text): said with its line.
        position = getattr(exc, "position", None)
        line = f":{text.count(chr(10), 0, position) + 1}" if isinstance(position, int) else ""
        raise DataFileError(f"{path}{line}: not valid YAML ({getattr(exc, 'reason', None) or exc})",
                            hint="remove the control character on that line, or save the file as plain UTF-8 text") from exc
    index: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _line_index(node, (), index)
    return data, index


def load_model(path: Path, model: type[ModelT], *, wrap: str | None = None) -> ModelT:
    """Validate a YAML file against `model`. `wrap` puts a top-level list under that key first."""
    data, index = read_yaml(path)
    if wrap is not None:
        data = {wrap: data}
        index = {(wrap,) + key: line for key, line in index.items()}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = []
        for error in exc.errors()[:10]:
            loc = tuple(error["loc"])
            line = _line_for(loc, index)
            where = f"{path}:{line}" if line else str(path)
            field = ".".join(str(part) for part in (loc[1:] if wrap else loc)) or "(top level)"
            messages.append(f"{where}: {field}: {error['msg']}")
        more = f"\n  … and {len(exc.errors()) - 10} more" if len(exc.errors()) > 10 else ""
        raise DataFileError("\n".join(messages) + more, hint=f"fix the field named above in {path}") from exc
