"""Knowledge as data: every file here is validated by a model in `monitor.data.models`.

Loaders are cached; pass a path to load a user's own file instead of the bundled one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from monitor.data.models import Catalogue, ConsentWords, ProtocolTable, SdkTable, UnpinTable
from monitor.data.yamlfile import load_model

DATA_DIR = Path(__file__).parent
CATALOGUE_FILE = DATA_DIR / "catalogue.yaml"
SDKS_FILE = DATA_DIR / "sdks.yaml"
CONSENT_WORDS_FILE = DATA_DIR / "consent_words.yaml"
UNPIN_FILE = DATA_DIR / "unpin.yaml"
PROTOCOLS_FILE = DATA_DIR / "protocols.yaml"


@lru_cache(maxsize=8)
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    return load_model(path, Catalogue)


@lru_cache(maxsize=8)
def load_sdks(path: Path = SDKS_FILE) -> SdkTable:
    return load_model(path, SdkTable)


@lru_cache(maxsize=8)
def load_consent_words(path: Path = CONSENT_WORDS_FILE) -> ConsentWords:
    return load_model(path, ConsentWords)


@lru_cache(maxsize=4)
def load_unpin(path: Path = UNPIN_FILE) -> UnpinTable:
    return load_model(path, UnpinTable)


@lru_cache(maxsize=4)
def load_protocols(path: Path = PROTOCOLS_FILE) -> ProtocolTable:
    return load_model(path, ProtocolTable)
