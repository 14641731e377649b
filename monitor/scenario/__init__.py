"""Scenarios: a YAML list of steps (model), run against any ScenarioTarget (runner)."""

from monitor.scenario.model import Scenario, builtin_names, load_scenario
from monitor.scenario.runner import EventSink, ScenarioResult, run_scenario
from monitor.scenario.target import DeviceTarget, ScenarioTarget

__all__ = ["DeviceTarget", "EventSink", "Scenario", "ScenarioResult", "ScenarioTarget", "builtin_names", "load_scenario",
           "run_scenario"]
