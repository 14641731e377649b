"""Scenario files and the runner, driven against the simulated device through the real adb."""

from __future__ import annotations


import pytest

from monitor.device.adb import AndroidDevice
from monitor.device.app import AppControl
from monitor.errors import DataFileError
from monitor.events import Event
from monitor.scenario.model import builtin_names, load_scenario
from monitor.scenario.runner import run_scenario
from monitor.scenario.device import DeviceTarget
from monitor.scenario.target import Target
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter
from support.adbsim import DEMO_PACKAGE

BUILTIN = ["agree", "background", "first-launch-idle", "refuse", "relaunch-after-deny"]


class Recorder:
    """An EventSink that validates like the run writer does and keeps events in order."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def append(self, event: dict) -> int:
        Event.model_validate(event)
        self.events.append(event)
        return len(self.events) - 1


def no_sleep(_seconds: float) -> None:
    return None


def target_for(sim) -> DeviceTarget:
    return DeviceTarget(AppControl(AndroidDevice(sim.serial), DEMO_PACKAGE))


def test_every_builtin_scenario_loads_by_name():
    assert sorted(builtin_names()) == BUILTIN
    for name in BUILTIN:
        assert load_scenario(name).name == name


def test_a_bad_scenario_names_file_line_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsteps:\n  - launch\n  - wait: soon\n  - consent: maybe\n  - dance: 3\n", encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_scenario(path)
    message = caught.value.message
    assert f"{path}:4: steps.1.wait.wait" in message
    assert f"{path}:5: steps.2.consent.consent" in message
    assert f"{path}:6: steps.3" in message and "one of: launch" in message


def test_unknown_scenario_name_lists_the_builtins():
    with pytest.raises(DataFileError) as caught:
        load_scenario("agre")
    assert "agree" in caught.value.hint


def test_tap_needs_exactly_one_way_to_say_where(tmp_path):
    path = tmp_path / "tap.yaml"
    path.write_text("name: t\nsteps:\n  - tap: {text: OK, x: 3, y: 4}\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="exactly one of text"):
        load_scenario(path)


def test_device_target_implements_the_protocol(make_sim):
    assert isinstance(target_for(make_sim(14)), Target)


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_scenarios_run_on_a_device_and_leave_only_the_app_changed(make_sim, tmp_path, name):
    sim = make_sim(14)
    environment_before = sim.state.snapshot(include_apps=False)
    sink = Recorder()
    result = run_scenario(load_scenario(name), target_for(sim), sink, tmp_path / "screens", sleep=no_sleep)
    assert result.ok, result.failures
    assert [e["api"] for e in sink.events] == [s.name for s in load_scenario(name).steps]
    consent = [e for e in sink.events if e["category"] == "consent"]
    decision = {"agree": "agree", "background": "agree", "relaunch-after-deny": "agree", "refuse": "refuse"}.get(name)
    if decision is None:
        assert consent == [] and sim.state.packages[DEMO_PACKAGE].data == {}
    else:
        payload = consent[0]["payload"]
        assert payload["decision"] == decision and result.consent == decision
        assert payload["button_text"] == ("同意" if decision == "agree" else "不同意")
        assert sim.state.packages[DEMO_PACKAGE].data == {"consent": decision}
        for key in ("screenshot_before", "screenshot_after", "ui_dump"):
            assert (tmp_path / payload[key]).is_file()
        assert consent[0]["ts"] == result.consent_ts
    if name == "background":
        assert sim.state.foreground is None and sim.state.pids_named(DEMO_PACKAGE)
    if name == "relaunch-after-deny":
        assert "android.permission.ACCESS_FINE_LOCATION" not in sim.state.packages[DEMO_PACKAGE].granted
        assert sim.state.foreground == DEMO_PACKAGE
    assert sim.state.snapshot(include_apps=False) == environment_before


def test_a_missing_button_is_recorded_and_stops_by_default(make_sim, tmp_path):
    sim = make_sim(14)
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nconsent_timeout: 1\nsteps:\n  - launch\n  - tap: {text: 立即登录}\n  - consent: accept\n", encoding="utf-8")
    sink = Recorder()
    result = run_scenario(load_scenario(path), target_for(sim), sink, tmp_path / "screens", sleep=no_sleep)
    assert result.stopped_on_error and not result.ok
    failed = sink.events[-1]["payload"]
    assert failed["ok"] is False and "立即登录" in failed["error"]
    assert (tmp_path / failed["ui_dump"]).read_text().count("<node") > 3
    assert len(sink.events) == 2 and sim.state.packages[DEMO_PACKAGE].data == {}


def test_on_error_continue_goes_on_after_a_failed_step(make_sim, tmp_path):
    sim = make_sim(14)
    path = tmp_path / "s.yaml"
    path.write_text("name: s\non_error: continue\nsteps:\n  - launch\n  - grant: NOT_REQUESTED\n  - consent: refuse\n", encoding="utf-8")
    sink = Recorder()
    result = run_scenario(load_scenario(path), target_for(sim), sink, tmp_path / "screens", sleep=no_sleep)
    assert [o.ok for o in result.outcomes] == [True, False, True]
    assert "has not requested permission" in result.outcomes[1].error
    assert result.consent == "refuse"


def test_consent_with_no_matching_button_fails_after_the_timeout(make_sim, tmp_path):
    sim = make_sim(14)
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nconsent_timeout: 2\nsteps:\n  - home\n  - consent: accept\n", encoding="utf-8")
    result = run_scenario(load_scenario(path), target_for(sim), Recorder(), tmp_path / "screens", sleep=no_sleep)
    assert not result.ok
    assert "after 2.0s" in result.failures[0].error and "consent_words.yaml" in result.failures[0].error


def test_should_stop_ends_a_long_wait_early(make_sim, tmp_path):
    sim = make_sim(14)
    slept: list[float] = []
    result = run_scenario(load_scenario("first-launch-idle"), target_for(sim), Recorder(), tmp_path / "screens",
                          sleep=slept.append, should_stop=lambda: sum(slept) >= 2)
    assert result.interrupted
    assert sum(slept) < 10


def test_events_go_into_a_real_run_directory(make_sim, tmp_path):
    sim = make_sim(14)
    run_dir = tmp_path / "run"
    with RunWriter(run_dir, run_info={"target": "device"}) as writer:
        run_scenario(load_scenario("agree"), target_for(sim), writer, run_dir / "screens", sleep=no_sleep)
    run = read_run(run_dir)
    consent = run.events[run.events["category"] == "consent"]
    assert len(consent) == 1
    row = consent.iloc[0]
    assert (row["source"], row["kind"], row["api"]) == ("scenario", "mark", "consent")
    assert (run_dir / row["payload"]["screenshot_before"]).is_file()
    assert run.sealed
