"""The scope the user agreed to, read from the privacy policy the run captured (policy/), for the rules.

`declared_for_run` reads the run's policy documents into a DeclaredScope (monitor.policy), or says in one
line why there is none; `scope_for_rules` turns it into the ScopeFile `beyond-scope` consumes. An SDK list
row names one product of a vendor (友盟+ SDK), while the SDK table attributes code to the module that ran
(umeng-analytics) and traffic to the vendor's domain (umeng): a row covers every entry of its group, as a
regulator's notice names the vendor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor.data.models import SdkTable
from monitor.data.rule_models import ScopeFile
from monitor.policy import DeclaredScope, PolicyError, declared_scope, read_policy_documents

NO_POLICY = ("no privacy policy was captured in this run, so the scope the user agreed to is unknown: "
             "beyond-scope and undisclosed-sdk need it (record with `run --fetch-policy`, or analyse with "
             "--scope FILE or --app-type TYPE)")


def declared_for_run(run_root: Path) -> tuple[DeclaredScope | None, str | None]:
    """(the declared scope, None), or (None, why there is none) — never an exception for a bad policy."""
    try:
        if not read_policy_documents(Path(run_root)):
            return None, NO_POLICY
        return declared_scope(Path(run_root)), None
    except PolicyError as exc:
        return None, f"the privacy policy captured in this run could not be read: {exc}"


def group_members(sdks: SdkTable, sdk_id: str) -> set[str]:
    """Every SDK table id in the same group as `sdk_id` (the umbrella and its modules)."""
    subject = sdks.subject_of(sdk_id)
    return {entry.id for entry in sdks.sdks if sdks.subject_of(entry.id) == subject} | {sdk_id}


def scope_for_rules(declared: DeclaredScope, sdks: SdkTable) -> ScopeFile:
    """The declared scope as a ScopeFile: the app's own categories, and per SDK id (every member of a named
    row's group) the categories its row declares."""
    per_sdk: dict[str, set[str]] = {}
    for row in declared.sdks:
        if not row.sdk_id:
            continue
        for member in group_members(sdks, row.sdk_id):
            per_sdk.setdefault(member, set()).update(row.categories())
    documents = [document.url or document.source for document in declared.documents]
    return ScopeFile(app=sorted({item.category for item in declared.app_pi}),
                     sdks={sdk_id: sorted(categories) for sdk_id, categories in sorted(per_sdk.items())},
                     source="privacy policy captured in the run: " + ", ".join(dict.fromkeys(documents)))


def _document(declared: DeclaredScope, index: int) -> str | None:
    if 0 <= index < len(declared.documents):
        document = declared.documents[index]
        return document.url or document.source
    return None


def row_evidence(declared: DeclaredScope, sdks: SdkTable, sdk_id: str | None) -> dict[str, Any] | None:
    """The SDK list row that names `sdk_id`'s group, quoted, or None when no row does."""
    if not sdk_id:
        return None
    subject = sdks.subject_of(sdk_id)
    for row in declared.sdks:
        if row.sdk_id and sdks.subject_of(row.sdk_id) == subject:
            return {"name": row.name, "company": row.company, "pi": [item.text for item in row.pi],
                    "quote": row.sentence or None, "document": _document(declared, row.document),
                    "offset": row.offset, "matched_by": row.match_reason}
    return None


def sdk_list_summary(declared: DeclaredScope) -> dict[str, Any]:
    """Which list a missing SDK is missing from: the documents read and the rows their SDK list has."""
    return {"documents": list(dict.fromkeys(d.url or d.source for d in declared.documents)),
            "sdk_list_rows": [row.name for row in declared.sdks],
            "has_sdk_list": bool(declared.sdks)}


def app_pi_evidence(declared: DeclaredScope) -> list[dict[str, Any]]:
    return [{"category": item.category, "text": item.text, "quote": item.sentence or None,
             "document": _document(declared, item.document), "offset": item.offset} for item in declared.app_pi]
