"""Score a declared scope's SDK rows against hand labels ({"sdks": [{"name", "company", "pi": [...]}, …]}).

Rows are paired in source order by name (folded: width, case and spaces ignored; one name containing the
other counts, so '友盟统计' matches '友盟统计（com.umeng…）' only when written so). Labelled `other_recipients`
(third parties that are not SDKs) count neither for nor against. Per-row PI: of the label's items, how many
the row holds (folded equality), and of the row's items how many are labelled.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from monitor.policy import DeclaredScope


def fold(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[\s\u200b\u3000“”\"']+", "", unicodedata.normalize("NFKC", text)).casefold()


def _same(a: str, b: str) -> bool:
    a, b = fold(a), fold(b)
    return a == b or (len(a) >= 2 and len(b) >= 2 and (a in b or b in a) and min(len(a), len(b)) * 2 >= max(len(a), len(b)))


@dataclass
class Score:
    labelled: int = 0
    found: int = 0
    matched: int = 0
    pi_labelled: int = 0
    pi_found: int = 0
    pi_matched: int = 0
    pi_rows_ok: int = 0
    company_ok: int = 0
    mapped: int = 0
    name_exact: int = 0  # the row's name character for character as labelled, no folding
    pi_exact: int = 0    # labelled PI items found character for character
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    pi_misses: list[str] = field(default_factory=list)

    def add(self, other: "Score") -> None:
        for name in ("labelled", "found", "matched", "pi_labelled", "pi_found", "pi_matched", "pi_rows_ok", "company_ok", "mapped", "name_exact", "pi_exact"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.missed += other.missed
        self.extra += other.extra
        self.pi_misses += other.pi_misses

    @property
    def recall(self) -> float:
        return self.matched / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else (1.0 if not self.labelled else 0.0)

    @property
    def pi_recall(self) -> float:
        return self.pi_matched / self.pi_labelled if self.pi_labelled else 1.0

    @property
    def pi_precision(self) -> float:
        return self.pi_matched / self.pi_found if self.pi_found else 1.0


def score(scope: DeclaredScope, labels: dict) -> Score:
    result = Score()
    wanted = labels.get("sdks", [])
    others = [entry["name"] for entry in labels.get("other_recipients", [])]
    got = [sdk for sdk in scope.sdks]
    result.labelled = len(wanted)
    used: set[int] = set()
    cursor = 0
    for label in wanted:
        pick = None
        for offset in list(range(cursor, len(got))) + list(range(0, cursor)):
            if offset not in used and _same(got[offset].name, label["name"]):
                pick = offset
                break
        if pick is None:
            result.missed.append(label["name"])
            continue
        used.add(pick)
        cursor = pick + 1
        result.matched += 1
        row = got[pick]
        if row.name == label["name"].strip():
            result.name_exact += 1
        result.pi_exact += sum(1 for item in label.get("pi", []) if item.strip() in [pi.text for pi in row.pi])
        want_company = label.get("company")
        if (not want_company and not row.company) or (want_company and row.company and fold(want_company) == fold(row.company)):
            result.company_ok += 1
        label_pi = [fold(item) for item in label.get("pi", [])]
        row_pi = [fold(item.text) for item in row.pi]
        hits = sum(1 for item in label_pi if item in row_pi)
        result.pi_labelled += len(label_pi)
        result.pi_found += len(row_pi)
        result.pi_matched += hits
        precise = sum(1 for item in row_pi if item in label_pi)
        if hits == len(label_pi) and precise == len(row_pi):
            result.pi_rows_ok += 1
        else:
            result.pi_misses.append(f"{label['name']}: want {label.get('pi')} got {[item.text for item in row.pi]}")
    for index, row in enumerate(got):
        if index in used:
            continue
        if any(_same(row.name, other) for other in others):
            continue
        result.extra.append(row.name)
    result.mapped = sum(1 for row in got if row.sdk_id)
    result.found = len(got) - sum(1 for index, row in enumerate(got) if index not in used and any(_same(row.name, other) for other in others))
    return result


def load_labels(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
