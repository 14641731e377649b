"""An in-memory EventSink for tests that run the real agent: every event checked against the one schema."""

from __future__ import annotations

import threading
from typing import Any

from monitor.events import Event
from monitor.store.sink import event_dict


class ListSink:
    """The EventSink of AgentHost, validating every event against the one schema as it arrives."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, event: dict[str, Any]) -> int:
        Event.model_validate(event)
        with self._lock:
            self.events.append(event)
            return len(self.events)

    def append_many(self, events: Any) -> int:
        count = 0
        for event in events:
            self.append(event_dict(event))
            count += 1
        return count

    def hooks(self) -> list[dict[str, Any]]:
        return [event for event in self.events if event["source"] == "hook"]
