"""The witness photographs the first read of each PI category by each API as it arrives, without holding
the events up: every event reaches the run unchanged and in order, shots are bounded and spaced, and each
shot is a mark naming the read it was taken for."""

from __future__ import annotations

import threading
from pathlib import Path

from monitor.errors import TargetError
from monitor.scenario.witness import ScreenWitness
from monitor.store.files import ScreenFolder
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter
from monitor.testing.factories import at, pi_read, run_info

PNG = b"\x89PNG\r\n\x1a\n"


class Camera:
    name = "fake"

    def __init__(self, fail_after: int | None = None) -> None:
        self.taken: list[Path] = []
        self.fail_after = fail_after
        self.lock = threading.Lock()

    def screenshot(self, path: Path) -> Path:
        with self.lock:
            if self.fail_after is not None and len(self.taken) >= self.fail_after:
                raise TargetError("screencap failed: the screen is off")
            self.taken.append(path)
        path.write_bytes(PNG)
        return path


def _run(tmp_path, events, camera, **options):
    writer = RunWriter(tmp_path / "run", run_info=run_info())
    witness = ScreenWitness(writer, min_interval_s=0, **options)
    witness.attach(camera, ScreenFolder(writer.screens_dir))
    witness.append_many(events[:2])
    for event in events[2:]:
        witness.append(event)
    witness.flush()
    witness.close()
    writer.close()
    return witness, read_run(tmp_path / "run")


def test_first_reads_are_photographed_and_every_event_passes_unchanged(tmp_path):
    imei = "android.telephony.TelephonyManager.getDeviceId"
    events = [pi_read(ts=at(1), api=imei), pi_read(ts=at(2), api=imei),
              pi_read(ts=at(3), api="android.location.LocationManager.getLastKnownLocation", category="location", value="1,2"),
              pi_read(ts=at(4), api=imei)]
    camera = Camera()
    witness, run = _run(tmp_path, events, camera)
    reads = run.events[run.events["kind"] == "pi_read"]
    assert reads["ts"].tolist() == [at(1), at(2), at(3), at(4)]          # nothing held back, order kept
    assert [shot["category"] for shot in witness.shots] == ["device_id", "location"]
    marks = run.events[(run.events["kind"] == "mark")]
    assert [payload["screenshot"] for payload in marks["payload"]] == ["screens/evidence-001.png", "screens/evidence-002.png"]
    assert marks["payload"].iloc[0]["for_ts"] == at(1)
    assert all(path.read_bytes() == PNG for path in camera.taken)


def test_shots_are_bounded_and_a_failing_camera_is_reported_not_raised(tmp_path):
    events = [pi_read(ts=at(i), api=f"android.Api{i}.get", category=f"c{i}") for i in range(6)]
    witness, run = _run(tmp_path, events, Camera(fail_after=2), max_shots=3)
    assert len(witness.shots) == 2 and len(witness.errors) >= 1
    assert "screen is off" in witness.errors[0]
    assert len(run.events[run.events["kind"] == "pi_read"]) == 6
