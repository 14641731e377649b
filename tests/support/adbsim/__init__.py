"""A simulated Android device for tests: the real `adb` server connects to it over loopback TCP.

    with HostAdb() as adb, SimDevice(android=14) as device:
        adb.connect(device.serial)
        ...                                  # adbutils / consentmon against adb.port
        assert device.state.snapshot() == before

`build_state(android=7|10|13|14|15, ...)` makes a fresh device state of that version;
`DeviceState.snapshot()` is what "restored exactly" is checked against.
"""

from support.adbsim.hostadb import HostAdb, free_port
from support.adbsim.profiles import DEMO_PACKAGE, DEMO_PERMISSIONS, VERSIONS, build_state
from support.adbsim.server import SimDevice
from support.adbsim.state import DeviceState

__all__ = ["DEMO_PACKAGE", "DEMO_PERMISSIONS", "VERSIONS", "DeviceState", "HostAdb", "SimDevice", "build_state", "free_port"]
