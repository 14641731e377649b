"""Where jobs run: a slot is one connected device (what it offers: Android release, ABIs, root) or one
host slot (a program on this machine). A job goes to a slot that can take it (`can_take`)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from monitor.device.adb import AndroidDevice, DeviceUnreachable, list_serials
from monitor.errors import DeviceError
from monitor.lab.plan import Job, version_matches


@dataclass(frozen=True)
class Slot:
    name: str                      # the serial of a device; host-1, host-2… on this machine
    kind: str                      # device | host
    android: str | None = None
    sdk: int | None = None
    abis: tuple[str, ...] = ()
    root: bool = False
    model: str | None = None
    facts: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def describe(self) -> str:
        if self.kind == "host":
            return self.name
        return f"{self.name} (Android {self.android}, {self.abis[0] if self.abis else '?'}{', root' if self.root else ''})"

    def as_dict(self) -> dict[str, Any]:
        """JSON: what a job's process, a worker's consumer or the worker registry is told of the slot."""
        return {**self.__dict__, "abis": list(self.abis)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Slot":
        return cls(**{**data, "abis": tuple(data.get("abis") or ())})


def can_take(slot: Slot, job: Job) -> bool:
    if job.kind != slot.kind:
        return False
    if slot.kind == "host":
        return True
    needs = job.needs
    if needs.serial is not None and needs.serial != slot.name:
        return False
    if needs.android is not None and (slot.android is None or not version_matches(needs.android, slot.android)):
        return False
    if needs.abi is not None and needs.abi not in slot.abis:
        return False
    if needs.root is not None and needs.root != slot.root:
        return False
    return True


def host_slots(count: int, worker: str | None = None) -> list[Slot]:
    prefix = f"{worker}/" if worker else ""
    return [Slot(name=f"{prefix}host-{number}", kind="host") for number in range(1, count + 1)]


def probe_device(serial: str) -> Slot:
    """What one device offers, asked over adb. Raises DeviceError when it cannot be asked."""
    device = AndroidDevice(serial)
    device.require_online()
    props = device.props()
    abilist = props.get("ro.product.cpu.abilist") or props.get("ro.product.cpu.abi") or ""
    sdk = props.get("ro.build.version.sdk")
    return Slot(name=serial, kind="device", android=props.get("ro.build.version.release"),
                sdk=int(sdk) if sdk and sdk.isdigit() else None, abis=tuple(filter(None, abilist.split(","))),
                root=device.root_mode is not None, model=props.get("ro.product.model"))


def device_slots(serials: list[str] | None = None) -> tuple[list[Slot], list[str]]:
    """The slots of the given serials (default: every online device the adb server knows), and one line
    for each device that could not be probed."""
    problems: list[str] = []
    if serials is None:
        try:
            serials = [serial for serial, state in list_serials() if state == "device"]
        except DeviceUnreachable as exc:
            return [], [f"no devices: {exc.message}"]
    slots = []
    for serial in serials:
        try:
            slots.append(probe_device(serial))
        except DeviceError as exc:
            problems.append(f"device {serial} left out: {exc.message}")
    return slots, problems


def device_alive(serial: str) -> bool:
    try:
        return AndroidDevice(serial).state() == "device"
    except DeviceError:
        return False


def worker_name() -> str:
    return socket.gethostname()
