"""Static pre-scan of an APK: what it declares and contains, read without running it (androguard).

`scan_apk(path) -> ApkScan` (monitor/scan/model.py: plain pydantic data, `model_dump(mode="json")` for
JSON). `consentmon scan APK` prints it; a device run with `--apk` keeps it in run.json under "apk_scan".
Layer: beside monitor.device — it reads monitor.data and monitor.device.apk, nothing above them.
"""

from monitor.scan.apkscan import scan_apk, scan_for_run, scan_from_run_info
from monitor.scan.model import ApkScan, NetworkSecurity, PackerHit, PermissionEntry, SdkPresence, SelfStartReceiver

__all__ = ["ApkScan", "NetworkSecurity", "PackerHit", "PermissionEntry", "SdkPresence", "SelfStartReceiver", "scan_apk", "scan_for_run", "scan_from_run_info"]
