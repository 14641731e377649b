"""Where consentmon keeps what it builds once and reuses (the demo app's classes, agent builds).

Every cached build lives in a folder named by the hash of its inputs, so a changed input is rebuilt and
an unchanged one never is; `CONSENTMON_CACHE` moves the whole cache (CI keys it by its inputs).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    base = os.environ.get("CONSENTMON_CACHE") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "consentmon"
