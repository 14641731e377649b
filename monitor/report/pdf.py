"""report.pdf: the inspection document, printed by WeasyPrint from the report's own HTML (pdf=True).

A cover (app, version, APK SHA-256, device, dates, blank tester/reviewer/date fields to sign), the summary
per rule, one block per case with its evidence and screenshot, and an appendix of file hashes and
versions. Chinese text needs a CJK font: Debian's fonts-noto-cjk (Noto Sans CJK SC), named first in the
stylesheet; without it WeasyPrint would print boxes, so its absence is an error with the fix.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from monitor.report.context import ReportData
from monitor.report.html import render
from monitor.report.output import ReportError, write_with

CJK_FONT = "Noto Sans CJK SC"


def _check_font() -> None:
    if shutil.which("fc-list") is None:
        return
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False).stdout
    if "Noto Sans CJK" not in listed and "Noto Serif CJK" not in listed:
        raise ReportError("no Chinese font for the PDF: Noto Sans CJK is not installed",
                          hint="apt-get install fonts-noto-cjk (or pick --format html,xlsx,json)")


def write_pdf(data: ReportData, target: Path) -> Path:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint's system libraries (Pango) are missing
        raise ReportError(f"the PDF report needs WeasyPrint and its system libraries ({exc})",
                          hint="pip install weasyprint; apt-get install libpango-1.0-0 libpangoft2-1.0-0") from exc
    _check_font()
    html = render(data, pdf=True)
    document = HTML(string=html, base_url=str(data.run_dir)).render()
    return write_with(Path(target), lambda path: document.write_pdf(str(path)))
