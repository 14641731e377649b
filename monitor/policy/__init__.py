"""Read a privacy policy and its third-party SDK list into a declared scope (issue 22).

`parse_policy(bytes_or_text, source=…)` reads one document; `declared_scope(SOURCE)` reads a file, a URL or a
run directory's `policy/` documents. `DeclaredScope.as_json()` is the `consentmon scope` JSON form and
`scope_from_declared()` the `--scope` file the analyzer consumes.
"""

from __future__ import annotations

from monitor.policy.errors import PolicyCharsetError, PolicyError, PolicyFetchError, PolicyFormatError, PolicySourceError
from monitor.policy.model import AppPi, DeclaredPi, DeclaredScope, DeclaredSdk, PolicySource, scope_from_declared
from monitor.policy.parse import declared_scope, parse_policy
from monitor.store.policy import read_policy_documents, write_policy_document

__all__ = ["AppPi", "DeclaredPi", "DeclaredScope", "DeclaredSdk", "PolicyCharsetError", "PolicyError", "PolicyFetchError",
           "PolicyFormatError", "PolicySource", "PolicySourceError", "declared_scope", "parse_policy", "read_policy_documents",
           "scope_from_declared", "write_policy_document"]
