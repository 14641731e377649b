"""Grouping reads into hits fast: the kernel every check shares.

A check asks for its reads grouped by a key (`group_reads`) and turns each group into a `Hit`
(`hit_from_reads`). A million reads must group in well under a second (bench/analysis), so keys are
ranked once with pandas.factorize and groups are cut from one sorted order instead of DataFrame.groupby.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from monitor.analysis.engine import Hit


def missing_as_none(value: Any) -> Any:
    return None if value is None or value == "" or (isinstance(value, float) and np.isnan(value)) else value


def _key_text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)) else str(value)


def _key_ranks(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each value's key text (`_key_text`) as its rank among the distinct key texts, and those texts in order."""
    codes, uniques = pd.factorize(values)
    texts = [_key_text(value) for value in uniques.tolist()]
    distinct = sorted(set(texts) | {""})
    rank_of = {text: rank for rank, text in enumerate(distinct)}
    # A missing value (code -1) reads as "": the last entry of the lookup is its rank.
    lookup = np.array([rank_of[text] for text in texts] + [rank_of[""]], dtype=np.int64)
    return lookup[codes], distinct


# What checks look at in a group of reads (hit_from_reads and the checks below). A group carries only these
# and its key columns: copying the timeline's other columns for a million reads is most of a check's time.
GROUP_COLUMNS = ("ts", "seq", "category", "api", "value", "sdk_id", "owner", "sdk_frame", "attribution_confidence",
                 "process_key", "background", "consent_state", "consent_confidence")


def group_reads(reads: pd.DataFrame, by: list[str], *, limit: int, where: np.ndarray | None = None,
                columns: tuple[str, ...] = GROUP_COLUMNS) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Reads grouped by `by` (None-safe: a missing value is ""), each group in time order; groups in key
    order. Groups hold `columns` and the `by` columns. `where` (a boolean mask over `reads`) keeps only
    those rows, without copying the rest first."""
    rows = np.flatnonzero(where) if where is not None else np.arange(len(reads))
    if len(rows) == 0:
        return []
    combined = np.zeros(len(rows), dtype=np.int64)
    for name in by:
        ranks, texts = _key_ranks(reads[name].to_numpy(dtype=object)[rows])
        # Re-numbered densely after each column, so the mixed-radix number never overflows and its order is
        # the order of the key tuples.
        codes, uniques = pd.factorize(combined * len(texts) + ranks)
        combined = np.argsort(np.argsort(uniques))[codes]
    ts = reads["ts"].to_numpy(dtype=np.int64)[rows]
    seq = reads["seq"].to_numpy(dtype=np.int64)[rows]
    later = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (seq[1:] >= seq[:-1]))
    if bool(later.all()):
        # Already in time order (the timeline is): a stable sort by group keeps it, and on small integers
        # numpy's stable sort is a radix sort.
        narrow = combined.astype(np.uint16) if combined.max() < 1 << 16 else combined
        order = np.argsort(narrow, kind="stable")
    else:
        order = np.lexsort((seq, ts, combined))  # stable: rows equal in all three keep their order
    kept = list(dict.fromkeys(name for name in (*columns, *by) if name in reads.columns))
    ordered = reads[kept].take(rows[order])
    starts = np.flatnonzero(np.diff(combined[order], prepend=-1))
    ends = np.append(starts[1:], len(order))
    groups = []
    for start, end in zip(starts.tolist(), ends.tolist()):
        group = ordered.iloc[start:end]
        groups.append(({name: _key_text(group[name].iat[0]) for name in by}, group))
    return groups


def hit_from_reads(key: tuple[Any, ...], group: pd.DataFrame, *, confidence: float, limit: int,
                   detail: dict[str, Any] | None = None, evidence_rows: pd.DataFrame | None = None) -> Hit:
    first = group.iloc[0]
    rows = evidence_rows if evidence_rows is not None else group
    values = sorted({str(v) for v in group["value"].head(1000).tolist() if isinstance(v, str) and v})
    return Hit(
        key=key,
        first_ns=int(group["ts"].iloc[0]), last_ns=int(group["ts"].iloc[-1]), count=len(group),
        category=missing_as_none(first["category"]), api=missing_as_none(first["api"]),
        sdk_id=missing_as_none(first["sdk_id"]), owner=missing_as_none(first["owner"]) or "unknown", frame=missing_as_none(first["sdk_frame"]),
        attribution_confidence=float(group["attribution_confidence"].min()),
        process=missing_as_none(first["process_key"]),
        background=bool(group["background"].any()),
        consent_state=str(first["consent_state"]),
        confidence=confidence,
        event_seqs=[int(s) for s in rows["seq"].head(limit).tolist()],
        values=values,
        detail=detail or {},
    )


READ_KEY = ["category", "api", "sdk_id", "owner", "process_key"]
