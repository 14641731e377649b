"""For app developers in CI: the exit codes of a gated command, the `--fail-on` gate, the baseline of accepted cases.

Pure functions over cases (monitor/analysis/cases.py); the command line (monitor/cli/gate.py,
monitor/cli/baseline.py) and the pytest plugin (monitor/pytest_plugin.py) are the only callers.
"""

from monitor.devci.baseline import AcceptedCase, Baseline, baseline_yaml, case_key, load_baseline, subject_key
from monitor.devci.exitcodes import EXIT_CODES, ExitCode, exit_code_for
from monitor.devci.gate import FailOn, GateResult, Verdict, evaluate, parse_fail_on

__all__ = ["AcceptedCase", "Baseline", "baseline_yaml", "case_key", "load_baseline", "subject_key", "EXIT_CODES",
           "ExitCode", "exit_code_for", "FailOn", "GateResult", "Verdict", "evaluate", "parse_fail_on"]
