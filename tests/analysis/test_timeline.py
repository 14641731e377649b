"""Foreground/background per process, from real run directories."""

from __future__ import annotations

import pytest

from monitor.analysis.timeline import background_intervals, build_timeline, mark_background
from monitor.store.reader import read_run
from monitor.testing.factories import APP, at, lifecycle, mark, pi_read, write_run

GRACE = 2_000_000_000
HOME = ["home"]


def _timeline(tmp_path, events):
    run = read_run(write_run(tmp_path / "run", events))
    timeline = build_timeline(run.events)
    intervals = background_intervals(timeline, grace_ns=GRACE, home_steps=HOME)
    return mark_background(timeline, intervals), intervals


def _background_at(timeline, seconds, process=APP):
    row = timeline[(timeline["ts"] == at(seconds)) & (timeline["kind"] == "pi_read") & (timeline["process_key"] == process)]
    assert len(row) == 1
    return bool(row["background"].iloc[0])


@pytest.mark.parametrize(("events", "probe", "expected"), [
    # paused and never resumed: background from the pause on
    ([lifecycle(ts=at(0), state="foreground"), lifecycle(ts=at(5), state="background"), pi_read(ts=at(9))], 9, True),
    # a read during the pause that turns into background already counts
    ([lifecycle(ts=at(0), state="foreground"), lifecycle(ts=at(5), state="background"), pi_read(ts=at(5.5))], 5.5, True),
    # pause then resume within the grace window: the app switched screens
    ([lifecycle(ts=at(0), state="foreground"), lifecycle(ts=at(5), state="background"),
      lifecycle(ts=at(5.3), state="foreground", activity="com.example.demo.Second"), pi_read(ts=at(5.1))], 5.1, False),
    # resume exactly at the grace limit still counts as a switch
    ([lifecycle(ts=at(5), state="background"), lifecycle(ts=at(7), state="foreground"), pi_read(ts=at(6))], 6, False),
    # resume just after the grace window: it was background in between, and foreground after
    ([lifecycle(ts=at(5), state="background"), lifecycle(ts=at(7.001), state="foreground"), pi_read(ts=at(6))], 6, True),
    ([lifecycle(ts=at(5), state="background"), lifecycle(ts=at(7.001), state="foreground"), pi_read(ts=at(8))], 8, False),
    # no lifecycle at all: launching app is in the foreground
    ([pi_read(ts=at(1))], 1, False),
    # the scenario pressed home: background until an activity resumes
    ([lifecycle(ts=at(0), state="foreground"), mark(ts=at(3), step="home"), pi_read(ts=at(4))], 4, True),
    ([lifecycle(ts=at(0), state="foreground"), mark(ts=at(3), step="home"), lifecycle(ts=at(10), state="foreground"),
      pi_read(ts=at(11))], 11, False),
    # a step of another name is not a home press
    ([lifecycle(ts=at(0), state="foreground"), mark(ts=at(3), step="tap_agree"), pi_read(ts=at(4))], 4, False),
    # home pressed while no hook saw any activity: still background
    ([mark(ts=at(3), step="home"), pi_read(ts=at(4))], 4, True),
])
def test_background_state_of_a_read(tmp_path, events, probe, expected):
    timeline, _ = _timeline(tmp_path, events)
    assert _background_at(timeline, probe) is expected


def test_processes_are_judged_separately_and_service_processes_follow_the_app(tmp_path):
    events = [
        lifecycle(ts=at(0), state="foreground"),
        lifecycle(ts=at(0), state="foreground", process=f"{APP}:web", pid=5000),
        lifecycle(ts=at(5), state="background"),          # main process leaves; :web still shows a page
        pi_read(ts=at(6)),
        pi_read(ts=at(6), process=f"{APP}:push", pid=6000),
        lifecycle(ts=at(8), state="background", process=f"{APP}:web", pid=5000),
        pi_read(ts=at(12), process=f"{APP}:push", pid=6000),
    ]
    timeline, intervals = _timeline(tmp_path, events)
    assert _background_at(timeline, 6) is True
    # while one of the app's UI processes was in front, the push process was not in the background…
    assert _background_at(timeline, 6, process=f"{APP}:push") is False
    # …and after all of them left, it was
    assert _background_at(timeline, 12, process=f"{APP}:push") is True
    assert set(intervals["process"]) == {APP, f"{APP}:web"}


def test_timeline_is_in_time_order_whatever_the_write_order(tmp_path):
    events = [pi_read(ts=at(3)), pi_read(ts=at(1)), pi_read(ts=at(2))]
    timeline, _ = _timeline(tmp_path, events)
    assert timeline["ts"].tolist() == [at(1), at(2), at(3)]


def test_steps_do_not_modify_their_input(tmp_path):
    run = read_run(write_run(tmp_path / "run", [lifecycle(ts=at(5), state="background"), pi_read(ts=at(9))]))
    before = run.events.copy()
    timeline = build_timeline(run.events)
    snapshot = timeline.copy()
    mark_background(timeline, background_intervals(timeline, grace_ns=GRACE, home_steps=HOME))
    assert run.events.equals(before)
    assert timeline.equals(snapshot)
