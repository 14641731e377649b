"""--redact: no PI value survives in any format, in any encoding the matcher searches for; the run
directory is not touched; masks keep type, length and a salted hash (the same value masks alike)."""

from __future__ import annotations

import hashlib
import subprocess
import shutil
import zipfile
from pathlib import Path

import pytest

from monitor.analysis.encodings import derive_needles, digest_byte_forms
from monitor.data import load_data
from monitor.report.build import write_reports

from .conftest import ANDROID_ID, BSSID, IMEI, VALUES


def _tree_digest(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def _needles(value: str, category: str) -> list[bytes]:
    rules = load_data("matching")
    decimals = tuple(rules.coordinates.decimals) if category in rules.coordinates.categories else ()
    forms = [needle.data for needle in derive_needles(value, coordinate_decimals=decimals)]
    for _, digest, tokens in digest_byte_forms(value):
        forms.append(digest)
        forms += [token for _, token in tokens]
    return forms


def _texts(path: Path) -> list[bytes]:
    """The bytes a reader of the file can see: the file itself; an XLSX's unzipped parts; a PDF's text."""
    data = path.read_bytes()
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return [archive.read(name) for name in archive.namelist()]
    if path.suffix == ".pdf":
        pdftotext = shutil.which("pdftotext")
        assert pdftotext, "poppler-utils is needed to read the PDF back"
        text = subprocess.run([pdftotext, str(path), "-"], capture_output=True, check=True).stdout
        return [data, text, b"".join(text.split())]
    return [data]


def test_no_value_in_any_encoding_survives_in_any_format(analysed_run, tmp_path):
    pytest.importorskip("weasyprint")
    before = _tree_digest(analysed_run)
    written, data = write_reports(analysed_run, formats=["html", "xlsx", "pdf", "json"], out=tmp_path, redact=True,
                                  salt=b"test-salt")
    assert [path.name for path in written] == ["report.redacted.html", "findings.redacted.xlsx", "report.redacted.pdf",
                                               "report.redacted.json"]
    assert _tree_digest(analysed_run) == before
    for path in written:
        contents = _texts(path)
        for value, category in VALUES.items():
            for needle in _needles(value, category):
                found = [index for index, blob in enumerate(contents) if needle in blob]
                assert not found, f"{path.name}: {value!r} found as {needle!r}"
    html = written[0].read_text(encoding="utf-8")
    assert "com.example.demo" in html  # the app under test is named, not masked
    # type and length kept; the hash is salted, the same value masks alike everywhere
    assert "«device_id·15·" in html and "«wifi·17·" in html
    assert "·md5»" in html and "·base64»" in html
    assert '<img src="data:image/png' not in html  # pixels cannot be masked: screenshots are left out


def test_the_same_value_masks_alike_across_reports_and_salts_differ(analysed_run, tmp_path):
    _, first = write_reports(analysed_run, formats=["json"], out=tmp_path / "a", redact=True, salt=b"one")
    _, again = write_reports(analysed_run, formats=["json"], out=tmp_path / "b", redact=True, salt=b"one")
    _, other = write_reports(analysed_run, formats=["json"], out=tmp_path / "c", redact=True, salt=b"two")
    values = lambda data: sorted(v for f in data.findings["findings"] for v in f["evidence"]["values"])  # noqa: E731
    assert values(first) == values(again) != values(other)
    assert all(value.startswith("«") for value in values(first))
    assert [case["id"] for case in first.cases] == [case["id"] for case in other.cases]  # cases stay comparable
    assert IMEI not in str(first.findings) and ANDROID_ID not in str(first.findings) and BSSID not in str(first.findings)
