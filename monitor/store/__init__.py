"""The run directory: the contract between capture and analysis.

Layout (names are constants here, used by every reader and writer):
  events.jsonl   one Event per line, appended and flushed as it comes, `seq` strictly increasing
  flows.jsonl    one decoded HTTP exchange per line (request and response parts, bodies capped)
  flows.mitm     mitmproxy's own flow file (opens in mitmweb)
  flows.spool    while capturing only: each flow's state as it was recorded (msgpack frames), turned into
                 flows.mitm and flows.jsonl when the capture finishes; left behind only by a capture that
                 was killed, and then turned into them by `consentmon recover`
  screens/       screenshots and UI dumps
  policy/        the privacy policy the run showed or loaded: each document and a JSON sidecar (store/policy.py)
  run.json       what was run: target, device, app, start/end, tool/agent/catalogue versions, clocks
  events.chain   the first 16 hex digits of the hash chain after each line of events.jsonl (written at the
                 seal), so `verify` names the first line that was changed, removed or added
  manifest.json  SHA-256 of every file and the head of the hash chain over events.jsonl
  signature.json, manifest.tsr   optional: an ed25519 signature and an RFC 3161 time-stamp of manifest.json
"""

EVENTS_FILE = "events.jsonl"
EVENTS_CHAIN_FILE = "events.chain"
FLOWS_FILE = "flows.jsonl"
MITM_FILE = "flows.mitm"
SPOOL_FILE = "flows.spool"
RUN_FILE = "run.json"
MANIFEST_FILE = "manifest.json"
SCREENS_DIR = "screens"
FINDINGS_FILE = "findings.json"
REPORT_FILE = "report.html"

SIGNATURE_FILE = "signature.json"
TIMESTAMP_FILE = "manifest.tsr"

# Files written by analysis and reports, not capture: they are not part of the sealed evidence. Every report
# format, in every language and redacted or not, is named findings.* or report.* at the top of the run.
DERIVED_FILES = frozenset({FINDINGS_FILE, REPORT_FILE, "findings.xlsx", "report.pdf"})
DERIVED_PREFIXES = ("findings.", "report.", "consentmon.", "consentmon-")   # consentmon.sarif, consentmon-junit.xml


def is_derived(relative_name: str) -> bool:
    """Whether a file of the run directory (path relative to it) was derived after capture."""
    return relative_name in DERIVED_FILES or ("/" not in relative_name and relative_name.startswith(DERIVED_PREFIXES))
# Files that vouch for the manifest (monitor/store/signing.py): written after the seal, checked on their own.
SEAL_PROOF_FILES = frozenset({SIGNATURE_FILE, TIMESTAMP_FILE})
