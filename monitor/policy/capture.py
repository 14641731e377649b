"""The privacy policy a run showed, kept as evidence: what the app displayed and loaded, found in its events
and its traffic when the capture ends, and stored under the run directory's `policy/` before it is sealed.

Where a policy comes from during a run:
- the consent dialog's text (`text` events: TextView.setText of a notice, with its links);
- the same text as the screen showed it, from the UI dumps the scenario saved (screens/*.xml): what a
  UI drawn without TextView (Compose, a WebView-drawn dialog, a game engine) still exposes to uiautomator;
- HTML the app handed a WebView (`WebView.loadData` / `loadDataWithBaseURL`);
- a page a WebView or the app fetched (`WebView.loadUrl`, or any HTML response that reads like a policy),
  taken whole from flows.mitm;
- with `--fetch-policy`, the links the dialog showed that nothing opened, fetched through the capture proxy
  after the scenario (`unopened_links` says which; the runner fetches while the proxy still runs).
Each document is stored once (by content), with its source, URL, time and the event or flow it came from.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET  # noqa: N817 - the stdlib's usual name
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.data import load_catalogue
from monitor.events import KIND_TEXT, KIND_WEBVIEW
from monitor.store.policy import read_policy_documents, write_policy_document
from monitor.store import EVENTS_FILE
from monitor.store.files import read_screen, screen_files
from monitor.store.flows import has_traffic, load_flows
from monitor.store.reader import read_events

NOTICE_API = "android.widget.TextView.setText"
LOAD_URL = "android.webkit.WebView.loadUrl"
LOAD_DATA = ("android.webkit.WebView.loadData", "android.webkit.WebView.loadDataWithBaseURL")


@dataclass(frozen=True)
class Collected:
    stored: int          # documents written this time
    skipped: int         # the same content seen again
    links: list[str]     # links the notice showed


def notice_words() -> list[str]:
    """The words that make a text a privacy notice: the catalogue's own condition on the notice hook, so what
    the agent keeps and what is looked for in traffic are the same words."""
    for entry in load_catalogue().hooks:
        if entry.api == NOTICE_API and entry.when is not None:
            return list(entry.when.values)
    return ["隐私", "个人信息", "Privacy", "privacy"]


def _events(run_dir: Path) -> pd.DataFrame:
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=["kind", "api", "value", "payload", "ts", "seq"])
    events = read_events(path)
    return events[events["kind"].isin([KIND_TEXT, KIND_WEBVIEW])]


def _links(payload: Any) -> list[str]:
    links = payload.get("links") if isinstance(payload, dict) else None
    return [link for link in links or [] if isinstance(link, str) and link.startswith(("http://", "https://"))]


def shown_links(run_dir: Path, events: pd.DataFrame | None = None) -> list[str]:
    """Every http(s) link the notices of a run showed, first shown first (`events`: the run's notice and
    WebView events when the caller has read them already)."""
    events = _events(run_dir) if events is None else events
    found: list[str] = []
    for payload in events.loc[events["kind"] == KIND_TEXT, "payload"].tolist():
        found += [link for link in _links(payload) if link not in found]
    return found


def unopened_links(run_dir: Path) -> list[str]:
    """Links the notices showed that no WebView loaded during the run (what `--fetch-policy` fetches)."""
    events = _events(run_dir)
    opened = set(events.loc[events["api"] == LOAD_URL, "value"].dropna().astype(str))
    return [link for link in shown_links(run_dir, events) if link not in opened]


def _notice_in_dump(xml: bytes | None, words: list[str]) -> str:
    """The texts of a uiautomator dump that read like a privacy notice, in screen order, one per line."""
    if not xml:
        return ""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return ""
    texts = []
    for node in root.iter("node"):
        for text in (node.get("text") or "", node.get("content-desc") or ""):
            if text and text not in texts and any(word in text for word in words):
                texts.append(text)
    return "\n".join(texts)


def _is_html(content_type: str | None, body: bytes) -> bool:
    if content_type and "html" in content_type.lower():
        return True
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _reads_like_policy(body: bytes, words: list[str]) -> bool:
    # Charset is not known yet (GBK pages exist): look for each word in the common encodings.
    for word in words:
        for encoding in ("utf-8", "gb18030"):
            if word.encode(encoding) in body:
                return True
    return False


FETCH_HEADER = "x-consentmon-fetch"


def collect_policy_documents(run_dir: Path) -> Collected:
    """Store every policy document the run showed or loaded under RUN_DIR/policy/ (idempotent by content).
    Pages consentmon itself fetched (`--fetch-policy`, marked by FETCH_HEADER) are stored as source "fetch"."""
    run_dir = Path(run_dir)
    seen = {hashlib.sha256(document.data).hexdigest() for document in read_policy_documents(run_dir)}
    stored = skipped = 0

    def keep(data: bytes | str, **where: Any) -> None:
        nonlocal stored, skipped
        raw = data.encode("utf-8") if isinstance(data, str) else data
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen or not raw.strip():
            skipped += 1
            return
        seen.add(digest)
        write_policy_document(run_dir, data, **where)
        stored += 1

    events = _events(run_dir)
    words = notice_words()
    for row in events.itertuples(index=False):
        value = row.value if isinstance(row.value, str) else None
        if not value:
            continue
        if row.kind == KIND_TEXT:
            links = _links(row.payload)
            text = value + ("\n\n" + "\n".join(links) if links else "")
            keep(text, source="dialog", url=links[0] if links else None, ts=int(row.ts), content_type="text/plain",
                 event_seq=int(row.seq))
        elif row.api in LOAD_DATA:
            payload = row.payload if isinstance(row.payload, dict) else {}
            keep(value, source="webview", url=payload.get("base_url"), ts=int(row.ts),
                 content_type=str(payload.get("mime") or "text/html"), event_seq=int(row.seq))
    for ref in screen_files(run_dir, ".xml"):
        shown = _notice_in_dump(read_screen(run_dir, ref), words)
        if shown:
            keep(shown, source="ui_dump", url=None, ts=None, content_type="text/plain")
    loaded = set(events.loc[events["api"] == LOAD_URL, "value"].dropna().astype(str))
    if has_traffic(run_dir):
        for flow in load_flows(run_dir):
            if flow.response is None:
                continue
            ours = bool(flow.request.headers.get(FETCH_HEADER))
            body = flow.response.get_content(strict=False) or b""
            content_type = flow.response.headers.get("content-type")
            url = flow.request.pretty_url
            if not _is_html(content_type, body):
                continue
            if ours or url in loaded or _reads_like_policy(body, words):
                keep(body, source="fetch" if ours else "flow", url=url, ts=int(flow.request.timestamp_start * 1e9),
                     content_type=content_type, flow_id=flow.id)
    return Collected(stored=stored, skipped=skipped, links=shown_links(run_dir, events))
