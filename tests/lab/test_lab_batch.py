"""A local batch over two simulated adb devices plus host slots: routing, retries, retirement, results."""

from __future__ import annotations

import json

from labkit import host_argv
from monitor.lab.batch import run_local
from monitor.lab.execute import LabSettings
from monitor.lab.query import run_query
from monitor.lab.slots import device_slots

SIM_APP = "com.example.consentdemo"


def _events(log):
    return lambda kind, data: log.append((kind, data))


def test_batch_over_two_devices_and_host_slots(make_sim, frida_server_file, write_plan, tmp_path):
    android14 = make_sim(14)
    android13 = make_sim(13, abi="arm64-v8a")
    plan = write_plan([
        {"name": "host-app", "host": host_argv(0.2), "repeat": 2},
        {"name": "on-14", "package": SIM_APP, "scenario": "agree", "device": {"android": ">=14"}},
        {"name": "on-arm", "package": SIM_APP, "device": {"abi": "armeabi-v7a"}},   # the x86_64 image translates arm64 only
        {"name": "needs-15", "package": SIM_APP, "device": {"android": "15"}},
    ])
    log: list = []
    results = tmp_path / "results"
    outcome = run_local(plan, str(results), host_slot_count=1, settings=LabSettings(frida_server=frida_server_file),
                        listener=_events(log))
    rows = {row["name"]: row for row in outcome.rows}
    assert outcome.counts == {"pending": 0, "running": 0, "done": 2, "failed": 3}

    # Host jobs: recorded, analysed, committed with their rows.
    for name in ("host-app #1", "host-app #2"):
        assert rows[name]["status"] == "done" and rows[name]["attempts"] == 1 and rows[name]["slot"] == "host-1"
        run_dir = results / "runs" / rows[name]["id"]
        assert (run_dir / "manifest.json").is_file() and (run_dir / "findings.json").is_file()
        assert json.loads((results / "jobs" / f"{rows[name]['id']}.json").read_text())["status"] == "done"

    # Device jobs were routed by what each device offers. The simulator has no app process for Frida, so they
    # fail at Frida: each is tried twice, then reported with what failed, never retried forever.
    started = {(data["name"], data["slot"]) for kind, data in log if kind == "started"}
    assert {slot for name, slot in started if name == "on-14"} == {android14.serial}
    assert {slot for name, slot in started if name == "on-arm"} == {android13.serial}
    for name in ("on-14", "on-arm"):
        assert rows[name]["status"] == "failed" and rows[name]["attempts"] == 2
        assert "frida" in rows[name]["error"].lower()
    assert [data["name"] for kind, data in log if kind == "retry"].count("on-14") == 1
    # Nothing connected can take an Android 15 job: one clear line, not a hang.
    assert rows["needs-15"]["status"] == "failed" and rows["needs-15"]["attempts"] == 0
    assert rows["needs-15"]["error"] == "no connected slot can take it: it needs a device with android 15"

    table = run_query(str(results), "SELECT job_name, kind, exit_reason, app FROM runs ORDER BY job_name")
    assert table.column("job_name").to_pylist() == ["host-app #1", "host-app #2"]
    assert set(table.column("kind").to_pylist()) == {"host"}


def test_a_device_that_vanishes_is_retired_and_its_job_goes_to_another(make_sim, frida_server_file, write_plan, tmp_path):
    first = make_sim(14)
    second = make_sim(14)
    slots, problems = device_slots([first.serial, second.serial])
    assert not problems and len(slots) == 2
    first.stop()      # probed while it was there, gone when its job starts
    plan = write_plan([{"name": "app", "package": SIM_APP, "device": {"serial": None}}])
    log: list = []
    outcome = run_local(plan, str(tmp_path / "results"), slots=slots, settings=LabSettings(frida_server=frida_server_file),
                        listener=_events(log))
    row = outcome.rows[0]
    retired = [data for kind, data in log if kind == "retired"]
    tried = json.loads(row["slots_tried"])
    if any(data["slot"] == first.serial for kind, data in log if kind == "started"):
        # It ran on the vanished device (first, or after a failure on the other one): that device is retired, the
        # job is tried on both, and what the vanished one said is kept (a retry's reason, or the final error).
        assert [data["slot"] for data in retired] == [first.serial]
        said = [data["error"] for kind, data in log if kind == "retry"] + [row["error"] or ""]
        assert any(f"device {first.serial} is gone" in text for text in said), said
        assert tried == sorted([first.serial, second.serial])
    else:
        assert tried == [second.serial]
    assert row["status"] == "failed" and row["attempts"] == 2 or row["status"] == "done"
