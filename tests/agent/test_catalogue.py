"""The catalogue as data: coverage of the reference list, sources, and the `catalogue --check` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.data.models import Catalogue
from monitor.data.yamlfile import load_model
from monitor.errors import DataFileError
from support.native import build_native_targets

REFERENCE = Path("/work/shared/reference/android-pi-apis.yaml")


def test_the_catalogue_covers_at_least_170_apis_over_22_categories(catalogue: Catalogue) -> None:
    assert len(catalogue.apis()) >= 170
    assert len(catalogue.categories()) >= 22


@pytest.mark.skipif(not REFERENCE.exists(), reason="the shared reference list is not on this machine")
def test_every_java_api_of_the_reference_list_is_hooked(catalogue: Catalogue) -> None:
    reference = yaml.safe_load(REFERENCE.read_text())
    hooked = catalogue.apis() | {entry.hook_class + "." + entry.method for entry in catalogue.hooks}
    missing = []
    for items in reference.values():
        for item in items:
            api = item["api"]
            if api.startswith(("libc", "java.lang.reflect")) or " " in api or api == "android.os.Build.SERIAL":
                continue  # native channels are checked below; a static field read cannot be hooked
            # ContextWrapper only delegates to its base, android.app.ContextImpl: the hook sits there.
            api = api.replace("android.content.ContextWrapper.", "android.app.ContextImpl.")
            if api not in hooked:
                missing.append(api)
    assert missing == []


def test_native_side_channels_of_the_reference_are_covered(catalogue: Catalogue) -> None:
    exports = {entry.export for entry in catalogue.native}
    assert {"open", "openat", "fopen", "__system_property_get", "getifaddrs", "ioctl"} <= exports
    # Reflection is covered by hooking the reflected-into APIs themselves; hooking the caller-sensitive
    # Method.invoke broke the JDK's own TLS handshake (see catalogue.yaml), so it must stay out.
    assert "java.lang.reflect.Method.invoke" not in catalogue.apis()
    assert "android.os.SystemProperties.get" in catalogue.apis()


def test_every_entry_names_where_it_was_read(catalogue: Catalogue) -> None:
    for entry in [*catalogue.hooks, *catalogue.native]:
        assert re.match(r"^https?://\S+$", entry.source), entry.api


def test_a_signature_for_another_method_is_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "catalogue.yaml"
    bad.write_text("version: x\nhooks:\n  - api: android.telephony.TelephonyManager.getImei\n"
                   "    signatures: [\"java.lang.String getDeviceId()\"]\n    category: device_id\n"
                   "    source: https://developer.android.com/x\n")
    with pytest.raises(DataFileError) as error:
        load_model(bad, Catalogue)
    assert f"{bad}:3" in str(error.value) and "declares getDeviceId" in str(error.value)


@pytest.mark.frida
def test_catalogue_check_reports_installed_and_fired_entries_of_a_program() -> None:
    target = build_native_targets()["sidechannels"]
    result = CliRunner().invoke(app, ["catalogue", "--check", "--json", "--", str(target)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    rows = {(row["api"], row["category"]): row for row in report["entries"]}
    assert report["exit_reason"] == "target-ended"
    assert rows[("libc.so.ioctl", "device_id")]["installed"] == 1 and rows[("libc.so.ioctl", "device_id")]["fired"] == 1
    assert rows[("libc.so.open64", "device_id")]["installed"] == 1  # glibc's alias of open: one hook serves both
    # No JVM in a C program: Java entries are neither installed nor failed, and none fired.
    java = [row for row in report["entries"] if not row["api"].startswith("libc.")]
    assert java and all(row["installed"] == 0 and row["fired"] == 0 for row in java)
