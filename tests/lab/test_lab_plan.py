"""Plans: job ids, device needs, and bad input judged job by job."""

from __future__ import annotations


import pytest

from labkit import consentmon, free_port, host_argv
from monitor.errors import DataFileError
from monitor.lab.plan import Job, load_plan, version_matches
from monitor.lab.slots import Slot, can_take


@pytest.mark.parametrize(("spec", "release", "expected"), [
    (">=10,<15", "14", True), (">=10,<15", "15", False), (">=10", "7.1.1", False), ("13", "13", True),
    ("13", "13.1", True), ("13", "14", False), ("<8", "7.1.1", True), (">7.1", "7.1.1", True), ("==7.1.1", "7.1.1", True),
])
def test_android_version_ranges(spec, release, expected):
    assert version_matches(spec, release) is expected


def test_jobs_have_stable_ids_per_repeat_and_invalid_jobs_say_why(write_plan, tmp_path):
    apk = tmp_path / "real.apk"
    apk.write_bytes(b"PK")
    plan_path = write_plan([
        {"name": "twice", "host": host_argv(), "repeat": 2},
        {"name": "gone", "apk": "missing.apk"},
        {"name": "here", "apk": "real.apk", "scenario": "agree", "device": {"android": ">=10", "root": True}},
        {"name": "typo", "package": "com.example.app", "scenario": "agre"},
    ])
    jobs = load_plan(plan_path).jobs
    assert [job.name for job in jobs] == ["twice #1", "twice #2", "gone", "here", "typo"]
    assert jobs[0].id != jobs[1].id and jobs[0].id.endswith("-1") and jobs[1].id.endswith("-2")
    assert [job.id for job in load_plan(plan_path).jobs] == [job.id for job in jobs]   # the same plan names the same jobs
    problems = {job.name: job.problem for job in jobs}
    assert problems["twice #1"] is None and problems["here"] is None
    assert problems["gone"] == f"APK {tmp_path / 'missing.apk'} does not exist"
    assert "scenario 'agre'" in problems["typo"] and "no scenario named" in problems["typo"]
    assert jobs[3].spec["apk"] == str(apk.resolve())
    assert Job.from_dict(jobs[3].as_dict()) == jobs[3]


def test_a_plan_that_breaks_the_schema_is_refused_with_file_and_line(write_plan):
    path = write_plan([{"name": "a", "host": ["x"], "package": "com.x"}])
    with pytest.raises(DataFileError, match="exactly one of apk, package, host"):
        load_plan(path)
    path.write_text("jobs:\n  - name: a\n    host: [x]\n  - name: a\n    host: [y]\n")
    with pytest.raises(DataFileError, match="two jobs are named 'a'"):
        load_plan(path)


def test_routing_by_what_a_device_offers():
    pixel = Slot(name="p", kind="device", android="14", abis=("arm64-v8a", "armeabi-v7a"), root=False)
    emulator = Slot(name="e", kind="device", android="10", abis=("x86_64",), root=True)
    host = Slot(name="host-1", kind="host")
    def job(**needs):
        return Job(id="j", name="j", kind="device", spec={"package": "com.x", "device": needs})
    assert can_take(pixel, job()) and can_take(emulator, job()) and not can_take(host, job())
    assert can_take(pixel, job(android=">=13")) and not can_take(emulator, job(android=">=13"))
    assert can_take(emulator, job(abi="x86_64", root=True)) and not can_take(pixel, job(root=True))
    assert can_take(pixel, job(serial="p")) and not can_take(emulator, job(serial="p"))
    assert can_take(host, Job(id="h", name="h", kind="host", spec={"host": ["x"]}))


def test_bad_input_on_the_command_line_exit_codes(write_plan, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("jobs: [{name: a}]\n")
    result = consentmon("batch", str(broken), "--results", str(tmp_path / "r0"))
    assert result.returncode == 2 and "exactly one of apk, package, host" in result.stderr

    plan = write_plan([{"name": "one", "host": host_argv()}, {"name": "two", "host": host_argv()},
                       {"name": "no-apk", "apk": "nothing.apk"}])
    closed = free_port()
    result = consentmon("batch", str(plan), "--results", str(tmp_path / "r1"), "--broker", f"redis://127.0.0.1:{closed}/0")
    assert result.returncode == 3, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert out.count("not submitted: broker redis://127.0.0.1:") == 2 and "is unreachable" in out
    assert "no-apk: APK" in out and "does not exist" in out
    worker = consentmon("worker", "--broker", f"redis://127.0.0.1:{closed}/0", "--results", str(tmp_path / "r1"),
                        "--host-slots", "1", "--no-devices")
    assert worker.returncode == 3 and f"broker redis://127.0.0.1:{closed}/0 is unreachable" in " ".join(worker.stderr.split())

    # A results root without space: every job says so on its own line and is not run; the exit code says it.
    result = consentmon("batch", str(plan), "--results", str(tmp_path / "r2"), "--host-slots", "2", "--min-free-mb", "1e12")
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert out.count("has no space:") >= 2 and "✗ one on host-" in out and "✗ two on host-" in out
    assert "0 done, 3 failed" in out
    assert not list((tmp_path / "r2").glob("runs/*"))


def test_memory_roots_are_refused_for_batches(write_plan):
    result = consentmon("batch", str(write_plan([{"name": "one", "host": host_argv()}])), "--results", "memory://lab")
    assert result.returncode != 0 and "lives in one process only" in result.stderr
