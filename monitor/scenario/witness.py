"""Screenshots as evidence of what the user saw when something was collected.

A case's evidence is strongest with the screen at its first event: was a privacy dialog up, was the app in
front? Cases are known only after the run, so the witness shoots at the moments that will start them: the
first read of each PI category by each reader (API), as the events arrive. It sits between the agent and the
run's sink, passes every event on unchanged and at once, and takes the pictures on its own thread, so the app
and the recording never wait for a screencap. The count is bounded (a run of an app that reads 40 categories
still takes at most `max_shots`), and shots are spaced (`min_interval_s`): one picture covers the reads that
came together. Each shot is a `scenario`/`mark` event (step "evidence") naming the read it was taken for.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from typing import Any

from monitor.errors import MonitorError
from monitor.events import KIND_MARK, KIND_PI_READ
from monitor.scenario.target import Target
from monitor.store.files import ScreenFolder
from monitor.store.sink import EventSink, event_dict


class ScreenWitness:
    """An EventSink that forwards to `sink` and screenshots the first read of each (category, api)."""

    def __init__(self, sink: EventSink, *, max_shots: int = 12, min_interval_s: float = 2.0) -> None:
        self.sink = sink
        self.max_shots = max_shots
        self.min_interval_s = min_interval_s
        self.shots: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._pending: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._target: Target | None = None
        self._screens: ScreenFolder | None = None
        self._thread: threading.Thread | None = None
        self._last_shot = 0.0
        self._closing = False

    def attach(self, target: Target, screens: ScreenFolder) -> None:
        """Start taking pictures of `target` (the scenario's, once it exists) into `screens`."""
        self._target, self._screens = target, screens
        self._thread = threading.Thread(target=self._shoot, name="consentmon-witness", daemon=True)
        self._thread.start()

    def flush(self) -> None:
        """Wait until every shot asked for so far is taken (or given up)."""
        self._pending.join()

    def close(self, timeout: float = 15.0) -> None:
        """Stop: what is still waiting is dropped (the target may be gone), the shot in progress finishes."""
        self._closing = True
        if self._thread is not None:
            self._pending.put(None)
            self._thread.join(timeout)

    # ---- EventSink --------------------------------------------------------------------------------

    def append(self, event: Any) -> int:
        seq = self.sink.append(event)
        self._consider([event])
        return seq

    def append_many(self, events: Iterable[Any]) -> int:
        batch = list(events)
        count = self.sink.append_many(batch)
        self._consider(batch)
        return count

    # ---- choosing and taking --------------------------------------------------------------------

    def _consider(self, events: list[Any]) -> None:
        if self._target is None:
            return
        for event in events:
            kind = event.get("kind") if isinstance(event, dict) else getattr(event, "kind", None)
            if kind != KIND_PI_READ:
                continue
            record = event if isinstance(event, dict) else event_dict(event)
            key = (str(record.get("category")), str(record.get("api")))
            with self._lock:
                if key in self._seen or len(self._seen) >= self.max_shots * 8:
                    continue
                self._seen.add(key)
            self._pending.put({"category": key[0], "api": key[1], "for_ts": record.get("ts")})

    def _shoot(self) -> None:
        while True:
            wanted = self._pending.get()
            try:
                if wanted is None:
                    return
                self._take(wanted)
            finally:
                self._pending.task_done()

    def _take(self, wanted: dict[str, Any]) -> None:
        if self._closing or len(self.shots) >= self.max_shots:
            return
        if self._last_shot + self.min_interval_s > time.monotonic():
            return  # reads that come together share the picture taken for the first of them
        self._last_shot = time.monotonic()
        assert self._target is not None and self._screens is not None
        name = f"evidence-{len(self.shots) + 1:03d}.png"
        try:
            self._target.screenshot(self._screens.path(name))
        except MonitorError as exc:
            self.errors.append(f"{name}: {exc.message}")
            return
        shot = {"step": "evidence", "screenshot": self._screens.ref(name), **wanted}
        self.shots.append(shot)
        self.sink.append({"source": "scenario", "kind": KIND_MARK, "ts": time.time_ns(), "category": "step",
                          "payload": shot})
