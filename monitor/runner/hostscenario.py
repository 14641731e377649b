"""Scenarios against a program this machine runs (`run --host --scenario`, `demo --scenario`)."""

from __future__ import annotations

from collections.abc import Callable

from monitor.errors import TargetError
from monitor.runner.host import HostRunHandle
from monitor.scenario.host import HostTarget
from monitor.scenario.model import load_scenario
from monitor.scenario.runner import run_scenario
from monitor.store.files import ScreenFolder
from monitor.store.writer import RunWriter


def scenario_driver(name_or_path: str) -> Callable[[RunWriter, HostRunHandle], None]:
    """A driver for `run_host`: runs the scenario against the program, then ends the program."""
    scenario = load_scenario(name_or_path)

    def drive(writer: RunWriter, handle: HostRunHandle) -> None:
        stop = handle.stop_requested
        target = HostTarget(handle.control_port, should_stop=stop.is_set)
        if handle.witness is not None:
            handle.witness.attach(target, ScreenFolder(writer.screens_dir))
        writer.write_run_info(scenario={"name": scenario.name, "description": scenario.description,
                                        "target": target.name})
        result = run_scenario(scenario, target, writer, writer.screens_dir, should_stop=stop.is_set,
                              sleep=lambda seconds: stop.wait(seconds))
        writer.write_run_info(scenario={"name": scenario.name, "description": scenario.description, "target": target.name,
                                        "ok": result.ok, "consent": result.consent,
                                        "failures": [{"step": o.index, "name": o.name, "error": o.error} for o in result.failures]})
        try:
            target.force_stop()
        except TargetError:
            pass  # the program already ended on its own

    return drive
