"""The Findings model: what every report renders and findings.json stores.

Deterministic by construction: a finding's id is a short SHA-1 of its rule and its content key (never of
seq numbers or wall-clock time), findings are sorted by (severity, rule, first_seen, id), and the file is
written with sorted keys — two analyses of the same run are byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from monitor.analysis.cases import Case, CitedArticle
from monitor.errors import RunDirError
from monitor.store.files import read_text, write_atomic

FINDINGS_SCHEMA = 1
Frozen = ConfigDict(extra="forbid")


class SdkRef(BaseModel):
    """Who did it. `id` None with owner "app" is the app itself; owner "unknown" is code of no known SDK."""

    model_config = Frozen
    id: str | None
    name: str
    owner: str
    frame: str | None = None
    confidence: float


class MatchRef(BaseModel):
    """A PI value found in a flow: which field, how it was encoded, and the read that produced it."""

    model_config = Frozen
    flow_id: str
    field: str | None
    encoding: str | None
    category: str | None
    event_seq: int | None
    confidence: str | None
    detector: str | None


class Evidence(BaseModel):
    model_config = Frozen
    event_seqs: list[int] = Field(default_factory=list)
    flow_ids: list[str] = Field(default_factory=list)
    matches: list[MatchRef] = Field(default_factory=list)
    values: list[str] = Field(default_factory=list)
    screenshot: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Finding(BaseModel):
    model_config = Frozen
    id: str
    rule: str
    title: dict[str, str]
    severity: str
    category: str | None
    api: str | None
    host: str | None
    sdk: SdkRef
    first_seen_ns: int
    first_seen: str
    last_seen_ns: int
    last_seen: str
    count: int
    process: str | None
    background: bool
    consent_state: str | None
    confidence: float
    articles: list[CitedArticle]
    evidence: Evidence


class Findings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_version: int = Field(default=FINDINGS_SCHEMA, alias="schema")
    run: dict[str, Any]
    consent: dict[str, Any]
    findings: list[Finding]
    summary: dict[str, Any]
    # The findings grouped as a notice states them (rule × subject): monitor/analysis/cases.py.
    cases: list[Case] = Field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def finding_id(rule: str, key: tuple[Any, ...]) -> str:
    """Short content id: the same violation found again (another analysis, another order of lines) keeps it."""
    text = json.dumps([rule, *key], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def write_findings(findings: Findings, path: Path) -> None:
    """Write findings.json atomically: sorted keys, UTF-8 with Chinese kept readable, newline-terminated."""
    write_atomic(Path(path), findings.to_json())


def read_findings(path: Path) -> Findings:
    path = Path(path)
    text = read_text(path, missing_hint="run `consentmon analyze RUN_DIR` first")
    try:
        return Findings.model_validate_json(text)
    except ValueError as exc:
        raise RunDirError(f"{path}: not a findings file ({str(exc).splitlines()[0]})",
                          hint="re-create it with `consentmon analyze RUN_DIR`") from exc
