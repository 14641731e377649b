"""What every producer of evidence writes into: the agent, the capture proxy and the scenario runner.

`RunWriter` implements both protocols; tests and `catalogue --check` pass their own in-memory sinks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import msgspec

from monitor.events import Event


class EventSink(Protocol):
    def append(self, event: Event | dict[str, Any]) -> int:
        """Record one event; returns its seq. Raises CaptureError when it cannot be recorded."""
        ...

    def append_many(self, events: Iterable[Any]) -> int:
        """Record events in order, all written before it returns; returns how many."""
        ...


class FlowSink(EventSink, Protocol):
    def append_flow(self, flow_record: dict[str, Any]) -> None:
        """Record one decoded HTTP exchange (a flows.jsonl line)."""
        ...


def event_dict(event: Any) -> dict[str, Any]:
    """An event as a plain dict, whether it came as a dict or as a decoded agent record (msgspec struct)."""
    return msgspec.structs.asdict(event) if isinstance(event, msgspec.Struct) else dict(event)
