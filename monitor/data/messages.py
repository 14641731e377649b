"""The one message catalogue every report string comes from: monitor/data/messages.yaml.

Why a schema-checked YAML catalogue and not gettext: the project's knowledge is YAML checked by pydantic
(rules, SDKs, scopes), reviewers read both languages side by side in one file, and nothing has to be
compiled at build time (.po → .mo) or kept in step with the sources by extraction. The schema refuses a
message missing a language and one whose placeholders differ between languages; a test refuses a
template that uses an unknown key or carries text of its own.

Chinese is the default language; English the second. A placeholder is `{name}` (str.format).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.errors import DataFileError

MESSAGES_FILE = Path(__file__).parent / "messages.yaml"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class MessageCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: str
    messages: dict[str, dict[str, str]] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> "MessageCatalogue":
        problems = []
        for key, texts in self.messages.items():
            missing = [lang for lang in LANGUAGES if not texts.get(lang)]
            extra = sorted(set(texts) - set(LANGUAGES))
            if missing or extra:
                problems.append(f"{key}: missing {missing}, unknown {extra}" if extra else f"{key}: missing {missing}")
                continue
            names = {lang: placeholders(texts[lang]) for lang in LANGUAGES}
            if len({frozenset(value) for value in names.values()}) != 1:
                problems.append(f"{key}: placeholders differ between languages {names}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Messages:
    """Looks texts up by key in one language; `lang` is fixed per report."""

    def __init__(self, catalogue: MessageCatalogue, lang: str = DEFAULT_LANGUAGE) -> None:
        if lang not in LANGUAGES:
            raise DataFileError(f"unknown report language {lang!r}", hint=f"use one of: {', '.join(LANGUAGES)}")
        self.catalogue = catalogue
        self.lang = lang

    def has(self, key: str) -> bool:
        return key in self.catalogue.messages

    def __call__(self, key: str, **params: Any) -> str:
        try:
            text = self.catalogue.messages[key][self.lang]
        except KeyError:
            raise DataFileError(f"{MESSAGES_FILE}: no message {key!r}",
                                hint="add it, in every language, to monitor/data/messages.yaml") from None
        return text.format(**params) if params else text

    def get(self, key: str, default: str | None = None, **params: Any) -> str | None:
        return self(key, **params) if self.has(key) else default

    def both(self, key: str, **params: Any) -> dict[str, str]:
        """The text in every language (what findings.json stores)."""
        return {lang: Messages(self.catalogue, lang)(key, **params) for lang in LANGUAGES}

    def in_lang(self, lang: str) -> "Messages":
        return Messages(self.catalogue, lang)


def load_catalogue(path: Path | None = None) -> MessageCatalogue:
    from monitor.data import load_data  # the one loader (it imports this module for the schema)

    return load_data("messages", path)


def messages(lang: str = DEFAULT_LANGUAGE) -> Messages:
    return Messages(load_catalogue(), lang)
