"""Scenarios: a YAML list of steps (model), run against any Target (runner)."""

from monitor.scenario.model import Scenario, builtin_names, load_scenario
from monitor.scenario.runner import ScenarioResult, run_scenario
from monitor.scenario.device import DeviceTarget
from monitor.scenario.target import Target

__all__ = ["DeviceTarget", "Scenario", "ScenarioResult", "Target", "builtin_names", "load_scenario",
           "run_scenario"]
