"""Cases: findings grouped the way a regulator's notice (通报) states them — one rule × one subject.

A finding is one API or one destination; a notice says "the Umeng SDK collected the IMEI, the Android ID and
the BSSID before consent and sent them to ulogs.umeng.com". A case is that sentence with its proof: the
rule, the subject (the app itself, one SDK — modules of one family folded under the entry the SDK table
names as their `group` — or code of no known SDK, by its package), the PI types with what each API read,
the reads and flows (first/last time, count), the consent states, the destinations, and the finding ids
it covers. Every finding belongs to exactly one case; findings.json keeps both.

`build_cases` is pure: findings in, cases out, ordered and identified deterministically (a case id is a
short SHA-1 of rule and subject, so the same case in two runs has the same id: `consentmon diff` relies on
it). Its sentence phrases come from the report's message catalogue (monitor/data/messages.yaml), in
every language.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.analysis.attribution import frame_class, native_module
from monitor.data.models import SdkTable
from monitor.data.messages import LANGUAGES, Messages, messages

if TYPE_CHECKING:
    from monitor.analysis.findings import Finding

Frozen = ConfigDict(extra="forbid")
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}
# Rules whose findings are about a connection, not a PI value: their "host" is where it connected.
CONNECT_CATEGORIES = frozenset({"network_connect", "network_request"})
# Categories that name the kind of finding, not a PI type (undisclosed-sdk's "sdk").
SUBJECT_CATEGORIES = frozenset({"sdk"})
UNKNOWN_PACKAGE_SEGMENTS = 3


class CaseSubject(BaseModel):
    """Who a case is about. `id` is the SDK table id of the subject (the group's, for a module), or None."""

    model_config = Frozen
    kind: Literal["app", "sdk", "unknown"]
    id: str | None
    name: dict[str, str]
    vendor: str | None = None
    sdk_ids: list[str] = Field(default_factory=list)   # the SDK table entries folded into this subject
    package: str | None = None


class CasePi(BaseModel):
    model_config = Frozen
    category: str
    name: dict[str, str]
    items: list[dict[str, str]] = Field(default_factory=list)


class CaseRead(BaseModel):
    """The reads of one API by the subject under this rule (one finding)."""

    model_config = Frozen
    finding_id: str
    api: str
    category: str | None
    count: int
    first_seen_ns: int
    last_seen_ns: int
    event_seqs: list[int]
    consent_state: str | None
    background: bool


class CaseFlow(BaseModel):
    """Flows to one host carrying one PI category (one finding)."""

    model_config = Frozen
    finding_id: str
    host: str
    category: str | None
    count: int
    first_seen_ns: int
    last_seen_ns: int
    flow_ids: list[str]
    event_seqs: list[int]
    encodings: list[str]
    fields: list[str]
    party: str | None
    consent_state: str | None


class CaseConnect(BaseModel):
    """Connections the subject opened (one finding of a connect rule)."""

    model_config = Frozen
    finding_id: str
    destination: str
    api: str | None
    count: int
    first_seen_ns: int
    last_seen_ns: int
    event_seqs: list[int]


class CitedArticle(BaseModel):
    """An article a rule cites, as a finding and its case carry it (findings.py takes it from here: it imports
    this module for Case)."""

    model_config = Frozen
    regulation: str
    article: str
    text: str
    verified: bool
    quote: bool
    wording: str
    wording_zh: str | None = None


class Case(BaseModel):
    model_config = Frozen
    id: str
    rule: str
    title: dict[str, str]
    severity: str
    subject: CaseSubject
    pi: list[CasePi]
    reads: list[CaseRead]
    flows: list[CaseFlow]
    connects: list[CaseConnect]
    other: list[str] = Field(default_factory=list)   # finding ids that are none of the above
    consent_states: list[str]
    destinations: list[str]
    background: bool
    first_seen_ns: int
    last_seen_ns: int
    count: int
    confidence: float
    finding_ids: list[str]
    articles: list[CitedArticle]
    sentence: dict[str, str]


def case_id(rule: str, subject_key: str) -> str:
    return hashlib.sha1(json.dumps([rule, subject_key], ensure_ascii=False).encode()).hexdigest()[:12]


def _api_key(api: str | None) -> str | None:
    """'android.net.wifi.WifiInfo.getBSSID' → 'WifiInfo.getBSSID' (the catalogue's item keys)."""
    if not api:
        return None
    parts = api.rsplit(".", 2)
    return ".".join(parts[-2:]) if len(parts) >= 2 else api


def _package_of(frame: str | None) -> str | None:
    """The package a case names for code of no known SDK; for native code, its library ("libfoo.so"): the frame's
    address changes with every run (ASLR), and a case must keep its id across runs (diff, baselines, rounds)."""
    if not frame:
        return None
    module = native_module(frame)
    if module is not None:
        return module
    cls = frame_class(frame)
    segments = cls.split(".")[:-1] or cls.split(".")
    return ".".join(segments[:UNKNOWN_PACKAGE_SEGMENTS]) or None


def _subject(finding: Finding, sdks: SdkTable, app_package: str | None, text: Messages) -> tuple[str, CaseSubject]:
    """(grouping key, subject) of a finding."""
    ref = finding.sdk
    if ref.owner == "sdk" and ref.id:
        group_id = sdks.subject_of(ref.id)
        entry = next((sdk for sdk in sdks.sdks if sdk.id == group_id), None)
        if entry is None:  # an id the current table no longer knows (an old findings file): its own name
            names = {lang: ref.name for lang in LANGUAGES}
            return f"sdk:{ref.id}", CaseSubject(kind="sdk", id=ref.id, name=names, sdk_ids=[ref.id])
        local = {"en": entry.name.en, "zh": entry.name.zh or entry.name.en}
        names = {lang: text.in_lang(lang)("subject.sdk_named" if "SDK" in local[lang] else "subject.sdk", name=local[lang])
                 for lang in LANGUAGES}
        return f"sdk:{group_id}", CaseSubject(kind="sdk", id=group_id, name=names, vendor=entry.vendor, sdk_ids=[ref.id])
    if ref.owner == "app":
        key = "subject.app" if app_package else "subject.app_unnamed"
        return "app", CaseSubject(kind="app", id=None, name=text.both(key, package=app_package or ""), package=app_package)
    package = _package_of(ref.frame)
    key = "subject.unknown" if package else "subject.unknown_unnamed"
    return f"unknown:{package or ''}", CaseSubject(kind="unknown", id=None, name=text.both(key, package=package or ""),
                                                   package=package)


def _join(items: Sequence[str], text: Messages) -> str:
    if len(items) <= 1:
        return "".join(items)
    return text("list.sep").join(items[:-1]) + text("list.last") + items[-1]


def _pi_phrase(pi: Sequence[CasePi], lang: str, text: Messages) -> str:
    parts = []
    for entry in pi:
        name = entry.name[lang]
        items = [item[lang] for item in entry.items]
        parts.append(text("pi.with_items", category=name, items=text("list.sep").join(items)) if items else name)
    return _join(parts, text) if parts else text("sentence.nothing")


def _package_phrase(packages: Sequence[dict[str, Any]], text: Messages) -> str:
    """What a static scan found of a subject in the APK (finding detail `apk`): its packages and classes, or the
    manifest components that name it when a packer hides the classes."""
    prefixes = list(dict.fromkeys(prefix for found in packages for prefix in found.get("packages") or []))
    components = list(dict.fromkeys(item for found in packages for item in found.get("components") or []))
    classes = sum(int(found.get("classes") or 0) for found in packages)
    parts = [text("apk.classes", packages=_join(prefixes, text), classes=classes)] if classes else []
    if components:
        parts.append(text("apk.components", components=_join(components[:3], text)))
    return text("list.semi").join(parts)


def _sentence(rule: str, title: dict[str, str], subject: CaseSubject, pi: Sequence[CasePi], hosts: Sequence[str],
              connect_hosts: Sequence[str], states: Sequence[str], count: int, catalogue: Messages, *,
              went_online: bool = False, packages: Sequence[dict[str, Any]] = ()) -> dict[str, str]:
    sentences = {}
    for lang in LANGUAGES:
        text = catalogue.in_lang(lang)
        key = f"sentence.rule.{rule}"
        if rule == "before-consent" and states and set(states) <= {"notice_shown"}:
            key = "sentence.rule.before-consent.notice"
        if packages and text.has(f"{key}.in_apk"):
            key = f"{key}.in_apk"   # only in the package, never seen at work: what the scan found there
        elif not pi and connect_hosts and text.has(f"{key}.connect"):
            key = f"{key}.connect"  # a case of connections only: say where it connected, not what it read
        elif not pi and went_online and text.has(f"{key}.online"):
            key = f"{key}.online"   # it went online, and where to is not known
        if not text.has(key):
            key = "sentence.rule.other"
        shown_hosts = list(connect_hosts if rule == "sdk-connects-before-consent" or key.endswith(".connect") else hosts)
        name = subject.name[lang]
        if lang == "zh" and name[-1:].isascii() and name[-1:].isalnum():
            name += " "  # a space between a Latin word and the Chinese after it
        body = text(key, subject=name, pi=_pi_phrase(pi, lang, text), title=title.get(lang) or rule,
                    hosts=_join(shown_hosts, text), count=count, packages=_package_phrase(packages, text))
        # The rules about collecting say where the PI went too, when a flow proved it.
        if hosts and rule in {"before-consent", "after-refusal", "background", "beyond-scope", "undisclosed-sdk"}:
            body += text("sentence.sent_to", hosts=_join(list(hosts), text))
        sentences[lang] = body + text("sentence.end")
    return sentences


def _is_connect(finding: Finding) -> bool:
    return finding.category in CONNECT_CATEGORIES or "destination" in finding.evidence.detail


def build_cases(findings: Iterable[Finding], *, sdks: SdkTable, app_package: str | None = None,
                catalogue: Messages | None = None) -> list[Case]:
    """Group findings by (rule, subject); every finding lands in exactly one case."""
    text = catalogue or messages()
    findings = list(findings)
    # What each read was, by seq, from every finding that names its API: a flow's case names the items it
    # carried even when the reads behind it are judged under another rule.
    read_api: dict[int, tuple[str, str | None]] = {}
    for finding in findings:
        if finding.api and finding.host is None and not _is_connect(finding):
            for seq in finding.evidence.event_seqs:
                read_api.setdefault(seq, (finding.api, finding.category))

    groups: dict[tuple[str, str], list[Finding]] = {}
    subjects: dict[tuple[str, str], CaseSubject] = {}
    for finding in findings:
        key, subject = _subject(finding, sdks, app_package, text)
        group_key = (finding.rule, key)
        groups.setdefault(group_key, []).append(finding)
        known = subjects.get(group_key)
        if known is None:
            subjects[group_key] = subject
        elif subject.sdk_ids and not set(subject.sdk_ids) <= set(known.sdk_ids):
            subjects[group_key] = known.model_copy(update={"sdk_ids": sorted({*known.sdk_ids, *subject.sdk_ids})})

    cases = [_case(rule, subject_key, members, subjects[(rule, subject_key)], read_api, text)
             for (rule, subject_key), members in groups.items()]
    cases.sort(key=lambda case: (SEVERITY_ORDER.get(case.severity, 9), case.first_seen_ns, case.rule, case.id))
    return cases


def _case(rule: str, subject_key: str, members: list[Finding], subject: CaseSubject,
          read_api: dict[int, tuple[str, str | None]], text: Messages) -> Case:
    members = sorted(members, key=lambda f: (f.first_seen_ns, f.id))
    reads: list[CaseRead] = []
    flows: list[CaseFlow] = []
    connects: list[CaseConnect] = []
    other: list[str] = []
    went_online = False
    packages: list[dict[str, Any]] = []   # what a static scan found of a subject seen only in the APK
    # PI types in the order they were first seen, each with the items (what its APIs read) in that order.
    categories: dict[str, dict[str, dict[str, str]]] = {}

    def note(category: str | None, api: str | None) -> None:
        if not category or category in CONNECT_CATEGORIES:
            return
        items = categories.setdefault(category, {})
        item_key = f"item.{_api_key(api)}" if api else None
        if item_key and text.has(item_key):
            label = text.both(item_key)
            items.setdefault(label["en"], label)

    for finding in members:
        evidence = finding.evidence
        if _is_connect(finding):
            destination = str(evidence.detail.get("destination") or finding.host or "")
            connects.append(CaseConnect(finding_id=finding.id, destination=destination, api=finding.api, count=finding.count,
                                        first_seen_ns=finding.first_seen_ns, last_seen_ns=finding.last_seen_ns,
                                        event_seqs=list(evidence.event_seqs)))
        elif finding.host and evidence.flow_ids:
            flows.append(CaseFlow(finding_id=finding.id, host=finding.host, category=finding.category, count=finding.count,
                                  first_seen_ns=finding.first_seen_ns, last_seen_ns=finding.last_seen_ns,
                                  flow_ids=list(evidence.flow_ids), event_seqs=list(evidence.event_seqs),
                                  encodings=list(evidence.detail.get("encodings") or []),
                                  fields=list(evidence.detail.get("fields") or []),
                                  party=evidence.detail.get("party"), consent_state=finding.consent_state))
            note(finding.category, None)
            for seq in evidence.event_seqs:
                api, category = read_api.get(seq, (None, None))
                if category == finding.category:
                    note(category, api)
        elif finding.api:
            reads.append(CaseRead(finding_id=finding.id, api=finding.api, category=finding.category, count=finding.count,
                                  first_seen_ns=finding.first_seen_ns, last_seen_ns=finding.last_seen_ns,
                                  event_seqs=list(evidence.event_seqs), consent_state=finding.consent_state,
                                  background=finding.background))
            note(finding.category, finding.api)
        else:
            # A finding about the subject as a whole (undisclosed-sdk): its detail lists what it was seen doing.
            other.append(finding.id)
            listed = [c for c in evidence.detail.get("categories") or [] if isinstance(c, str) and c not in CONNECT_CATEGORIES]
            for category in listed:
                note(category, None)
            if len(listed) == 1:
                for api in evidence.detail.get("apis") or []:
                    note(listed[0], api)
            if "connect" in (evidence.detail.get("seen_as") or []):
                went_online = True
            if not evidence.detail.get("categories") and finding.category not in SUBJECT_CATEGORIES:
                note(finding.category, None)
            if evidence.detail.get("evidence_level") == "static" and isinstance(evidence.detail.get("apk"), dict):
                packages.append(evidence.detail["apk"])

    pi = [CasePi(category=category, name=text.both(f"category.{category}") if text.has(f"category.{category}")
                 else {lang: category for lang in LANGUAGES}, items=list(items.values()))
          for category, items in categories.items()]
    hosts = list(dict.fromkeys(flow.host for flow in flows))
    connect_hosts = list(dict.fromkeys(connect.destination for connect in connects if connect.destination))
    states = sorted({f.consent_state for f in members if f.consent_state})
    first = members[0]
    count = sum(f.count for f in members)
    severity = min((f.severity for f in members), key=lambda s: SEVERITY_ORDER.get(s, 9))
    articles = first.articles
    return Case(
        id=case_id(rule, subject_key), rule=rule, title=dict(first.title), severity=severity, subject=subject, pi=pi,
        reads=reads, flows=flows, connects=connects, other=other, consent_states=states,
        destinations=list(dict.fromkeys([*hosts, *connect_hosts])), background=any(f.background for f in members),
        first_seen_ns=min(f.first_seen_ns for f in members), last_seen_ns=max(f.last_seen_ns for f in members),
        count=count, confidence=max(f.confidence for f in members), finding_ids=[f.id for f in members],
        articles=list(articles),
        sentence=_sentence(rule, dict(first.title), subject, pi, hosts, connect_hosts, states, count, text,
                           went_online=went_online or bool(connects),
                           packages=packages if len(packages) == len(members) else ()),
    )


def cases_json(cases: Sequence[Case]) -> list[dict[str, Any]]:
    return [case.model_dump(mode="json") for case in cases]
