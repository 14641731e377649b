"""One run → five Arrow tables (runs, cases, findings, reads, flows), the rows of the lab's Parquet dataset.

The dataset is hive-partitioned: `dataset/<table>/app=<app>/date=<YYYY-MM-DD>/<job id>.parquet`, so the
`app` and `date` columns live in the path, not in the files (DuckDB, Spark, Trino and pyarrow all read them
back from it). One file per job and table, named by the job id: a job exported again replaces its own
files and can never add rows twice.

Every table has a fixed schema (below), so a run without flows still writes a valid, empty flows file and
the union over thousands of runs has one shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from monitor.analysis.findings import Findings
from monitor.store.reader import read_events, read_flows, read_run_info
from monitor.store import EVENTS_FILE, FLOWS_FILE

TABLES = ("runs", "cases", "findings", "reads", "flows")
PARTITIONS = ("app", "date")

_str = pa.string()
_i64 = pa.int64()
_list = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "runs": pa.schema([
        ("job_id", _str), ("job_name", _str), ("kind", _str), ("package", _str), ("scenario", _str),
        ("serial", _str), ("model", _str), ("android", _str), ("abi", _str), ("worker", _str),
        ("started_ns", _i64), ("ended_ns", _i64), ("duration_s", pa.float64()), ("exit_reason", _str),
        ("events", _i64), ("pi_reads", _i64), ("flows", _i64), ("findings", _i64), ("cases", _i64),
        ("consent_state", _str), ("consent_ns", _i64), ("tool_version", _str), ("catalogue_version", _str),
        ("run_url", _str),
    ]),
    "cases": pa.schema([
        ("job_id", _str), ("case_id", _str), ("rule", _str), ("severity", _str), ("subject_kind", _str),
        ("subject_id", _str), ("subject_name", _str), ("subject_package", _str), ("vendor", _str),
        ("pi_categories", _list), ("destinations", _list), ("consent_states", _list), ("count", _i64),
        ("first_seen_ns", _i64), ("last_seen_ns", _i64), ("background", pa.bool_()), ("confidence", pa.float64()),
        ("sentence_zh", _str), ("sentence_en", _str),
    ]),
    "findings": pa.schema([
        ("job_id", _str), ("finding_id", _str), ("rule", _str), ("severity", _str), ("category", _str),
        ("api", _str), ("host", _str), ("sdk_id", _str), ("sdk_name", _str), ("sdk_owner", _str), ("process", _str),
        ("background", pa.bool_()), ("consent_state", _str), ("count", _i64), ("first_seen_ns", _i64),
        ("last_seen_ns", _i64), ("confidence", pa.float64()),
    ]),
    "reads": pa.schema([
        ("job_id", _str), ("seq", _i64), ("ts", _i64), ("pid", _i64), ("process", _str), ("thread", _str),
        ("category", _str), ("api", _str), ("value", _str), ("sdk", _str), ("frame", _str),
    ]),
    "flows": pa.schema([
        ("job_id", _str), ("flow_id", _str), ("ts_request_ns", _i64), ("ts_response_ns", _i64), ("method", _str),
        ("scheme", _str), ("host", _str), ("port", _i64), ("path", _str), ("url", _str), ("http_version", _str),
        ("status", _i64), ("error", _str), ("request_bytes", _i64), ("response_bytes", _i64),
        ("blocked_upstream", pa.bool_()),
    ]),
}


def partition_values(info: dict[str, Any], fallback_app: str) -> tuple[str, str]:
    """(app, date) of a run: its package (else the job's name) and the UTC day it started."""
    from monitor.lab.plan import _slug

    app = _slug((info.get("app") or {}).get("package") or fallback_app)
    started = info.get("started_ns")
    day = datetime.fromtimestamp(started / 1e9, UTC) if isinstance(started, int) else datetime.now(UTC)
    return app, day.strftime("%Y-%m-%d")


def _en(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("en") or value.get("zh")
    return value


def run_tables(run_dir: Path, findings: Findings, *, job: dict[str, Any], run_url: str,
               worker: str | None = None) -> dict[str, pa.Table]:
    """The five tables of one analysed run directory. `job` is the plan job (id, name, kind, spec)."""
    run_dir = Path(run_dir)
    info = read_run_info(run_dir)
    job_id = job["id"]
    events = read_events(run_dir / EVENTS_FILE)
    reads = events[(events["source"] == "hook") & (events["kind"] == "pi_read")]
    frames = [stack[0] if isinstance(stack, list) and stack else None for stack in reads["stack"]]
    n = len(reads)
    tables: dict[str, pa.Table] = {}
    tables["reads"] = pa.table({
        "job_id": pa.array([job_id] * n, _str),
        "seq": pa.array(reads["seq"].to_numpy(), _i64),
        "ts": pa.array(reads["ts"].to_numpy(), _i64),
        "pid": pa.array(reads["pid"].astype("Int64"), _i64),
        "process": pa.array(reads["process"], _str),
        "thread": pa.array(reads["thread"], _str),
        "category": pa.array(reads["category"], _str),
        "api": pa.array(reads["api"], _str),
        "value": pa.array(reads["value"], _str),
        "sdk": pa.array(reads["sdk"], _str),
        "frame": pa.array(frames, _str),
    }, schema=SCHEMAS["reads"])

    flows = read_flows(run_dir / FLOWS_FILE)
    tables["flows"] = pa.Table.from_pylist([{
        "job_id": job_id, "flow_id": flow.get("flow_id"), "ts_request_ns": flow.get("ts_request_ns"),
        "ts_response_ns": flow.get("ts_response_ns"), "method": flow.get("method"), "scheme": flow.get("scheme"),
        "host": flow.get("host"), "port": flow.get("port"), "path": flow.get("path"), "url": flow.get("url"),
        "http_version": flow.get("http_version"), "status": flow.get("status"), "error": flow.get("error"),
        "request_bytes": (flow.get("request") or {}).get("size"), "response_bytes": (flow.get("response") or {}).get("size"),
        "blocked_upstream": flow.get("blocked_upstream"),
    } for flow in flows], schema=SCHEMAS["flows"])

    tables["findings"] = pa.Table.from_pylist([{
        "job_id": job_id, "finding_id": item.id, "rule": item.rule, "severity": item.severity, "category": item.category,
        "api": item.api, "host": item.host, "sdk_id": item.sdk.id, "sdk_name": item.sdk.name, "sdk_owner": item.sdk.owner,
        "process": item.process, "background": item.background, "consent_state": item.consent_state, "count": item.count,
        "first_seen_ns": item.first_seen_ns, "last_seen_ns": item.last_seen_ns, "confidence": item.confidence,
    } for item in findings.findings], schema=SCHEMAS["findings"])

    tables["cases"] = pa.Table.from_pylist([{
        "job_id": job_id, "case_id": case.id, "rule": case.rule, "severity": case.severity,
        "subject_kind": case.subject.kind, "subject_id": case.subject.id, "subject_name": _en(case.subject.name),
        "subject_package": case.subject.package, "vendor": case.subject.vendor,
        "pi_categories": [pi.category for pi in case.pi], "destinations": list(case.destinations),
        "consent_states": [str(state) for state in case.consent_states], "count": case.count,
        "first_seen_ns": case.first_seen_ns, "last_seen_ns": case.last_seen_ns, "background": case.background,
        "confidence": case.confidence, "sentence_zh": (case.sentence or {}).get("zh"), "sentence_en": (case.sentence or {}).get("en"),
    } for case in findings.cases], schema=SCHEMAS["cases"])

    target = info.get("target") or {}
    target = target if isinstance(target, dict) else {}
    started, ended = info.get("started_ns"), info.get("ended_ns")
    consent = findings.consent or {}
    spec = job.get("spec") or {}
    tables["runs"] = pa.Table.from_pylist([{
        "job_id": job_id, "job_name": job.get("name"), "kind": job.get("kind"),
        "package": (info.get("app") or {}).get("package"), "scenario": ((info.get("scenario") or {}).get("name") or spec.get("scenario")),
        "serial": target.get("serial"), "model": target.get("model"), "android": target.get("android"), "abi": target.get("abi"),
        "worker": worker, "started_ns": started, "ended_ns": ended,
        "duration_s": (ended - started) / 1e9 if isinstance(started, int) and isinstance(ended, int) else None,
        "exit_reason": info.get("exit_reason"), "events": info.get("event_count", len(events)), "pi_reads": n,
        "flows": len(flows), "findings": len(findings.findings), "cases": len(findings.cases),
        "consent_state": consent.get("final_state"), "consent_ns": consent.get("consent_ns"),
        "tool_version": (info.get("tool") or {}).get("version"), "catalogue_version": (info.get("catalogue") or {}).get("version"),
        "run_url": run_url,
    }], schema=SCHEMAS["runs"])
    return tables
