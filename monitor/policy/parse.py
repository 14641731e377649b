"""A privacy policy (bytes or text) → its DeclaredScope; a SOURCE (file, URL or run directory) → the same."""

from __future__ import annotations

import bisect
import hashlib
import re
import urllib.error
import urllib.request
from pathlib import Path

from monitor.policy.errors import PolicyFetchError, PolicySourceError
from monitor.policy.model import AppPi, DeclaredPi, DeclaredScope, DeclaredSdk, PolicySource
from monitor.policy.sdklist import CellScorer, RawRow, extract, split_pi
from monitor.policy.sdkmap import SdkIndex, sdk_index, sdk_key
from monitor.store.policy import read_policy_documents
from monitor.policy.text import to_document
from monitor.policy.words import Vocabulary, fold, vocabulary

_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
# A sentence declares the app's own collection when it says so with one of these verbs.
_COLLECT = re.compile(r"收集|获取|采集|使用|申请|访问|读取|调用|提供|共享|填写|提交|上传|授权|绑定|开启|注册|录入|输入|"
                      r"collect|access|use|obtain|share|provide", re.I)
# Sentences that are not the app declaring its own collection: what an SDK or a third party does (their rows say
# that), a definition from the glossary, or a denial.
_NOT_THE_APP = re.compile(r"sdk|第三方|合作方|合作伙伴|是指|定义|third[- ]party|partner", re.I)
_DENIAL = re.compile(r"不(?:会|再)?(?:收集|获取|采集|读取|访问|使用|上传|要求|需要)|并未|从不|无需|不涉及|do(?:es)? not (?:collect|access|use)|never", re.I)
_CLAUSE_END = re.compile(r"[，,；;。！？!?\n]")
_FETCH_TIMEOUT = 20.0


def _sentence_around(text: str, start: int, end: int) -> tuple[str, int]:
    left = start
    while left > 0 and not _SENTENCE_END.match(text[left - 1]) and start - left < 400:
        left -= 1
    right = end
    while right < len(text) and not _SENTENCE_END.match(text[right]) and right - end < 400:
        right += 1
    return text[left:right + 1].strip(), left


def _declared_pi(items: list[str], vocab: Vocabulary, offset: int, text: str = "", end: int = 0) -> list[DeclaredPi]:
    """Items with their categories; each item's offset is where it is written in `text` (searched from `offset`,
    in order), or the field's offset when it was rejoined across a line break."""
    declared = []
    cursor = offset
    for item in items:
        found = text.find(item, cursor, max(end, cursor) + len(item) + 200) if text else -1
        item_offset = found if found >= 0 else offset
        if found >= 0:
            cursor = found + len(item)
        hits = vocab.pi_hits(item)
        categories = tuple(dict.fromkeys(category for hit in hits for category in hit.categories))
        words = tuple(dict.fromkeys(hit.word for hit in hits))
        broad = bool(hits) and all(hit.broad for hit in hits if hit.categories)
        declared.append(DeclaredPi(text=item, categories=categories, words=words, offset=item_offset, broad=broad))
    return declared


def parse_policy(text_or_bytes: bytes | str, *, source: str, url: str | None = None, content_type: str | None = None,
                 document_index: int = 0, into: DeclaredScope | None = None) -> DeclaredScope:
    """Read one policy document into a DeclaredScope (or add it to `into`).

    Raises PolicyError (a MonitorError) for what is not a readable policy; a policy with no SDK list, or with an
    SDK list whose rows cannot be read, is a warning in the scope, not an error."""
    vocab = vocabulary()
    index = sdk_index(vocab)
    document = to_document(text_or_bytes, name=url or source, content_type=content_type, where=source)
    scope = into if into is not None else DeclaredScope()
    scope.documents.append(PolicySource(source=source, url=url, content_type=content_type, kind=document.kind,
                                        charset=document.charset, chars=len(document.text)))
    rows, empty_headers = extract(document, vocab, CellScorer(vocab, index.folded_names(), key=sdk_key))
    text = document.text
    scope.sdks.extend(_declared_sdk(row, text, vocab, index, document_index) for row in rows)
    for offset, header in empty_headers:
        scope.warnings.append(f"{source}: an SDK list headed '{header[:80]}' (offset {offset}) has no rows that could be read "
                              "(an empty table, or rows given as a picture)")
    if not rows and not empty_headers:
        if vocab.heading_pattern.search(fold(text[:400_000])):
            scope.warnings.append(f"{source}: mentions third-party SDKs but no SDK list could be read from it "
                                  "(the list may be behind a link, in a picture, or in a layout not understood)")
        else:
            scope.warnings.append(f"{source}: no SDK list found")
    scope.app_pi.extend(_app_pi(text, rows, vocab, document_index))
    return scope


def _declared_sdk(row: RawRow, text: str, vocab: Vocabulary, index: SdkIndex, document_index: int) -> DeclaredSdk:
    items = row.pi_items if row.pi_items is not None else split_pi(row.pi_text or "", vocab)
    sentence = text[row.offset:row.end].strip()
    if len(sentence) > 600:
        sentence = sentence[:600] + "…"
    permissions = split_pi(row.permissions_text, vocab) if row.permissions_text else []
    match = index.match(row.name, row.company, row.fields.get("package", ""), purpose=row.purpose)
    return DeclaredSdk(name=row.name, company=row.company, purpose=row.purpose, pi=_declared_pi(items, vocab, row.pi_offset or row.offset, text, row.end),
                       offset=row.offset, document=document_index, sentence=sentence, link=row.link, permissions=permissions,
                       layout=row.layout, sdk_id=match.sdk_id if match else None, match_reason=match.reason if match else None)


def _app_pi(text: str, rows: list[RawRow], vocab: Vocabulary, document_index: int) -> list[AppPi]:
    """PI words in sentences that speak of collecting, outside the SDK rows: what the app itself declares."""
    spans = sorted((row.offset, max(row.end, row.offset + 1)) for row in rows)
    starts = [low for low, _ in spans]
    found: list[AppPi] = []
    seen: set[tuple[str, str]] = set()
    for start, end, hit in vocab.pi_spans(text):
        if not hit.categories:
            continue
        position = bisect.bisect_right(starts, start) - 1
        if position >= 0 and start < spans[position][1]:
            continue  # inside an SDK row: that row's PI, not the app's
        sentence, sentence_start = _sentence_around(text, start, end)
        if not _COLLECT.search(sentence) or _NOT_THE_APP.search(sentence):
            continue
        clause_start = start
        while clause_start > sentence_start and not _CLAUSE_END.match(text[clause_start - 1]):
            clause_start -= 1
        if _DENIAL.search(text[clause_start:start]):
            continue  # 我们不会收集您的通讯录
        written = text[start:end]
        for category in hit.categories:
            key = (category, written.casefold())
            if key in seen:
                continue
            seen.add(key)
            found.append(AppPi(category=category, text=written, offset=start, document=document_index, sentence=sentence[:300]))
    return found


# ---------------------------------------------------------------------------------------------------------
# SOURCE: a file, a URL or a run directory
# ---------------------------------------------------------------------------------------------------------
def fetch(url: str, *, timeout: float = _FETCH_TIMEOUT) -> tuple[bytes, str | None, str]:
    """GET a policy URL: (body, content type, final URL)."""
    request = urllib.request.Request(url, headers={"User-Agent": "consentmon-policy/1", "Accept": "text/html,text/plain,*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's own URL
            return response.read(), response.headers.get("Content-Type"), response.geturl()
    except urllib.error.HTTPError as exc:
        raise PolicyFetchError(f"{url}: the server answered HTTP {exc.code}", hint="check the link, or save the page and give the file") from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PolicyFetchError(f"{url}: cannot fetch ({reason})", hint="check the link and the network, or save the page and give the file") from exc


def declared_scope(source: str | Path) -> DeclaredScope:
    """The declared scope of SOURCE: a policy file (.html/.htm/.txt/.md), an http(s) URL, or a run directory."""
    text = str(source)
    if re.match(r"https?://", text, re.I):
        body, content_type, final = fetch(text)
        return parse_policy(body, source=text, url=final, content_type=content_type)
    path = Path(source)
    if path.is_dir():
        documents = read_policy_documents(path)
        if not documents:
            raise PolicySourceError(f"{path}: a directory with no policy documents (no {path / 'policy'} folder)",
                                    hint="give a run directory recorded with policy capture, a policy file or a URL")
        scope = DeclaredScope()
        seen: dict[bytes, int] = {}
        for position, stored in enumerate(documents):
            provenance = {"source": stored.source, "ts": stored.ts, "event_seq": stored.event_seq, "flow_id": stored.flow_id,
                          "file": str(stored.path.relative_to(path))}
            digest = hashlib.sha256(stored.data).digest()
            if digest in seen:
                # The same page met twice (loaded by the WebView and seen as a flow): listed, read once.
                first = scope.documents[seen[digest]]
                scope.documents.append(PolicySource(**{**first.__dict__, **provenance, "url": stored.url,
                                                       "duplicate_of": seen[digest]}))
                continue
            seen[digest] = position
            parse_policy(stored.data, source=str(stored.path), url=stored.url, content_type=stored.content_type,
                         document_index=position, into=scope)
            last = scope.documents[-1]
            scope.documents[-1] = PolicySource(**{**last.__dict__, **provenance, "source": stored.source or last.source})
        if scope.sdks:
            # A dialog's short text has no SDK list while the page it links has one: only the run's lack of a list
            # is worth a warning.
            scope.warnings = [warning for warning in scope.warnings if not warning.endswith("no SDK list found")
                              and "no SDK list could be read" not in warning]
        elif len(documents) > 1:
            scope.warnings.append(f"{path}: none of the {len(documents)} policy documents captured holds an SDK list")
        return scope
    if not path.exists():
        raise PolicySourceError(f"{path}: no such file or directory", hint="give a policy file, a URL (https://…) or a run directory")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicySourceError(f"{path}: cannot read ({exc.strerror})", hint="check the path and its permissions") from exc
    return parse_policy(data, source=str(path))
