"""The checks the rule engine runs, one module per family; importing this package registers them all."""

from monitor.analysis.checks import behaviour, consent, scope

__all__ = ["behaviour", "consent", "scope"]
