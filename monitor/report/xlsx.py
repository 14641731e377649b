"""findings.xlsx (openpyxl): the workbook a testing firm files next to its report.

Sheets: 问题汇总 (cases), 个人信息读取明细 (every PI read), 网络传输明细 (every flow), SDK 清单 (each SDK
seen, with its modules, reads, PI types and destinations), 流量证据边界 (connections the proxy did not see, with
what each likely carried, and TLS it could not open), 运行信息 (run facts, file hashes, whether the run still
matches its manifest and what differs, where the agreed scope came from and the rules not checked, with why). Sheet
names and headers come from the message catalogue in the report's language; every sheet has a frozen
header row, an auto-filter and column widths fitted to its content (capped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from monitor.report.context import ReportData, iso
from monitor.report.output import write_with

MAX_WIDTH = 60
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Rows per detail sheet: openpyxl writes ~10 µs a cell, and Excel stops at 1,048,576 rows; past this the sheet
# ends with a row saying how many more there are and where they are (events.jsonl / flows.jsonl).
MAX_DETAIL_ROWS = 100_000
WIDTH_SAMPLE = 2000
HEADER_FILL = PatternFill("solid", fgColor="DDE3EC")
# Excel refuses a cell longer than this.
CELL_LIMIT = 32_000


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set)):
        value = ", ".join(str(item) for item in value)
    if isinstance(value, str):
        if ILLEGAL.search(value):  # control characters are not allowed in XLSX cells
            value = ILLEGAL.sub("\ufffd", value)
        return value[:CELL_LIMIT]
    return value


def _width(value: Any) -> int:
    text = str(value)[:MAX_WIDTH * 2]
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) + 2


def _sheet(workbook: Workbook, title: str, headers: list[str], rows: Iterable[list[Any]]) -> None:
    """A streamed sheet (write-only: a million rows without a million cell objects), widths fitted to the
    header and the first WIDTH_SAMPLE rows."""
    sheet = workbook.create_sheet(title=title[:31])
    rows = iter(rows)
    sample = [[_cell(value) for value in row] for row in islice(rows, WIDTH_SAMPLE)]
    widths = [_width(header) for header in headers]
    for row in sample:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], _width(value))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, width)
    sheet.freeze_panes = "A2"
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for row in sample:
        sheet.append(row)
        count += 1
    for row in rows:
        sheet.append([_cell(value) for value in row])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{count + 1}"


def _capped(rows: Iterable[list[Any]], total: int, note: str) -> Iterable[list[Any]]:
    yield from rows
    if total > MAX_DETAIL_ROWS:
        yield [note]


def build_workbook(data: ReportData) -> Workbook:
    t = data.text
    lang = data.lang
    workbook = Workbook(write_only=True)

    categories = {name.removeprefix("category."): t(name) for name in t.catalogue.messages if name.startswith("category.")}

    def category(name: str | None) -> str:
        return t(f"category.{name}") if name and t.has(f"category.{name}") else (name or "")

    def state(name: str | None) -> str:
        return t(f"consent.{name}") if name and t.has(f"consent.{name}") else (name or "")

    _sheet(workbook, t("xlsx.sheet.cases"),
           [t("xlsx.col.no"), t("col.severity"), t("col.rule"), t("case.subject"), t("xlsx.col.sentence"), t("case.pi"),
            t("case.consent"), t("case.destinations"), t("col.first"), t("col.last"), t("col.count"), t("xlsx.col.apis"),
            t("col.articles"), t("col.id"), t("xlsx.col.findings"), t("case.evidence_level")],
           [[index, t(f"severity.{case['severity']}") if t.has(f"severity.{case['severity']}") else case["severity"],
             case["title"].get(lang) or case["rule"], case["subject"]["name"][lang], case["sentence"][lang],
             t("list.sep").join(pi["name"][lang] for pi in case["pi"]),
             t("list.sep").join(state(s) for s in case["consent_states"]), case["destinations"],
             iso(case["first_seen_ns"]), iso(case["last_seen_ns"]), case["count"],
             [read["api"] for read in case["reads"]] + [connect["api"] for connect in case["connects"] if connect["api"]],
             "; ".join(f"{a['regulation']} {a['article']}" for a in case["articles"]), case["id"], case["finding_ids"],
             t(f"evidence.level.{case.get('evidence_level') or 'runtime'}")]
            for index, case in enumerate(data.cases, start=1)])
    _sheet(workbook, t("xlsx.sheet.reads"),
           [t("xlsx.col.seq"), t("col.time"), t("xlsx.col.process"), t("xlsx.col.thread"), t("xlsx.col.api"), t("col.category"),
            t("xlsx.col.value"), t("col.by"), t("xlsx.col.sdk_id"), t("xlsx.col.frame")],
           _capped(([row.seq, row.time, row.process, row.thread, row.api, categories.get(row.category, row.category), row.value,
                     row.subject, row.sdk_id, row.frame] for row in data.reads_table.head(MAX_DETAIL_ROWS).itertuples(index=False)),
                   len(data.reads_table), t("xlsx.more_rows", n=len(data.reads_table) - MAX_DETAIL_ROWS, file="events.jsonl")))
    _sheet(workbook, t("xlsx.sheet.flows"),
           [t("xlsx.col.flow_id"), t("col.time"), t("xlsx.col.method"), t("xlsx.col.url"), t("col.host"), t("xlsx.col.status"),
            t("xlsx.col.size"), t("xlsx.col.pi_found")],
           _capped(([row["flow_id"], row["time"], row["method"], row["url"], row["host"], row["status"], row["size"], row["pi"]]
                     for row in data.flows_table[:MAX_DETAIL_ROWS]),
                   len(data.flows_table), t("xlsx.more_rows", n=len(data.flows_table) - MAX_DETAIL_ROWS, file="flows.jsonl")))
    declared = any(row.get("policy") is not None for row in data.sdk_table)

    def yes_no(value: Any) -> str:
        return t("value.unknown") if value is None else t("value.yes") if value else t("value.no")

    def categories_of(values: list[str]) -> str:
        return t("list.sep").join(category(c) for c in values)

    policy_headers = [t("xlsx.col.in_policy"), t("xlsx.col.policy_row"), t("xlsx.col.declared_pi"), t("xlsx.col.sent_pi"),
                      t("xlsx.col.undeclared_pi")] if declared else []
    _sheet(workbook, t("xlsx.sheet.sdks"),
           [t("xlsx.col.sdk_id"), t("xlsx.col.sdk_name"), t("xlsx.col.vendor"), t("col.kind"), t("xlsx.col.modules"),
            t("xlsx.col.reads"), t("case.pi"), t("case.destinations"), t("col.cases"), *policy_headers],
           [[row["id"], row["name"], row.get("vendor_name") or row["vendor"], row.get("kind_name") or row["kind"], row["modules"], row["reads"],
             t("list.sep").join(category(c) for c in row["categories"].split(", ") if c), row["hosts"], row["cases"],
             *([yes_no((row.get("policy") or {}).get("in_policy")), (row.get("policy") or {}).get("policy_row") or "",
                categories_of((row.get("policy") or {}).get("declared_pi") or []),
                categories_of((row.get("policy") or {}).get("sent_pi") or []),
                categories_of((row.get("policy") or {}).get("undeclared_pi") or [])] if declared else [])]
            for row in data.sdk_table])
    coverage = data.coverage or {}
    _sheet(workbook, t("xlsx.sheet.coverage"),
           [t("xlsx.col.edge"), t("col.host"), t("col.port"), t("col.likely"), t("col.detail"), t("col.opened_by"),
            t("col.first"), t("col.consent")],
           [*([t("coverage.unseen", n=len(coverage.get("unseen") or [])), row["host"],
               f"{'' if row['port'] is None else row['port']}/{row['transport']}", row["likely"], row["note"],
               row["opened_by"], row["first_seen"], row["consent"]] for row in coverage.get("unseen") or []),
            *([t("coverage.tls", n=len(coverage.get("tls") or [])), row["host"], row["port"], "", row["refused_by"],
               row["opened_by"], row["first_seen"], row["consent"]] for row in coverage.get("tls") or [])])
    run_rows = [[t(key), value] for key, value in data.facts]
    run_rows.append([t("fact.generated"), data.generated])
    run_rows += [[f"{t('col.sha256')} {name}", digest] for name, digest in data.hashes]
    if data.chain_head:
        run_rows.append([t("appendix.chain"), data.chain_head])
    if data.redacted:
        run_rows.append([t("xlsx.col.redacted"), t("report.redacted")])
    if not data.sealed:
        run_rows.append([t("xlsx.col.integrity"), t("integrity.unsealed")])
    elif data.integrity_shown:
        run_rows += [[t("xlsx.col.integrity"), t("integrity.changed")],
                     *([t("xlsx.col.integrity"), problem] for problem in data.integrity_shown)]
    else:
        run_rows.append([t("xlsx.col.integrity"), t("integrity.ok")])
    run_rows.append([t("xlsx.col.scope"), data.scope_line])
    run_rows += [[t("xlsx.col.skipped"), t("summary.skipped", rule=item["rule"], title=item["title"], why=item["why"])]
                 for item in data.skipped]
    _sheet(workbook, t("xlsx.sheet.run"), [t("xlsx.col.item"), t("xlsx.col.content")], run_rows)
    return workbook


def write_xlsx(data: ReportData, target: Path) -> Path:
    workbook = build_workbook(data)
    return write_with(Path(target), lambda path: workbook.save(path))
