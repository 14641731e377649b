"""The run directory's `policy/` folder: each captured policy document as a file plus a JSON sidecar.

```
policy/0001.html        the bytes as captured (HTML from a WebView or a flow, dialog text as .txt)
policy/0001.json        {"source": "webview|flow|dialog|fetch|file", "url": …, "ts": epoch ns,
                         "event_seq": … or "flow_id": …, "content_type": …, "file": "0001.html"}
```
Written when the capture ends, before the seal (monitor/policy/capture.py decides what is a policy), so the
documents are sealed evidence like the rest; files are private (0600) like every file of a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import RunDirError
from monitor.store.files import write_atomic

POLICY_DIR = "policy"
_SUFFIX_BY_TYPE = {"text/html": ".html", "application/xhtml+xml": ".html", "text/markdown": ".md", "text/plain": ".txt"}


@dataclass(frozen=True)
class StoredPolicy:
    path: Path
    data: bytes
    source: str | None
    url: str | None
    ts: int | None
    content_type: str | None
    event_seq: int | None = None
    flow_id: str | None = None


def write_policy_document(run_dir: Path, data: bytes | str, *, source: str, url: str | None = None, ts: int | None = None,
                          content_type: str | None = None, event_seq: int | None = None, flow_id: str | None = None) -> Path:
    """Store one document under RUN_DIR/policy/ with its sidecar; returns the document's path."""
    folder = Path(run_dir) / POLICY_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    number = 1 + max((int(path.stem) for path in folder.glob("*.json") if path.stem.isdigit()), default=0)
    mime = (content_type or "").split(";")[0].strip().lower()
    suffix = _SUFFIX_BY_TYPE.get(mime, ".html" if isinstance(data, str) and "<" in data[:200] else ".txt")
    body = data.encode("utf-8") if isinstance(data, str) else data
    if isinstance(data, str) and content_type and "charset" not in content_type.lower():
        content_type = f"{content_type}; charset=utf-8"
    document = folder / f"{number:04d}{suffix}"
    write_atomic(document, body)
    sidecar = {"source": source, "url": url, "ts": ts, "content_type": content_type, "file": document.name}
    if event_seq is not None:
        sidecar["event_seq"] = event_seq
    if flow_id is not None:
        sidecar["flow_id"] = flow_id
    write_atomic(folder / f"{number:04d}.json", json.dumps(sidecar, ensure_ascii=False, indent=1) + "\n")
    return document


def read_policy_documents(run_dir: Path) -> list[StoredPolicy]:
    """Every document in RUN_DIR/policy/, in the order they were stored; [] when there is none."""
    folder = Path(run_dir) / POLICY_DIR
    if not folder.is_dir():
        return []
    documents = []
    for sidecar_path in sorted(folder.glob("*.json")):
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
            path = folder / sidecar["file"]
            data = path.read_bytes()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunDirError(f"{sidecar_path}: unreadable policy document sidecar ({exc})",
                              hint="the run directory is damaged; `consentmon verify` says what changed") from exc
        documents.append(StoredPolicy(path=path, data=data, source=sidecar.get("source"), url=sidecar.get("url"),
                                      ts=sidecar.get("ts"), content_type=sidecar.get("content_type"),
                                      event_seq=sidecar.get("event_seq"), flow_id=sidecar.get("flow_id")))
    return documents
