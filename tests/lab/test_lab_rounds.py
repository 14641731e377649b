"""Rounds (复测): a plan run again into the same results root after a fix, with real runs of tiny host programs
whose native PI reads make real cases. Earlier rounds stay intact, each round has and resumes its own state,
and each app's cases are compared between rounds as `consentmon diff` compares two runs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path


from labkit import PYTHON, consentmon
from monitor.lab.query import run_query

# The app: reads the loopback MAC from sysfs (native open: a device_id read, before any consent), once or twice
# (twice is over-frequency), and through ioctl(SIOCGIFHWADDR) (the same PI from other code: another case).
PROGRAM = """
import socket, sys
mode = sys.argv[1].split(",")
for _ in range(2 if "twice" in mode else 1):
    open("/sys/class/net/lo/address").read()
if "ioctl" in mode:
    import fcntl, struct
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fcntl.ioctl(udp.fileno(), 0x8927, struct.pack("256s", b"lo"))
"""


def _files(root: Path) -> dict[str, bytes]:
    """Every file of round 1 (the root without rounds/), with its bytes."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and path.relative_to(root).parts[0] != "rounds"}


def test_a_round_after_the_fix_is_kept_apart_and_compared_app_by_app(write_plan, tmp_path):
    program = tmp_path / "app.py"
    program.write_text(PROGRAM)
    results = tmp_path / "results"

    def plan(shop: str) -> Path:
        def app(name: str, mode: str) -> dict:
            return {"name": name, "host": [PYTHON, str(program), mode], "app_package": f"com.example.{name}"}
        return write_plan([app("shop", shop), app("news", "mac")])

    def batch(*args: str) -> subprocess.CompletedProcess[str]:
        # Native reads of code of no known SDK are cases named by their library, not its address (which ASLR
        # moves between runs): a case of one run is the same case in the next, as a Java frame's class always is.
        return consentmon("batch", *args, "--results", str(results), "--host-slots", "2")

    first = batch(str(plan("mac,twice")))
    assert first.returncode == 0, first.stdout + first.stderr
    round_one = _files(results)
    shop_before = run_query(str(results), "SELECT rule FROM cases WHERE app = 'com.example.shop' ORDER BY rule")
    assert shop_before.column("rule").to_pylist() == ["before-consent", "over-frequency"]

    # The developer's fix: the shop reads the MAC once, but now also through ioctl. A new build is a new job id.
    second = batch(str(plan("mac,ioctl")), "--round", "2")
    out = " ".join(second.stdout.split())
    assert second.returncode == 0, out + second.stderr
    assert "2 done, 0 failed" in out and f"results in {results}/rounds/2" in out
    assert "round 1 → round 2: 1 fixed, 2 still present, 1 new case(s) over 2 app(s)" in out

    assert _files(results) == round_one          # round 1 is as it was: runs, dataset, outcomes, state
    two = results / "rounds" / "2"
    assert (two / "batch.sqlite").is_file() and len(list((two / "runs").iterdir())) == 2
    comparison = json.loads((two / "comparison.json").read_text())
    assert (comparison["before"], comparison["after"]) == (1, 2)
    shop = comparison["apps"]["com.example.shop"]
    assert [case["rule"] for case in shop["fixed"]] == ["over-frequency"]
    assert [case["rule"] for case in shop["still"]] == ["before-consent"]
    assert [(case["rule"], "fcntl" in case["subject"]["en"]) for case in shop["new"]] == [("before-consent", True)]
    assert shop["before_jobs"] != shop["after_jobs"]
    news = comparison["apps"]["com.example.news"]
    assert (news["fixed"], len(news["still"]), news["new"]) == ([], 1, [])
    assert news["before_jobs"] == news["after_jobs"]   # the same job, run again in its own round
    # Each round is queried on its own.
    shown = consentmon("query", "SELECT rule, subject_name FROM cases WHERE app = 'com.example.shop' ORDER BY subject_name",
                       "--results", str(results), "--round", "2")
    assert shown.returncode == 0 and "fcntl" in shown.stdout and "over-frequency" not in shown.stdout
    assert run_query(str(results), "SELECT rule FROM cases WHERE app = 'com.example.shop' ORDER BY rule") == shop_before

    # Round 2 resumes on its own: a job its batch was running when killed (outcome not yet written) runs again,
    # the other is not run again, and round 1 is never touched.
    shop_id = shop["after_jobs"][0]
    with sqlite3.connect(two / "batch.sqlite") as db:
        db.execute("UPDATE jobs SET status = 'running', attempts = 1 WHERE id = ?", (shop_id,))
    (two / "jobs" / f"{shop_id}.json").unlink()
    news_outcome = (two / "jobs" / f"{news['after_jobs'][0]}.json").read_bytes()
    again = batch(str(plan("mac,ioctl")), "--round", "2")
    out = " ".join(again.stdout.split())
    assert again.returncode == 0, out + again.stderr
    assert "resumed: 1 interrupted job(s) back in the queue" in out and "✓ shop" in out and "✓ news" not in out
    assert "round 1 → round 2: 1 fixed, 2 still present, 1 new" in out
    assert (two / "jobs" / f"{news['after_jobs'][0]}.json").read_bytes() == news_outcome
    assert _files(results) == round_one
    with sqlite3.connect(two / "batch.sqlite") as db:
        assert dict(db.execute("SELECT name, attempts FROM jobs").fetchall()) == {"shop": 1, "news": 1}
