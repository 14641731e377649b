"""The declared scope: what a privacy policy says the app and each SDK collect, with where it says so.

`DeclaredScope.as_json()` is the `consentmon scope --format json` form; `to_scope_file()` the `--scope` file
(monitor.data.rule_models.ScopeFile) that `consentmon analyze --scope` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.data.rule_models import ScopeFile


@dataclass(frozen=True)
class PolicySource:
    """One document read: where from, how, and its extracted text (offsets below point into that text)."""

    source: str
    url: str | None = None
    content_type: str | None = None
    kind: str = "text"
    charset: str | None = None
    chars: int = 0
    ts: int | None = None
    event_seq: int | None = None
    flow_id: str | None = None
    file: str | None = None  # the stored document in a run directory (policy/0001.html)
    duplicate_of: int | None = None  # the same bytes as that earlier document, so not read again

    def as_json(self) -> dict[str, Any]:
        data = {"source": self.source, "url": self.url, "content_type": self.content_type, "kind": self.kind,
                "charset": self.charset, "chars": self.chars}
        for key in ("ts", "event_seq", "flow_id", "file", "duplicate_of"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class DeclaredPi:
    """One PI item as written (`text`), the categories it names (none when the catalogue has no category for it)."""

    text: str
    categories: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    offset: int = 0
    broad: bool = False


@dataclass
class DeclaredSdk:
    name: str
    company: str | None
    purpose: str | None
    pi: list[DeclaredPi]
    offset: int
    document: int = 0
    sentence: str = ""
    link: str | None = None
    permissions: list[str] = field(default_factory=list)
    layout: str = ""
    sdk_id: str | None = None
    match_reason: str | None = None

    def categories(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.pi:
            for category in item.categories:
                seen.setdefault(category, None)
        return list(seen)


@dataclass(frozen=True)
class AppPi:
    category: str
    text: str
    offset: int
    document: int = 0
    sentence: str = ""


@dataclass
class DeclaredScope:
    app_pi: list[AppPi] = field(default_factory=list)
    sdks: list[DeclaredSdk] = field(default_factory=list)
    documents: list[PolicySource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self, *, evidence: bool = False) -> dict[str, Any]:
        """The JSON form, exactly {app_pi: [{category, text, offset}], sdks: [{name, company, sdk_id, pi: [{category, text}],
        purpose, offset}], documents, warnings}; `evidence` adds each item's document, sentence, link, permissions and the
        reason of its SDK id."""
        app_pi = []
        for item in self.app_pi:
            entry: dict[str, Any] = {"category": item.category, "text": item.text, "offset": item.offset}
            if evidence:
                entry.update(document=item.document, sentence=item.sentence)
            app_pi.append(entry)
        sdks = []
        for sdk in self.sdks:
            row: dict[str, Any] = {"name": sdk.name, "company": sdk.company, "sdk_id": sdk.sdk_id,
                                   "pi": [{"category": category, "text": item.text} for item in sdk.pi
                                          for category in (item.categories or (None,))],
                                   "purpose": sdk.purpose, "offset": sdk.offset}
            if evidence:
                row.update(document=sdk.document, sentence=sdk.sentence, link=sdk.link, permissions=sdk.permissions,
                           match_reason=sdk.match_reason, layout=sdk.layout)
            sdks.append(row)
        return {"app_pi": app_pi, "sdks": sdks, "documents": [document.as_json() for document in self.documents],
                "warnings": list(self.warnings)}

    def to_scope_file(self) -> ScopeFile:
        """The `--scope` file: the app's categories and, per mapped SDK id, the categories its row declares.

        A row that maps to no SDK id cannot be keyed by id; it is listed in `source` so the user sees it and can
        give it an id by hand."""
        app = list(dict.fromkeys(item.category for item in self.app_pi))
        sdks: dict[str, list[str]] = {}
        for sdk in self.sdks:
            if sdk.sdk_id is None:
                continue
            merged = sdks.setdefault(sdk.sdk_id, [])
            merged.extend(category for category in sdk.categories() if category not in merged)
        sources = ", ".join(document.url or document.source for document in self.documents)
        return ScopeFile(app=app, sdks=sdks, source=f"privacy policy: {sources}" if sources else None)


def scope_from_declared(declared: DeclaredScope) -> ScopeFile:
    """For the analyzer: the declared scope as the ScopeFile `beyond-scope` already consumes."""
    return declared.to_scope_file()
