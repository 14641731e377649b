"""Who read it: the app itself, a known SDK, or unknown code — from the Java stack of the read.

The nearest frame that is not the platform (attribution.yaml `framework_prefixes`) decides. Its class is
matched against the SDK table's package prefixes, longest first, with the app's own package (run.json
`app.package`) competing as one more prefix that means "the app itself". An obfuscated frame (a.b.c)
says nothing about its owner, so the nearest known frame below it decides, with lower confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from monitor.data.models import SdkTable
from monitor.data.rule_models import AttributionTable

APP_ITSELF = "app"
PLATFORM = "platform"
FRAME_LOCATION = re.compile(r"\(.*\)\s*$")


@dataclass(frozen=True)
class Attribution:
    owner: str                 # "app" | "sdk" | "unknown" | "platform" (every frame is the runtime's own)
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


def native_module(frame: str) -> str | None:
    """'0x7fc78ce234c6 libjvm.so!_ZN2os5fopen+0x36' → 'libjvm.so'; None for a Java frame."""
    head = frame.strip().split(" ", 1)
    if len(head) == 2 and head[0].startswith("0x"):
        return head[1].split("!", 1)[0]
    return None


def frame_method(frame: str) -> str:
    qualified = FRAME_LOCATION.sub("", frame.strip()).strip()
    return qualified[3:] if qualified.startswith("at ") else qualified


class Attributor:
    """Attributes stacks; memoises each distinct stack, since a run repeats the same few thousand stacks."""

    def __init__(self, *, sdks: SdkTable, table: AttributionTable, app_package: str | None) -> None:
        self.table = table
        self.framework = tuple(table.framework_prefixes)
        self.platform_modules = frozenset(table.platform_modules)
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
        only_platform = True
        for frame in frames:
            module = native_module(frame)
            if module is not None:
                # A native frame: the runtime's own libraries are skipped like platform classes; any other
                # library (an SDK's .so) is code we cannot name, so it is the reader.
                if module in self.platform_modules:
                    continue
                only_platform = False
                first_unowned = first_unowned or frame
                break
            # The hooked method itself can head the stack (HotSpot shows it as a native frame); an API of an
            # SDK (AdvertisingIdClient) would otherwise be attributed to that SDK's own prefix.
            if api and frame_method(frame) == api:
                continue
            cls = frame_class(frame)
            # A known SDK or the app wins over the platform list: some SDKs live under platform-looking
            # packages (com.android.billingclient, com.android.installreferrer).
            known, sdk_id = self._owner(cls)
            if not known and self._is_framework(cls):
                continue
            only_platform = False
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
        if only_platform:
            # No frame of the app, an SDK or any other code: the runtime read it for itself (the JVM or ART
            # reading /proc/cpuinfo at start-up). Not the app's doing, and not judged as such.
            return Attribution(PLATFORM, None, None, confidence["direct"], "platform_only")
        return Attribution("unknown", None, first_unowned, confidence["unknown_code"], "unknown_code")

    def sdk_name(self, sdk_id: str | None, owner: str) -> str:
        if sdk_id is not None and sdk_id in self.names:
            name = self.names[sdk_id].name
            return f"{name.en} ({name.zh})" if name.zh else name.en
        if owner == PLATFORM:
            return "the platform itself"
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
    wanted = ((marked["source"] == "hook") & marked["kind"].isin(list(kinds))).to_numpy(dtype=bool)
    rows = np.flatnonzero(wanted)
    owner = np.full(len(marked), "", dtype=object)
    sdk_id = np.full(len(marked), None, dtype=object)
    frame = np.full(len(marked), None, dtype=object)
    confidence = np.full(len(marked), np.nan, dtype=float)
    via = np.full(len(marked), "", dtype=object)
    if len(rows):
        stacks = marked["stack"].to_numpy(dtype=object)[rows]
        apis = marked["api"].to_numpy(dtype=object)[rows]
        # Millions of reads carry a few thousand distinct stacks, and the reader gives equal stacks one shared
        # list: rows are grouped by the identity of their stack object and their API, and each group is
        # attributed once. (Identities are stable here: every stack is alive in `marked`.)
        stack_codes, _ = pd.factorize(np.fromiter(map(id, stacks), dtype=np.uint64, count=len(stacks)))
        api_codes, _ = pd.factorize(apis, use_na_sentinel=False)
        pair_codes, _ = pd.factorize(stack_codes.astype(np.int64) * (int(api_codes.max()) + 1) + api_codes)
        _, first_rows = np.unique(pair_codes, return_index=True)
        results = [attributor.attribute(stacks[at] if isinstance(stacks[at], list) else None, api=apis[at]) for at in first_rows]
        owner[rows] = np.array([r.owner for r in results], dtype=object)[pair_codes]
        sdk_id[rows] = np.array([r.sdk_id for r in results], dtype=object)[pair_codes]
        frame[rows] = np.array([r.frame for r in results], dtype=object)[pair_codes]
        confidence[rows] = np.array([r.confidence for r in results], dtype=float)[pair_codes]
        via[rows] = np.array([r.via for r in results], dtype=object)[pair_codes]
    marked["owner"] = pd.Series(owner, index=marked.index, dtype=object, copy=False)
    marked["sdk_id"] = pd.Series(sdk_id, index=marked.index, dtype=object, copy=False)
    marked["sdk_frame"] = pd.Series(frame, index=marked.index, dtype=object, copy=False)
    marked["attribution_confidence"] = pd.Series(confidence, index=marked.index, copy=False)
    marked["attributed_via"] = pd.Series(via, index=marked.index, dtype=object, copy=False)
    return marked
