"""report.json and the published JSON Schema of findings.json.

The schema (monitor/report/findings.schema.json, shipped in the package) is generated from the Findings
model and versioned by its `schema` number: `python -m monitor.report.jsonout` rewrites it, and a test fails
while the file differs from the model, so what is published is what is written. A JSON report is
findings.json itself (with --redact, its values masked), checked against the schema before it is written.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from monitor.analysis.findings import FINDINGS_SCHEMA, Findings
from monitor.report.context import ReportData
from monitor.report.output import ReportError, write_atomic

SCHEMA_FILE = Path(__file__).parent / "findings.schema.json"
SCHEMA_ID = f"urn:consentmon:findings:{FINDINGS_SCHEMA}"


def schema_document() -> dict[str, Any]:
    schema = Findings.model_json_schema(by_alias=True, mode="serialization")
    schema["properties"]["schema"] = {"const": FINDINGS_SCHEMA, "title": "Schema",
                                      "description": "version of this format; a reader refuses a version it does not know"}
    schema["required"] = sorted({*schema.get("required", []), "schema"})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "description": "findings.json written by `consentmon analyze` (and report.json by `consentmon report --format json`)",
            **schema}


def schema_text() -> str:
    return json.dumps(schema_document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@lru_cache(maxsize=1)
def published_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def schema_errors(document: Any) -> list[str]:
    """Every way `document` breaks the published schema, each as 'path: message'."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(published_schema())
    return [f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))]


def write_json(data: ReportData, target: Path) -> Path:
    document = data.findings
    problems = schema_errors(document)
    if problems:
        raise ReportError(f"the JSON report does not match {SCHEMA_FILE.name}: {problems[0]}",
                          hint="re-create findings.json with `consentmon analyze RUN_DIR` (it may come from another version)")
    return write_atomic(Path(target), (json.dumps(document, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8"))


if __name__ == "__main__":
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
