"""The one event schema that crosses every boundary: agent → host, proxy → host, run dir → analyzer.

`hooks/src/events.ts` declares the same fields for the agent; `tests/agent/test_early_and_schema.py` checks the two
agree, so a field added on one side and forgotten on the other fails the build.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["hook", "net", "ui", "scenario", "device", "agent"]

# Kinds of event. PI reads are what rules judge; the others are the context they are judged in.
KIND_PI_READ = "pi_read"          # a hooked API returned personal information
KIND_CLICK = "click"              # a view was clicked; payload.text is what it said
KIND_LIFECYCLE = "lifecycle"      # activity resumed/paused, process start/end
KIND_DIALOG = "dialog"            # a dialog shown/dismissed
KIND_PREFS = "prefs"              # a consent-like flag written to SharedPreferences
KIND_PERMISSION = "permission"    # runtime permission requested, or its result
KIND_APP_START = "app_start"      # start of another package's component, alarms, jobs
KIND_WEBVIEW = "webview"          # a page loaded in a WebView (privacy policy)
KIND_TEXT = "text"                # text the app showed that reads like a privacy notice (dialog message, label)
KIND_CONNECT = "connect"          # a socket connect with the Java stack that made it
KIND_FLOW = "flow"                # an HTTP(S) exchange seen by the proxy
KIND_TLS_FAILED = "tls_failed"    # TLS the proxy could not open (refused handshake, closed after it) or a pin check that threw in the app
KIND_MARK = "mark"                # a scenario mark (e.g. consent given by the scenario)
KIND_HOOK_STATUS = "hook_status"  # a hook installed / failed to install
KIND_AGENT = "agent"              # agent life: ready, overflow counters, errors


class Event(BaseModel):
    """One thing that happened, on the host clock.

    `ts` is host epoch nanoseconds after clock calibration; `device_ts` keeps the raw time the
    device (or agent) stamped, so the calibration can be re-done years later.
    """

    model_config = ConfigDict(extra="forbid")

    source: Source
    kind: str
    ts: int
    device_ts: int | None = None
    seq: int = -1
    pid: int | None = None
    process: str | None = None
    thread: str | None = None
    category: str | None = None
    api: str | None = None
    args: list[str] | None = None
    value: str | None = None
    stack: list[str] | None = None
    sdk: str | None = None
    flow_id: str | None = None
    payload: dict[str, Any] | None = Field(default=None)


EVENT_FIELDS: tuple[str, ...] = tuple(Event.model_fields)
