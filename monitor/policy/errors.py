"""What can go wrong reading a privacy policy: each a MonitorError with a hint, shown as one line."""

from __future__ import annotations

from monitor.errors import MonitorError


class PolicyError(MonitorError):
    """A privacy policy could not be read or understood."""

    exit_code = 4   # a file given is malformed (the document), as for every data file


class PolicyFormatError(PolicyError):
    """The document is not text (an image, a PDF, an archive) or is empty."""


class PolicyCharsetError(PolicyError):
    """The document's bytes are in no charset we can tell."""


class PolicyFetchError(PolicyError):
    """A policy URL could not be fetched."""


class PolicySourceError(PolicyError):
    """The SOURCE given is neither a policy file, a URL nor a run directory holding policy documents."""
