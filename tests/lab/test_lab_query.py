"""The Parquet dataset and `consentmon query`: runs made with monitor.testing's factories, analysed, exported
and committed to a directory and to an in-memory fsspec root, then asked questions across every run."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from labkit import consentmon
from monitor.analysis import analyze_run
from monitor.lab.export import TABLES, partition_values, run_tables
from monitor.lab.query import QueryError, run_query
from monitor.lab.results import ResultsRoot
from monitor.testing.factories import UMENG_FRAME, at, click, dialog, pi_read, run_info, write_run

INSTALLED = "android.app.ApplicationPackageManager.getInstalledPackages"
APPS = {"com.shop.app": True, "com.news.app": True, "com.bank.app": False}   # app → its Umeng SDK lists installed apps early


def _commit_runs(root: ResultsRoot, tmp_path: Path) -> list[str]:
    jobs = []
    for number, (app, umeng_early) in enumerate(APPS.items()):
        for repeat in (1, 2):
            run_dir = tmp_path / f"run-{number}-{repeat}"
            events = [pi_read(ts=at(1), value="867530900000001")]
            if umeng_early:
                events.append(pi_read(ts=at(1.5), category="installed_apps", api=INSTALLED, value="com.a,com.b", stack=[UMENG_FRAME]))
            events += [dialog(ts=at(3)), click(ts=at(4), text="同意"),
                       pi_read(ts=at(5), category="location", api="android.location.LocationManager.getLastKnownLocation", value="31.2,121.4")]
            write_run(run_dir, events, info=run_info(package=app))
            findings = analyze_run(run_dir)
            job = {"id": f"{app}-{repeat}", "name": f"{app} #{repeat}", "kind": "device", "spec": {"package": app}}
            app_part, date = partition_values(findings.run, job["name"])
            tables = run_tables(run_dir, findings, job=job, run_url=root.url_of("runs", job["id"]))
            root.commit(job["id"], run_dir, tables, app=app_part, date=date, outcome={"status": "done"})
            jobs.append(job["id"])
    return jobs


@pytest.mark.parametrize("where", ["directory", "memory"])
def test_questions_across_every_run(where, tmp_path):
    url = str(tmp_path / "results") if where == "directory" else f"memory://lab-{tmp_path.name}"
    root = ResultsRoot(url).ensure()
    jobs = _commit_runs(root, tmp_path)

    early = run_query(url, """
        SELECT sdk_id, COUNT(DISTINCT app) AS apps, SUM(count) AS reads FROM findings
        WHERE rule = 'before-consent' AND category = 'installed_apps' GROUP BY sdk_id""")
    assert early.to_pylist() == [{"sdk_id": "umeng-analytics", "apps": 2, "reads": 4}]

    per_app = run_query(url, "SELECT app, date, COUNT(*) AS reads, COUNT(DISTINCT job_id) AS runs FROM reads GROUP BY ALL ORDER BY app")
    assert per_app.column("app").to_pylist() == sorted(APPS)
    assert per_app.column("reads").to_pylist() == [4, 6, 6] and set(per_app.column("runs").to_pylist()) == {2}
    assert set(per_app.column("date").to_pylist()) == {"2026-01-01"}   # the factories' fixed clock

    runs = run_query(url, "SELECT job_id, consent_state, pi_reads, cases FROM runs ORDER BY job_id")
    assert runs.column("job_id").to_pylist() == sorted(jobs) and set(runs.column("consent_state").to_pylist()) == {"accepted"}
    cases = run_query(url, "SELECT DISTINCT app, subject_id, pi_categories FROM cases "
                           "WHERE rule = 'before-consent' AND subject_kind = 'sdk' ORDER BY app")
    assert cases.to_pylist() == [{"app": "com.news.app", "subject_id": "umeng", "pi_categories": ["installed_apps"]},
                                 {"app": "com.shop.app", "subject_id": "umeng", "pi_categories": ["installed_apps"]}]
    assert run_query(url, "SELECT COUNT(*) AS n FROM flows").column("n").to_pylist() == [0]

    # Committing a job again replaces its rows; a commit cut short is undone by the next one.
    run_dir = tmp_path / "run-0-1"
    findings = analyze_run(run_dir)
    job = {"id": jobs[0], "name": "again", "kind": "device", "spec": {}}
    app, date = partition_values(findings.run, "again")
    root.commit(jobs[0], run_dir, run_tables(run_dir, findings, job=job, run_url="x"), app=app, date=date, outcome={"status": "done"})
    root._write_atomic(root.path("pending", f"{jobs[1]}.json"), f'["{root.dataset_path("reads", app, date, jobs[1])}"]'.encode())
    root.commit(jobs[1], tmp_path / "run-0-2", run_tables(tmp_path / "run-0-2", analyze_run(tmp_path / "run-0-2"), job={**job, "id": jobs[1]}, run_url="x"),
                app=app, date=date, outcome={"status": "done"})
    counts = run_query(url, "SELECT job_id, COUNT(*) AS n FROM runs GROUP BY job_id")
    assert counts.num_rows == 6 and set(counts.column("n").to_pylist()) == {1}
    assert run_query(url, "SELECT job_name FROM runs WHERE job_id = ?".replace("?", f"'{jobs[0]}'")).to_pylist() == [{"job_name": "again"}]


def test_an_empty_root_has_every_view_and_bad_sql_is_one_clear_error(tmp_path):
    url = str(tmp_path / "empty")
    for table in TABLES:
        result = run_query(url, f"SELECT * FROM {table}")
        assert result.num_rows == 0 and {"app", "date", "job_id"} <= set(result.column_names)
    with pytest.raises(QueryError, match="query failed"):
        run_query(url, "SELECT nothing FROM nowhere")


def test_query_command_prints_and_writes_csv_and_parquet(tmp_path):
    url = str(tmp_path / "results")
    _commit_runs(ResultsRoot(url).ensure(), tmp_path)
    sql = "SELECT app, category, COUNT(*) AS n FROM reads GROUP BY ALL ORDER BY app, category"
    shown = consentmon("query", sql, "--results", url)
    assert shown.returncode == 0 and "com.bank.app" in shown.stdout and "installed_apps" in shown.stdout
    out_csv, out_parquet = tmp_path / "out.csv", tmp_path / "out.parquet"
    written = consentmon("query", sql, "--results", url, "--csv", str(out_csv), "--parquet", str(out_parquet))
    assert written.returncode == 0 and "rows written" in written.stdout
    rows = list(csv.DictReader(out_csv.open()))
    assert rows[0] == {"app": "com.bank.app", "category": "device_id", "n": "2"}
    assert pq.read_table(out_parquet).num_rows == len(rows) == 8
    bad = consentmon("query", "SELECT * FROM nowhere", "--results", url)
    assert bad.returncode != 0 and "query failed" in bad.stderr and "views: runs, cases, findings, reads, flows" in bad.stderr
