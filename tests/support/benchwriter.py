"""BENCHMARKS.md is shared by every benchmark in bench/: each rewrites only its own `## name` section."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_FILE = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"


def replace_section(heading: str, section: str, path: Path = BENCHMARKS_FILE) -> None:
    """Put `section` (which starts with `heading`) in place of that heading's section, or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    body = section.rstrip("\n") + "\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text, encoding="utf-8")
