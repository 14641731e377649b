"""`consentmon report`: the chosen formats of one analysed run, written side by side.

Each format is rendered from the same ReportData (one load, one redaction) and written through a temporary
file renamed into place, so a report is whole or absent. File names: report.html, report.pdf,
findings.xlsx and report.json, with `.redacted` before the extension when values are masked (a redacted
report is never mistaken for, nor overwrites, the full one).
"""

from __future__ import annotations

from pathlib import Path

from monitor.report.context import ReportData, load_report
from monitor.report.output import ReportError
from monitor.store import FINDINGS_FILE

FORMATS = ("html", "xlsx", "pdf", "json", "sarif", "junit")
NAMES = {"html": "report.html", "xlsx": "findings.xlsx", "pdf": "report.pdf", "json": "report.json",
         "sarif": "report.sarif", "junit": "report.junit.xml"}


def parse_formats(text: str) -> list[str]:
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FORMATS]
    if unknown or not chosen:
        raise ReportError(f"unknown report format {', '.join(unknown) or '(none)'}",
                          hint=f"--format takes a comma-separated list of: {', '.join(FORMATS)}")
    return list(dict.fromkeys(chosen))


def output_name(fmt: str, *, redact: bool) -> str:
    name = NAMES[fmt]
    if not redact:
        return name
    stem, _, extension = name.rpartition(".")
    return f"{stem}.redacted.{extension}"


def write_reports(run_dir: Path, *, formats: list[str], lang: str = "zh", redact: bool = False,
                  out: Path | None = None, salt: bytes | None = None,
                  data: ReportData | None = None) -> tuple[list[Path], ReportData]:
    if redact and {"sarif", "junit"} & set(formats):
        raise ReportError("--redact masks values in html, xlsx, pdf and json; SARIF and JUnit are made for CI, not for "
                          "handing over", hint="ask for sarif/junit without --redact, or the other formats with it")
    data = data or load_report(Path(run_dir), lang=lang, redact=redact, salt=salt)
    folder = Path(out) if out is not None else Path(run_dir)
    written: list[Path] = []
    for fmt in formats:
        target = folder / output_name(fmt, redact=redact)
        if fmt == "html":
            from monitor.report.html import render
            from monitor.report.output import write_atomic
            written.append(write_atomic(target, render(data).encode("utf-8")))
        elif fmt == "xlsx":
            from monitor.report.xlsx import write_xlsx
            written.append(write_xlsx(data, target))
        elif fmt == "pdf":
            from monitor.report.pdf import write_pdf
            written.append(write_pdf(data, target))
        elif fmt == "json":
            from monitor.report.jsonout import write_json
            written.append(write_json(data, target))
        elif fmt == "sarif":
            from monitor.analysis.findings import read_findings
            from monitor.report.sarif import run_sarif, write_sarif
            findings = read_findings(Path(run_dir) / FINDINGS_FILE)
            written.append(write_sarif(run_sarif(Path(run_dir), findings, lang=lang), target))
        elif fmt == "junit":
            from monitor.analysis.findings import read_findings
            from monitor.report.junit import junit_xml, write_junit
            written.append(write_junit(junit_xml(read_findings(Path(run_dir) / FINDINGS_FILE), lang=lang), target))
    return written, data
