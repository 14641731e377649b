"""`consentmon query "SQL"`: DuckDB over the results root's Parquet dataset, one view per table
(runs, cases, findings, reads, flows), with `app` and `date` read back from the hive partition path.

A table with no file yet is an empty view of its schema, so a query is valid before the first run.
Non-local roots (s3://, memory://…) are read through their fsspec filesystem, registered with DuckDB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from monitor.errors import MonitorError
from monitor.lab.export import PARTITIONS, SCHEMAS, TABLES
from monitor.lab.results import DATASET_DIR, ResultsRoot


class QueryError(MonitorError):
    """The SQL is wrong, or the dataset cannot be read."""


def connect(results: ResultsRoot):  # type: ignore[no-untyped-def]
    import duckdb

    con = duckdb.connect()
    if results.is_local:
        base = results.path(DATASET_DIR)
    else:
        con.register_filesystem(results.fs)
        protocol = results.url.split("://", 1)[0]
        base = f"{protocol}://{results.path(DATASET_DIR).lstrip('/') if protocol == 'memory' else results.path(DATASET_DIR)}"
    for table in TABLES:
        pattern = f"{base}/{table}/*/*/*.parquet"
        try:
            # Every file of a table has the table's one schema (monitor.lab.export), so DuckDB takes it from the
            # first file rather than opening all of them at bind time (union_by_name would).
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{_quote(pattern)}', "
                        f"hive_partitioning = true, hive_types_autocast = false)")
        except duckdb.IOException:
            # No file yet: an empty view of the table's schema, so a query is valid before the first run.
            empty = pa.schema([*SCHEMAS[table], *[(name, pa.string()) for name in PARTITIONS]]).empty_table()
            con.register(f"_{table}_empty", empty)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")
    return con


def _quote(text: str) -> str:
    return text.replace("'", "''")


def run_query(results_url: str, sql: str) -> pa.Table:
    import duckdb

    results = ResultsRoot(results_url)
    con = connect(results)
    try:
        relation = con.sql(sql)
        return relation.to_arrow_table() if relation is not None else pa.table({})
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}",
                         hint=f"views: {', '.join(TABLES)}; columns: `DESCRIBE findings` (app and date are in every view)") from exc
    finally:
        con.close()


def write_csv(table: pa.Table, path: Path) -> None:
    import pyarrow.csv as csv

    csv.write_csv(_plain(table), str(path))


def write_parquet(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, str(path))


def _plain(table: pa.Table) -> pa.Table:
    """CSV has no lists: list columns become JSON-ish text."""
    columns: list[Any] = []
    for column in table.columns:
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            column = pa.array([None if value is None else "|".join(map(str, value)) for value in column.to_pylist()], pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)
