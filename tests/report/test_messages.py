"""One message catalogue: complete in zh and en, every key a template or renderer asks for exists, and the
templates carry no text of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.data import load_data
from monitor.data.messages import LANGUAGES, MessageCatalogue, messages, placeholders
from monitor.report.html import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "monitor" / "report").glob("*.py")), ROOT / "monitor" / "analysis" / "cases.py",
           ROOT / "monitor" / "cli" / "report.py", *sorted(TEMPLATES.glob("*.j2"))]
KEY = re.compile(r"""\bt\(\s*["']([a-z_][\w.-]*)["']""")


def test_every_message_is_in_both_languages_with_the_same_placeholders():
    catalogue = load_data("messages")
    for key, texts in catalogue.messages.items():
        assert set(texts) == set(LANGUAGES), key
        assert placeholders(texts["zh"]) == placeholders(texts["en"]), key


def test_the_schema_refuses_a_missing_language_or_a_placeholder_mismatch():
    with pytest.raises(ValueError, match="missing"):
        MessageCatalogue(version="1", messages={"a": {"zh": "甲"}})
    with pytest.raises(ValueError, match="placeholders"):
        MessageCatalogue(version="1", messages={"a": {"zh": "{n} 次", "en": "{count} times"}})


def test_every_key_the_code_and_templates_ask_for_exists():
    text = messages()
    used = {key for path in SOURCES for key in KEY.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 80
    missing = sorted(key for key in used if not text.has(key) and not key.endswith("."))
    assert not missing


def test_templates_hold_no_text_of_their_own():
    """Strip expressions, statements, comments, tags, the stylesheet and the script: what is left is layout
    punctuation only, never a word in any language."""
    for path in TEMPLATES.glob("*.j2"):
        source = path.read_text(encoding="utf-8")
        source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
        source = re.sub(r"<(style|script)\b.*?</\1>", "", source, flags=re.S)
        source = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", source, flags=re.S)
        source = re.sub(r"<[^>]*>", "", source)
        words = re.findall(r"[A-Za-z]{2,}|[\u4e00-\u9fff]+", source)
        assert not words, f"{path.name}: hard-coded text {words[:10]}"
