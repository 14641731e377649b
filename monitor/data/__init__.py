"""Knowledge as data: every file here is validated by its schema, and all are loaded by `load_data`.

| kind          | file               | schema                                   |
|---------------|--------------------|------------------------------------------|
| catalogue     | catalogue.yaml     | models.Catalogue: hooked APIs → PI category |
| sdks          | sdks.yaml          | models.SdkTable: SDK package prefixes and domains |
| consent_words | consent_words.yaml | models.ConsentWords: 同意 / 不同意 in zh and en |
| unpin         | unpin.yaml         | models.UnpinTable: certificate pinning the agent can bypass |
| protocols     | protocols.yaml     | models.ProtocolTable: what a port most likely carries |
| platform      | platform.yaml      | models.PlatformFacts: Android constants the rules read |
| rules         | rules.yaml         | rule_models.RuleSet: rules, thresholds, cited articles |
| attribution   | attribution.yaml   | rule_models.AttributionTable: stack frames that are not the caller |
| app_types     | app_types.yaml     | scope_models.AppTypeTable: the 39 app types' necessary PI |
| matching      | matching.yaml      | matching_models.MatchingRules: what the value matcher searches |
| messages      | messages.yaml      | messages.MessageCatalogue: every report string, zh and en |
| dangerous_permissions | dangerous_permissions.yaml | models.DangerousPermissionTable: Android's runtime permissions |
| self_start    | self_start.yaml    | models.SelfStartTable: broadcasts that start an app through a manifest receiver |
| packers       | packers.yaml       | models.PackerTable: app packers (加固) by stub class, library and file |
| scope         | (the user's file)  | rule_models.ScopeFile: the privacy policy's declared PI |

Loads are cached; pass a path to load a user's own file instead of the bundled one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from monitor.data.matching_models import MatchingRules
from monitor.data.messages import MessageCatalogue
from monitor.data.models import Catalogue, ConsentWords, PlatformFacts, ProtocolTable, SdkTable, UnpinTable
from monitor.data.models import DangerousPermissionTable, PackerTable, SelfStartTable
from monitor.data.policy_models import PolicyWords
from monitor.data.rule_models import AttributionTable, RuleSet, ScopeFile
from monitor.data.scope_models import AppTypeTable
from monitor.data.yamlfile import load_model
from monitor.errors import DataFileError

DATA_DIR = Path(__file__).parent

# kind → (bundled file or None for a file only the user gives, schema)
DATA_FILES: dict[str, tuple[str | None, type[BaseModel]]] = {
    "catalogue": ("catalogue.yaml", Catalogue),
    "sdks": ("sdks.yaml", SdkTable),
    "consent_words": ("consent_words.yaml", ConsentWords),
    "unpin": ("unpin.yaml", UnpinTable),
    "protocols": ("protocols.yaml", ProtocolTable),
    "platform": ("platform.yaml", PlatformFacts),
    "rules": ("rules.yaml", RuleSet),
    "attribution": ("attribution.yaml", AttributionTable),
    "app_types": ("app_types.yaml", AppTypeTable),
    "matching": ("matching.yaml", MatchingRules),
    "messages": ("messages.yaml", MessageCatalogue),
    "dangerous_permissions": ("dangerous_permissions.yaml", DangerousPermissionTable),
    "self_start": ("self_start.yaml", SelfStartTable),
    "packers": ("packers.yaml", PackerTable),
    "policy_words": ("policy_words.yaml", PolicyWords),
    "scope": (None, ScopeFile),
}


def bundled_file(kind: str) -> Path:
    name, _ = DATA_FILES[kind]
    if name is None:
        raise DataFileError(f"there is no bundled {kind} file", hint=f"give your own {kind} file")
    return DATA_DIR / name


@lru_cache(maxsize=64)
def _load(kind: str, path: Path) -> Any:
    return load_model(path, DATA_FILES[kind][1])


def load_data(kind: str, path: Path | str | None = None) -> Any:
    """The knowledge file of this kind (the bundled one, or the file at `path`), checked against its schema."""
    if kind not in DATA_FILES:
        raise DataFileError(f"unknown kind of data file {kind!r}", hint=f"one of: {', '.join(DATA_FILES)}")
    return _load(kind, Path(path) if path is not None else bundled_file(kind))


CATALOGUE_FILE = bundled_file("catalogue")
SDKS_FILE = bundled_file("sdks")
CONSENT_WORDS_FILE = bundled_file("consent_words")
RULES_FILE = bundled_file("rules")
ATTRIBUTION_FILE = bundled_file("attribution")
APP_TYPES_FILE = bundled_file("app_types")
MATCHING_FILE = bundled_file("matching")


# Typed shorthands for the kinds code asks for most; each is `load_data` under another name.
def load_catalogue(path: Path | str | None = None) -> Catalogue:
    return load_data("catalogue", path)


def load_sdks(path: Path | str | None = None) -> SdkTable:
    return load_data("sdks", path)


def load_consent_words(path: Path | str | None = None) -> ConsentWords:
    return load_data("consent_words", path)


def load_unpin(path: Path | str | None = None) -> UnpinTable:
    return load_data("unpin", path)


def load_protocols(path: Path | str | None = None) -> ProtocolTable:
    return load_data("protocols", path)


def load_platform(path: Path | str | None = None) -> PlatformFacts:
    return load_data("platform", path)


def load_rules(path: Path | str | None = None) -> RuleSet:
    return load_data("rules", path)


def load_attribution(path: Path | str | None = None) -> AttributionTable:
    return load_data("attribution", path)


def load_app_types(path: Path | str | None = None) -> AppTypeTable:
    return load_data("app_types", path)


def load_matching_rules(path: Path | str | None = None) -> MatchingRules:
    return load_data("matching", path)


def load_scope(path: Path | str) -> ScopeFile:
    return load_data("scope", path)
