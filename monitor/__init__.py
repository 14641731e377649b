"""consentmon: a runtime monitor that proves when an Android app reads or sends personal information."""

__version__ = "0.1.0"
