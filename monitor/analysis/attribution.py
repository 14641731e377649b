"""Who read it: the app itself, a known SDK, or unknown code — from the Java stack of the read.

The nearest frame that is not the platform (attribution.yaml `framework_prefixes`) decides. Its class is
matched against the SDK table's package prefixes, longest first, with the app's own package (run.json
`app.package`) competing as one more prefix that means "the app itself". An obfuscated frame (a.b.c)
says nothing about its owner, so the nearest known frame below it decides, with lower confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import pandas as pd

from monitor.data.models import SdkTable
from monitor.data.rule_models import AttributionTable

APP_ITSELF = "app"
FRAME_LOCATION = re.compile(r"\(.*\)\s*$")


@dataclass(frozen=True)
class Attribution:
    owner: str                 # "app" | "sdk" | "unknown"
    sdk_id: str | None
    frame: str | None          # the frame that decided
    confidence: float
    via: str                   # direct | via_obfuscated | unknown_code | no_stack


def frame_class(frame: str) -> str:
    """'com.umeng.commonsdk.UMConfigure.preInit(UMConfigure.java:17)' → 'com.umeng.commonsdk.UMConfigure'."""
    qualified = FRAME_LOCATION.sub("", frame.strip()).strip()
    if qualified.startswith("at "):
        qualified = qualified[3:]
    return qualified.rsplit(".", 1)[0] if "." in qualified else qualified


def frame_method(frame: str) -> str:
    qualified = FRAME_LOCATION.sub("", frame.strip()).strip()
    return qualified[3:] if qualified.startswith("at ") else qualified


class Attributor:
    """Attributes stacks; memoises each distinct stack, since a run repeats the same few thousand stacks."""

    def __init__(self, *, sdks: SdkTable, table: AttributionTable, app_package: str | None) -> None:
        self.table = table
        self.framework = tuple(table.framework_prefixes)
        self.owners: dict[str, str | None] = {}
        for sdk in sdks.sdks:
            for prefix in sdk.prefixes:
                self.owners[prefix.rstrip(".")] = sdk.id
        self.app_package = app_package
        if app_package:
            # The app's package is one more prefix; a longer SDK prefix inside it (an SDK vendored under the
            # app's package) still wins, and the app's package wins over a shorter SDK prefix.
            self.owners[app_package] = None
        self.names = {sdk.id: sdk for sdk in sdks.sdks}
        self._cache: dict[tuple[str, tuple[str, ...]], Attribution] = {}

    def _is_framework(self, cls: str) -> bool:
        return cls.startswith(self.framework)

    def _is_obfuscated(self, cls: str) -> bool:
        limit = self.table.obfuscated_segment_max_len
        parts = cls.split(".")
        # Inner classes ($1, $a) are part of the last segment; judge the segment before '$'.
        return all(len(part.split("$", 1)[0]) <= limit for part in parts)

    def _owner(self, cls: str) -> tuple[bool, str | None]:
        """(known, sdk_id) by the longest matching package prefix on segment boundaries."""
        candidate = cls
        while candidate:
            if candidate in self.owners:
                return True, self.owners[candidate]
            if "." not in candidate:
                break
            candidate = candidate.rsplit(".", 1)[0]
        return False, None

    def attribute(self, stack: Iterable[str] | None, *, api: str | None = None) -> Attribution:
        frames = tuple(stack) if stack else ()
        key = (api or "", frames)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._attribute(frames, api)
        self._cache[key] = result
        return result

    def _attribute(self, frames: tuple[str, ...], api: str | None) -> Attribution:
        confidence = self.table.confidence
        if not frames:
            return Attribution("unknown", None, None, confidence["no_stack"], "no_stack")
        first_unowned: str | None = None  # the nearest non-platform frame when no known frame decides
        passed_obfuscated = False
        for frame in frames:
            # The hooked method itself can head the stack (HotSpot shows it as a native frame); an API of an
            # SDK (AdvertisingIdClient) would otherwise be attributed to that SDK's own prefix.
            if api and frame_method(frame) == api:
                continue
            cls = frame_class(frame)
            if self._is_framework(cls):
                continue
            known, sdk_id = self._owner(cls)
            if known:
                via = "via_obfuscated" if passed_obfuscated else "direct"
                return Attribution(APP_ITSELF if sdk_id is None else "sdk", sdk_id, frame, confidence[via], via)
            if first_unowned is None:
                first_unowned = frame
            if self._is_obfuscated(cls):
                passed_obfuscated = True
                continue
            if not passed_obfuscated:
                # Readable code of no known SDK and not the app's package called the API: it is the reader.
                break
        return Attribution("unknown", None, first_unowned, confidence["unknown_code"], "unknown_code")

    def sdk_name(self, sdk_id: str | None, owner: str) -> str:
        if sdk_id is not None and sdk_id in self.names:
            name = self.names[sdk_id].name
            return f"{name.en} ({name.zh})" if name.zh else name.en
        return "app itself" if owner == APP_ITSELF else "unknown code"


def attribute_events(timeline: pd.DataFrame, attributor: Attributor, *, kinds: Iterable[str] = ("pi_read", "app_start")) -> pd.DataFrame:
    """Adds, for hook events of `kinds` (others get owner "" and NaN confidence):
      owner (str)                    — "app" | "sdk" | "unknown"
      sdk_id (str|None)              — the SDK table id, None for the app itself or unknown code
      sdk_frame (str|None)           — the frame that decided
      attribution_confidence (float) — attribution.yaml `confidence` of the way it was decided
      attributed_via (str)           — direct | via_obfuscated | unknown_code | no_stack
    """
    marked = timeline.copy(deep=False)  # new columns only: the input's columns are shared, never written
    wanted = (marked["source"] == "hook") & marked["kind"].isin(list(kinds))
    owner = pd.Series("", index=marked.index, dtype=object)
    sdk_id = pd.Series(None, index=marked.index, dtype=object)
    frame = pd.Series(None, index=marked.index, dtype=object)
    confidence = pd.Series(float("nan"), index=marked.index, dtype=float)
    via = pd.Series("", index=marked.index, dtype=object)
    subset = marked.loc[wanted, ["stack", "api"]]
    results: list[Any] = [attributor.attribute(stack if isinstance(stack, list) else None, api=api)
                          for stack, api in zip(subset["stack"].tolist(), subset["api"].tolist())]
    if results:
        owner.loc[subset.index] = [r.owner for r in results]
        sdk_id.loc[subset.index] = [r.sdk_id for r in results]
        frame.loc[subset.index] = [r.frame for r in results]
        confidence.loc[subset.index] = [r.confidence for r in results]
        via.loc[subset.index] = [r.via for r in results]
    marked["owner"] = owner
    marked["sdk_id"] = sdk_id
    marked["sdk_frame"] = frame
    marked["attribution_confidence"] = confidence
    marked["attributed_via"] = via
    return marked
