"""The lab: many apps × many devices. A batch plan (`plan`) expands into jobs kept in SQLite (`state`),
run by local worker threads per device and host slot (`local`) or by Celery workers across machines
(`distributed`); each job's run is analysed and committed to a results root, a path or any fsspec URL
(`results`), with its rows in a Parquet dataset (`export`) that `consentmon query` reads with DuckDB (`query`).

Layer: above the runner (it drives runs), below the CLI.
"""
