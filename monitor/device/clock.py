"""Device ↔ host clock offset, measured over adb with the round trip taken into account.

host t0, device time d, host t1: offset = d - (t0 + t1) / 2, uncertainty = (t1 - t0) / 2 (plus half
a second when the device can only print whole seconds). The best of a few samples (smallest round
trip) is kept. host_time = device_time - offset.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from monitor.device.adb import AndroidDevice
from monitor.errors import DeviceError


def _read(device: AndroidDevice, fmt: str) -> str:
    return device.shell(f"date +{fmt}").out.strip()


def measure_offset(device: AndroidDevice, *, samples: int = 5, clock: Callable[[], int] = time.time_ns) -> dict[str, Any]:
    method = "date +%s%N"
    probe = _read(device, "%s%N")
    nanos = probe.isdigit() and len(probe) >= 18
    if not nanos:
        # Older toybox prints %N literally; fall back to whole seconds and say so.
        method = "date +%s"
    best: tuple[int, int] | None = None
    for _ in range(max(1, samples)):
        t0 = clock()
        text = _read(device, "%s%N" if nanos else "%s")
        t1 = clock()
        if not text.isdigit():
            raise DeviceError(f"device clock unreadable: `date` printed {text!r}")
        # A whole-second reading means some time in [s, s+1): take the middle, ±0.5 s.
        device_ns = int(text) if nanos else int(text) * 1_000_000_000 + 500_000_000
        round_trip = t1 - t0
        offset = device_ns - (t0 + t1) // 2
        if best is None or round_trip < best[1]:
            best = (offset, round_trip)
    assert best is not None
    offset, round_trip = best
    uncertainty = round_trip // 2 + (0 if nanos else 500_000_000)
    return {"offset_ns": offset, "uncertainty_ns": uncertainty, "round_trip_ns": round_trip, "method": method,
            "samples": samples, "measured_at_ns": clock(),
            "note": None if nanos else "device `date` has no %N; whole-second resolution"}


def clock_record(start: dict[str, Any], end: dict[str, Any] | None) -> dict[str, Any]:
    """What goes into run.json `clock`: both measurements and the drift between them."""
    record: dict[str, Any] = {"device_offset_start": start, "device_offset_end": end}
    if end is not None:
        record["drift_ns"] = end["offset_ns"] - start["offset_ns"]
    return record
