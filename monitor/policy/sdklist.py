"""Find the SDK list in a policy's text, whatever its layout, and read each row's fields.

Layouts, each read by one extractor, all driven by the field labels of policy_words.yaml:
- tables: HTML or markdown tables as grids (header row → column roles; row- and column-spanning cells
  repeated; two-column label | value tables read as blocks);
- labelled blocks: `SDK名称：X` / `使用目的：…` / `收集个人信息类型：…` lines (labels drift: 名称：, SDK使用目的：,
  【SDK名称】, a label alone above its value, label and value separated by spaces or a tab, several fields on one
  line), or a name line (bullet, `功能（SDK名）`) followed by labelled lines; the app's own permission and feature
  lists, labelled alike, are told apart;
- flattened tables: a run of header lines, then one cell per line (merged and empty cells missing, long cells
  wrapped) — cut into rows by a Viterbi alignment of lines to columns that weighs blank lines, indentation and
  list separators; or one row per line (cells joined by spaces, tabs or pipes) — the best cut of each line;
  or numbered rows with no header, in the column order that fits them best;
- numbered prose: `1. 我们使用了“X”的SDK，…获取的用户信息是“…”` / `1）X SDK。为了…，该SDK需要获取…` / `（1）X：…`;
- introduced lists: `…以下SDK，包括：` / `We use the following third-party SDKs:` then lettered or bulleted items.
Where two extractors read the same text, the more structured one wins.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ahocorasick_rs import AhoCorasick, MatchKind

from monitor.policy.text import Cell, Document, Table
from monitor.policy.words import Vocabulary, fold

_URL = re.compile(r"https?://|www\.|\.(com|cn|net|org|html?)(/|\b)", re.I)
_COMPANY_SUFFIX = re.compile(r"(公司|集团|研究院|工作室|有限合伙|中心|银行|Inc\.?|Ltd\.?|LLC|Limited|Corporation|Corp\.?|GmbH|"
                          r"Co\.,?\s*Ltd\.?|S\.A\.|B\.V\.|AB|Pte\.?\s*Ltd\.?|Foundation|Technologies)[)）]?\s*$", re.I)
def _is_company(text: str) -> bool:
    """Ends with a company suffix that has a name before it (Facebook, Inc. is a company; Inc. alone is a fragment)."""
    match = _COMPANY_SUFFIX.search(text)
    return bool(match) and len(text[:match.start()].strip(" ,，")) >= 2


_SDKISH = re.compile(r"sdk|kit\b|插件|组件|库|推送|push|统计|分享|地图|定位|登录|登陆|支付|广告|联盟|\bcom\.[a-z]", re.I)
_STRONG_SDK = re.compile(r"sdk|kit\b|\bcom\.[a-z]|插件|组件|库$", re.I)
_PURPOSE_WORDS = re.compile(r"广告|营销|用于|提供|实现|帮助|支持|统计|推送|分享|登录|登陆|支付|定位|分析|展示|服务|功能|为了|识别|检测|"
                            r"播放|加载|上报|监测|防止|保障|便于|优化|接入|获取|完成|下发|框架|开源|工具")
# Vendors often written without 公司 in a company column (腾讯, 蚂蚁金服, Google).
_VENDOR = re.compile(r"腾讯|阿里|蚂蚁|百度|字节|巨量|华为|小米|谷歌|google|facebook|meta|apple|苹果|网易|京东|微软|microsoft|"
                     r"新浪|微博|美团|快手|极光|个推|友盟|高德|讯飞|银联|运营商|移动|联通|电信|开源|open source|square", re.I)
_PERMISSION_WORDS = re.compile(r"权限|读取|写入|获取|查看|修改|访问|检索|更改|录音|摄像头|开机启动|使用蓝牙|拨打|发送|接收|安装")
_ENUM = re.compile(r"^\s*(?:[(（]?\d{1,3}[)）.、．:：]|[(（][一二三四五六七八九十]{1,3}[)）]|[一二三四五六七八九十]{1,3}[、.．]|"
                   r"[①-⑳]|[a-zA-Z][)）.、](?=\s*\S))\s*")
_HEADING = re.compile(r"^\s*(?:\d{1,2}\s+[\u4e00-\u9fff]|第[一二三四五六七八九十\d]+[章节条部分]|[一二三四五六七八九十]{1,3}[、.．]|\d{1,2}(?:\.\d{1,2}){1,3}\.?\s|"
                      r"[(（][一二三四五六七八九十]{1,3}[)）]|#{1,6}\s)")
_LABEL_LINE = re.compile(r"^\s*(?:[*\-•·●◆■]\s*)?(?:[【\[「〔]([^】\]」〕\n]{1,32})[】\]」〕][：:]?|([^：:\n]{1,32}?)\s*[：:])\s*(.*)$")
_QUOTES = "“”\"'「」『』‘’《》"
# An unlabelled line naming a permission, a feature or a kind of information, not an SDK.
_NOT_AN_SDK = re.compile(r"权限$|功能$|信息$|^(?:相机|位置|存储|麦克风|电话|通讯录|日历|短信|定位)(?:权限)?$")
_PACKAGE = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z0-9_]+){1,}(?::[a-z0-9_.-]+)?\b", re.I)


@dataclass
class RawRow:
    """One SDK row as read: field texts as written, with offsets into Document.text."""

    name: str
    offset: int
    end: int
    layout: str
    company: str | None = None
    purpose: str | None = None
    pi_text: str | None = None
    pi_offset: int = 0
    permissions_text: str | None = None
    link: str | None = None
    platform: str | None = None
    pi_items: list[str] | None = None
    fields: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    text: str        # stripped
    offset: int      # of the first non-space character
    number: int
    indent: int = 0  # spaces before it: a rendered cell's later lines are often indented deeper than its first


def split_lines(text: str) -> list[Line]:
    lines = []
    offset = 0
    for number, raw in enumerate(text.split("\n")):
        stripped = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        lines.append(Line(stripped, offset + lead, number, len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())))
        offset += len(raw) + 1
    return lines


def _join_break(match: re.Match[str]) -> str:
    """A line break inside a wrapped name: nothing between two Chinese characters, one space between Latin parts."""
    before = match.string[match.start() - 1] if match.start() else ""
    after = match.string[match.end()] if match.end() < len(match.string) else ""
    return "" if re.match(r"[\u3000-\u9fff\uff00-\uffef]", before) and re.match(r"[\u3000-\u9fff\uff00-\uffef]", after) else " "


def clean_name(text: str) -> str:
    text = _ENUM.sub("", text, count=1).strip()
    text = text.strip(_QUOTES + " \t*•·●◆■-").rstrip("：:;；。,，")
    text = re.sub(r"[ \t]*\n\s*", _join_break, text)
    return re.sub(r"[ \t\u3000]+", " ", text).strip()


def _function_label_name(text: str) -> str:
    """`即时通讯（腾讯云即时通信IM）` names the SDK in its parentheses; `百度TTS（com.baidu.tts）` is kept whole."""
    match = re.fullmatch(r"([^（(]{2,20})[（(]([^（()）]{2,60})[)）]", text)
    if not match:
        return text
    outer, inner = match.group(1).strip(), match.group(2).strip()
    if _PACKAGE.fullmatch(inner) or "sdk" in outer.lower():
        return text
    if "sdk" in inner.lower():
        return inner  # 推送通知消息（OPPO推送SDK）
    if re.search(r"[A-Za-z]", outer):
        return text  # Alipay（支付宝）
    if re.search(r"sdk|[A-Za-z]{2,}", inner, re.I) or len(inner) >= 4:
        return inner
    return text


# ---------------------------------------------------------------------------------------------------------
# PI field → items
# ---------------------------------------------------------------------------------------------------------
_OPEN = "（([【{"
_CLOSE = "）)]】}"
_GROUP_LABEL = re.compile(r"^([^：:，,、（()）]{1,28})[：:]\s*(?=\S)")
_SEPARATORS = set("、，,；;")


def split_pi(text: str, vocab: Vocabulary) -> list[str]:
    """A PI field split at its top-level separators, parenthesised sub-lists kept with their head."""
    if text is None:
        return []
    text = text.strip()
    if not text or vocab.is_none(text) or re.match(r"^(无|未收集|不收集|不涉及)\s*[，,。；;：:]", text):
        return []
    items: list[str] = []
    depth = 0
    current: list[str] = []
    joins_next = False

    def flush() -> None:
        nonlocal joins_next
        was_condition = joins_next
        joins_next = False
        _flush(was_condition)

    def _flush(joins_next: bool) -> None:
        item = "".join(current).strip()
        current.clear()
        item = re.sub(r"^(?:以及|及|和|与|包括|包含|例如|如)\s*", "", item)
        item = re.sub(r"^(?:您授权提供的|您提供的|您的|用户的|并(?:会|将)?(?:收集|获取|采集)(?:您的)?)", "", item)
        item = re.sub(r"(?<=\S)(?:等)?(?:用于|以便|以用于)\S*$", lambda m: "等" if m.group(0).startswith("等") and False else "", item)
        group = re.match(r"^(.*?)[（(]\s*包括(.+?)[)）](.*)$", item)
        if group and (re.search(r"需要|收集|获取|采集", group.group(1)) or not group.group(1)):
            for member in split_pi(group.group(2), vocab) + split_pi(group.group(3), vocab):
                items.append(member)
            return
        wrapped = re.match(r"^[（(](.+)[)）]$", item)
        if wrapped and re.search(r"[、，,]", wrapped.group(1)):
            items.extend(split_pi(wrapped.group(1), vocab))
            return
        while (label := _GROUP_LABEL.match(item)) and not _URL.search(item[:20]):
            item = item[label.end():]
        item = item.strip(_QUOTES + " \t").rstrip("。.")
        item = item.strip(_QUOTES + " \t")
        if item and not vocab.is_none(item):
            if items and joins_next and not vocab.pi_hits(items[-1]):
                items[-1] = items[-1] + "，" + item
            else:
                items.append(item)

    for index, char in enumerate(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        if char == "\n":
            if depth > 0:
                before = current[-1] if current else ""
                after = text[index + 1] if index + 1 < len(text) else ""
                if before.isascii() and before.isalnum() and after.isascii() and after.isalnum():
                    current.append(" ")
                continue
            flush()
            continue
        if depth == 0 and char in _SEPARATORS:
            ended_condition = char in "，," and "".join(current).strip().endswith("时")
            flush()
            joins_next = ended_condition
            continue
        if depth == 0 and char == "。" and index + 1 < len(text) and text[index + 1:].strip():
            flush()
            continue
        current.append(char)
    flush()
    return items


# ---------------------------------------------------------------------------------------------------------
# Cell scoring: how well a text fits a column role (used by both flattened-table alignments)
# ---------------------------------------------------------------------------------------------------------
class CellScorer:
    def __init__(self, vocab: Vocabulary, sdk_names: set[str], key: Callable[[str], str] = fold) -> None:
        self.vocab = vocab
        self.key = key  # how sdk_names were normalised
        self.sdk_names = sdk_names
        # Short Latin keys (qq, tbs) would be found inside any word; they count only as whole names.
        self._sdk_scanner = AhoCorasick(sorted(name for name in sdk_names if len(name) >= 4 or not name.isascii()),
                                        matchkind=MatchKind.LeftmostLongest)
        self._cache: dict[tuple[str, str], float] = {}
        self._feature_cache: dict[str, tuple[int, bool, bool, int, int, bool, bool, bool, bool]] = {}

    def known_sdk(self, text: str) -> bool:
        key = self.key(text)
        return key in self.sdk_names or bool(self._sdk_scanner.find_matches_as_indexes(key))

    def score(self, text: str, role: str) -> float:
        key = (text, role)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._score(text, role)
        return cached

    def _features(self, text: str) -> tuple[int, bool, bool, int, int, bool, bool, bool, bool]:
        cached = self._feature_cache.get(text)
        if cached is None:
            # A link has a scheme or www., or is a bare domain; org.chromium.net inside a name is a package.
            is_url = bool(re.search(r"https?://|www\.", text) or re.fullmatch(r"[\w.-]+\.(?:com|cn|net|org)(?:/\S*)?", text.strip()))
            url_start = bool(re.match(r"\s*(https?://|www\.|官网|隐私|[^\s]{0,8}链接[:：])", text))
            spans = self.vocab.pi_spans(text)
            cached = self._feature_cache[text] = (
                len(text), is_url, url_start, len(spans), sum(text.count(char) for char in "、；;"),
                self.vocab.is_none(text), _is_company(text) or fold(text) in self.vocab.company_sdk,
                bool(spans) and spans[0][0] == 0, bool(spans) and spans[-1][1] >= len(text.rstrip("。.;；")))
        return cached

    def _score(self, text: str, role: str) -> float:
        text = text.strip()
        if not text:
            return 0.0
        length, is_url, url_start, pi_hits, separators, is_none, company, pi_first, pi_last = self._features(text)
        if role == "link":
            return 5.0 if (url_start or (is_url and length < 200)) else (-1.0 if is_none else -6.0)
        if url_start:
            return -6.0
        if role == "number":
            return 5.0 if re.fullmatch(r"\d{1,3}[.、．]?", text) else -8.0
        if role == "platform":
            return 4.0 if re.fullmatch(r"(android|ios|安卓|苹果|android\s*/\s*ios|ios\s*/\s*android)", text, re.I) else -6.0
        if re.fullmatch(r"\d{1,3}[.、．]?", text):
            return -6.0
        if role == "name":
            score = 1.0
            if length <= 30:
                score += 1.5
            elif length > 60:
                score -= 6.0
            else:
                score -= 1.5
            if re.search(r"(?i)(sdk|kit)$", text):
                score += 0.5  # a name ends with its SDK, a company does not begin with it
            if re.fullmatch(r"(?i)(sdk|kit|插件|组件|库|the\s*sdk)", text):
                score -= 5.0
            elif _STRONG_SDK.search(text) or self.known_sdk(text):
                score += 2.5
            elif _SDKISH.search(text):
                score += 1.0
            if re.search(r"[A-Za-z]{2,}", text):
                score += 1.0
            if separators >= 2:
                score -= 3.0
            if "，" in text or re.search(r"[\u4e00-\u9fff],", text):
                score -= 2.0  # a clause, not a name
            if length > 8 and re.search(r"为(?:用户|您)|用于|提供|帮助|实现", text):
                score -= 1.5
            if text.endswith("。"):
                score -= 3.0
            if company:
                score -= 4.0
            if pi_hits >= 2:
                score -= 2.0
            if is_none:
                score -= 4.0
            if is_url:
                score -= 5.0
            return score
        if role == "group":
            score = 1.0 if length <= 12 else -3.0
            if re.search(r"(类|服务|功能|工具)$", text):
                score += 2.0
            if re.search(r"sdk|[A-Za-z]{3,}", text, re.I):
                score -= 2.5
            if company or is_none:
                score -= 4.0
            return score
        if role == "company":
            if company:
                return 3.0 if re.match(r"(?i)sdk\b", text) else 5.0
            if is_none and length <= 4:
                return 0.5
            if length <= 16 and not separators and _VENDOR.search(text) and not _SDKISH.search(text):
                return 3.0
            if length <= 12 and not separators and not _SDKISH.search(text) and not _PURPOSE_WORDS.search(text):
                return 0.5
            return -2.0 if length <= 8 and not separators else -4.0
        if role == "purpose":
            score = 0.5 if length >= 4 else -1.0
            if _PURPOSE_WORDS.search(text):
                score += 2.0
            if pi_hits >= 3 and separators >= 2:
                score -= 2.0
            if pi_last:
                score -= 1.0  # a purpose rarely ends on a kind of PI; the PI cell after it begins there
            if company:
                score -= 3.0
            if is_none:
                score -= 1.0
            return score
        if role == "pi":
            if is_none:
                return 3.0
            score = min(5.0, 1.5 * pi_hits) + (1.0 if separators else 0.0)
            if pi_hits == 0:
                score -= 2.5
            elif pi_first and pi_last:
                score += 1.0  # a list of PI from end to end, not a sentence that mentions some
            if company:
                score -= 3.0
            perms = len(_PERMISSION_WORDS.findall(text))
            if perms > pi_hits:
                score -= 1.0
            return score
        if role == "permissions":
            if is_none:
                return 2.5
            perms = len(_PERMISSION_WORDS.findall(text))
            score = min(5.0, 1.5 * perms) + (1.0 if separators else 0.0) - (2.5 if perms == 0 else 0.0)
            if pi_hits > perms:
                score -= 1.0
            return score
        if role == "package":
            return 4.0 if _PACKAGE.search(text) and length <= 80 else -4.0
        return 0.0  # "other": anything, weakly


# ---------------------------------------------------------------------------------------------------------
# Extractors
# ---------------------------------------------------------------------------------------------------------
class Extractor:
    def __init__(self, document: Document, vocab: Vocabulary, scorer: CellScorer) -> None:
        self.document = document
        self.vocab = vocab
        self.scorer = scorer
        self.lines = split_lines(document.text)
        self.token_score = 0.0
        # Offsets of SDK-list headers under which no row could be read (an empty table, or rows in a picture).
        self.empty_headers: list[tuple[int, str]] = []

    # -- tables --------------------------------------------------------------------------------------------
    def from_tables(self) -> list[RawRow]:
        rows: list[RawRow] = []
        for table in self.document.tables:
            found = self._table(table)
            header = self._table_header(table)
            if not found and header is not None and "name" in header[1]:
                self.empty_headers.append((table.offset, " / ".join(cell.text for cell in table.rows[header[0]])))
            rows.extend(found)
        return rows

    def _table_header(self, table: Table) -> tuple[int, list[str | None]] | None:
        for index, row in enumerate(table.rows[:4]):
            candidate = [self.vocab.role(cell.text) if len(cell.text) <= 32 else None for cell in row]
            named = [role for role in candidate if role and role != "link"]
            if (candidate.count(None) <= len(candidate) // 2 and len(candidate) - candidate.count(None) >= 2
                    and ("name" in candidate or "pi" in candidate) and len(named) == len(set(named))):
                return index, candidate
        return None

    def _table(self, table: Table) -> list[RawRow]:
        if table.rows and max(len(row) for row in table.rows) == 2:
            key_value = self._key_value_table(table)
            if key_value:
                return key_value
        header = self._table_header(table)
        if header is None:
            return self._key_value_table(table)
        header_index, roles = header
        if "name" not in roles:
            return []
        rows: list[RawRow] = []
        for row in table.rows[header_index + 1:]:
            if not row or all(not cell.text for cell in row):
                continue
            cells = list(row)
            if len(cells) < len(roles):  # a row-spanning cell on the left was not repeated
                cells = [Cell("", cells[0].offset)] * (len(roles) - len(cells)) + cells
            values: dict[str, Cell] = {}
            for role, cell in zip(roles, cells):
                if role and role not in values:
                    values[role] = cell
            name_cell = values.get("name")
            if name_cell is None or not clean_name(name_cell.text):
                continue
            if name_cell.carried and rows and rows[-1].offset == name_cell.offset:
                # The SDK's name spans several rows (one per scene): its PI is the union of theirs.
                pi_cell = values.get("pi")
                if pi_cell is not None and not pi_cell.carried and pi_cell.text:
                    rows[-1].pi_text = f"{rows[-1].pi_text}\n{pi_cell.text}" if rows[-1].pi_text else pi_cell.text
                rows[-1].end = max(rows[-1].end, max(cell.offset + len(cell.text) for cell in row))
                continue
            raw = RawRow(name=clean_name(name_cell.text.replace("\n", " ")), offset=name_cell.offset,
                         end=max(cell.offset + len(cell.text) for cell in row), layout="table")
            self._fill_fields(raw, values)
            rows.append(raw)
        return rows

    def _key_value_table(self, table: Table) -> list[RawRow]:
        if not table.rows or max(len(row) for row in table.rows) != 2:
            return []
        lines = [f"{row[0].text}：{row[1].text}" for row in table.rows if len(row) == 2]
        offsets = [row[0].offset for row in table.rows if len(row) == 2]
        labelled = [self.vocab.role(row[0].text) for row in table.rows if len(row) == 2]
        if sum(1 for role in labelled if role) < max(2, len(labelled) // 2):
            return []
        return self._blocks([Line(text, offset, -1) for text, offset in zip(lines, offsets)], layout="table")

    def _fill_fields(self, raw: RawRow, values: dict[str, Cell]) -> None:
        for role, cell in values.items():
            text = cell.text.strip()
            if role == "pi":
                # A PI cell may hold labelled lines (收集个人信息类型：…<br>使用目的：…): only the PI part counts.
                parts = [self._label(line) for line in text.split("\n")]
                if any(part and part[0] == "pi" for part in parts):
                    text = "\n".join(part[1] for part in parts if part and part[0] == "pi")
                raw.pi_text, raw.pi_offset = text, cell.offset
            elif role == "company":
                raw.company = re.sub(r"\s+", " ", text) or None
            elif role == "purpose":
                raw.purpose = re.sub(r"\s+", " ", text) or None
            elif role == "permissions":
                raw.permissions_text = text or None
            elif role == "link":
                raw.link = text or None
            elif role == "platform":
                raw.platform = text or None
            elif role == "package":
                raw.fields["package"] = text

    # -- labelled blocks -----------------------------------------------------------------------------------
    def _label(self, text: str) -> tuple[str, str] | None:
        match = _LABEL_LINE.match(_ENUM.sub("", text, count=1))
        if not match:
            return self._spaced_label(text)
        label = match.group(1) or match.group(2)
        if re.match(r"https?$", label.strip(), re.I):
            return None
        role = self.vocab.role(label)
        if role is None:
            return None
        return role, match.group(3).strip()

    def _spaced_label(self, text: str) -> tuple[str, str] | None:
        """`SDK名称 友盟统计` / `SDK名称\t友盟统计`: a two-column label | value table copied as text. Only a whole known
        label counts, and not when the rest is more labels (a one-line header)."""
        match = re.match(r"^\s*(\S{2,12})[ \t\u3000]+(\S.*)$", text)
        if not match:
            return None
        role = self.vocab.role(match.group(1), loose=False)
        if role not in {"name", "company", "purpose", "pi", "permissions", "link", "package"}:
            return None
        value = match.group(2).strip()
        first = re.split(r"[ \t\u3000|]+", value)[0]
        if self.vocab.role(first, loose=False) is not None:
            return None
        return role, value

    def _unknown_label(self, text: str) -> bool:
        """`SDK版本：4.2` inside a block: a field we do not read, not the end of the block."""
        match = _LABEL_LINE.match(_ENUM.sub("", text, count=1))
        return bool(match) and len(match.group(1) or match.group(2) or "") <= 24 and not _URL.match(text)

    _INLINE_LABEL = re.compile(r"(?:^|(?<=[；;，,。|/\s]))\s*([^：:；;，,。|/\s]{1,32}?)\s*[：:](?!//)")

    def _split_labels(self, line: Line) -> list[Line]:
        """`SDK名称：友盟；使用目的：统计；收集个人信息：IMEI` on one line → one line per labelled field."""
        text = line.text
        if text.count("：") + text.count(":") < 2:
            return [line]
        enumerator = _ENUM.match(text)
        if enumerator:
            line = Line(text[enumerator.end():], line.offset + enumerator.end(), line.number)
            text = line.text
        starts = [match.start(1) for match in self._INLINE_LABEL.finditer(text) if self.vocab.role(match.group(1)) is not None]
        if len(starts) < 2:
            return [line]
        if starts[0] != 0:
            starts.insert(0, 0)
        pieces = []
        for begin, end in zip(starts, starts[1:] + [len(text)]):
            piece = text[begin:end].rstrip().rstrip("；;，,|/").rstrip()
            if piece:
                pieces.append(Line(piece, line.offset + begin, line.number))
        return pieces

    def from_labelled_blocks(self) -> list[RawRow]:
        lines = [piece for line in self.lines for piece in self._split_labels(line)]
        return self._blocks(lines, layout="labelled")

    def _bare_label(self, text: str) -> str | None:
        """A line that is only a field label, its value on the next line (`SDK名称` / `友盟`)."""
        if len(text) > 16 or _LABEL_LINE.match(text):
            return None
        role = self.vocab.role(text, loose=False)
        return role if role in {"name", "company", "purpose", "pi", "permissions", "link"} else None

    def _blocks(self, lines: list[Line], *, layout: str) -> list[RawRow]:
        rows: list[RawRow] = []
        block: dict[str, tuple[str, int]] = {}
        feature_block = False  # the app's own feature or permission list, not an SDK
        block_end = 0
        previous_plain: Line | None = None
        pending_role: tuple[str, int] | None = None

        def close() -> None:
            nonlocal block, feature_block
            if feature_block:
                block, feature_block = {}, False
                return
            if "name" in block and len(block) >= 2 and any(role in block for role in ("pi", "purpose", "company", "permissions")):
                name, offset = block["name"]
                name = clean_name(name)
                if name and len(name) <= 80:
                    raw = RawRow(name=name, offset=offset, end=block_end, layout=layout)
                    values = {role: Cell(text, where) for role, (text, where) in block.items() if role != "name"}
                    self._fill_fields(raw, values)
                    rows.append(raw)
            block = {}

        for line in lines:
            text = line.text
            if not text:
                continue
            if pending_role is not None:
                role, _ = pending_role
                pending_role = None
                if self._label(text) is None and self._bare_label(text) is None:
                    block[role] = (text, line.offset)
                    block_end = line.offset + len(text)
                    continue
                if block.get(role, ("", 0))[0] == "":
                    block.pop(role, None)  # a run of bare labels is a table header, not a field
            labelled = self._label(text)
            if labelled is None and (bare := self._bare_label(text)) is not None:
                labelled = (bare, "")
            if labelled is None:
                if block and self._unknown_label(text):
                    block_end = line.offset + len(text)
                    continue
                # A wrapped value continues the previous field; a short plain line may be the next block's name.
                if block and block_end and self._adjacent(block_end, line.offset):
                    last_role = list(block)[-1]
                    old, where = block[last_role]
                    if sum(old.count(c) for c in "（(") > sum(old.count(c) for c in "）)"):  # an open parenthesis
                        block[last_role] = (old + "\n" + text, where)
                        block_end = line.offset + len(text)
                        continue
                if block and len(text) <= 60 and self._is_name_line(text):
                    close()
                    previous_plain = line
                    continue
                if block and block_end and self._adjacent(block_end, line.offset):
                    last_role = list(block)[-1]
                    is_link = bool(re.match(r"\s*(?:https?://|www\.)", text))
                    if (last_role == "link" or (last_role in {"pi", "purpose", "permissions"} and not is_link)) \
                            and not self._is_name_line(text):
                        old, where = block[last_role]
                        block[last_role] = (old + "\n" + text, where)
                        block_end = line.offset + len(text)
                        continue
                if block and self._unknown_label(text):
                    block_end = line.offset + len(text)
                    continue
                if block:
                    close()
                previous_plain = line
                continue
            role, value = labelled
            if role == "feature":
                # 功能名称：… starts the app's own entry; 是否询问：… marks the entry it is in as a permission's.
                if "名称" in text.split("：")[0].split(":")[0] and block and not feature_block:
                    close()
                feature_block = True
                block_end = line.offset + len(text)
                continue
            if role in {"group", "number", "other"}:
                block_end = line.offset + len(text)
                continue
            if role in block and role != "name" and "name" in block and block[role][0]:
                # 使用目的 then 使用场景, 官网链接 then 隐私链接: a second field of a kind the block already holds.
                old, where = block[role]
                block[role] = (f"{old}\n{value}" if value else old, where)
                block_end = line.offset + len(text)
                previous_plain = None
                continue
            if role == "name" or role in block:
                close()
            if not block and role != "name":
                if (previous_plain is not None and self._is_name_line(previous_plain.text)
                        and not _NOT_AN_SDK.search(clean_name(previous_plain.text))
                        and ((rows and previous_plain.offset - rows[-1].end < 400) or self._names_an_sdk(previous_plain, lines))):
                    name = _function_label_name(clean_name(previous_plain.text))
                    block["name"] = (name, previous_plain.offset + max(0, previous_plain.text.find(name)))
            value_offset = line.offset + (text.find(value) if value else len(text))
            if not value:
                pending_role = (role, value_offset)
                block[role] = ("", value_offset)
            else:
                block[role] = (value, value_offset)
            block_end = line.offset + len(text)
            previous_plain = None
        close()
        return rows

    def _adjacent(self, end: int, start: int) -> bool:
        """Only spaces and at most one line break between: the next line of the same field, however indented."""
        between = self.document.text[end:start]
        return 0 <= start - end <= 200 and between.count("\n") <= 1 and not between.strip()

    def _names_an_sdk(self, line: Line, lines: list[Line]) -> bool:
        """An unlabelled line above labelled fields names an SDK when it says SDK or a known SDK name, or sits in a
        section whose heading speaks of an SDK list (not, say, the app's permission list)."""
        name = clean_name(line.text)
        if _STRONG_SDK.search(name) or self.scorer.known_sdk(name):
            return True
        position = next((index for index, candidate in enumerate(lines) if candidate.offset == line.offset), None)
        if position is None:
            return False
        for earlier in reversed(lines[max(0, position - 80):position]):
            if self.vocab.heading_pattern.search(fold(earlier.text)):
                return True
            if _HEADING.match(earlier.text) or (len(earlier.text) <= 40 and re.search(r"附录|附件|清单|目录|列表", earlier.text)):
                return False
        return False

    def _is_name_line(self, text: str) -> bool:
        if re.search(r"[：:]", text.replace("://", "")) or re.match(r"\s*[【\[「〔]", text):
            return False  # `X：Y` is a field (or a sentence introducing a list), never a bare name
        name = clean_name(text)
        # A package in a name (Chromium(org.chromium.net)) looks like a domain: only a scheme or www. is a link.
        if not name or len(name) > 60 or name.endswith(("。", "：", ":")) or re.search(r"https?://|www\.", name):
            return False
        if self._label(text) is not None:
            return False
        if re.search(r"[。；;]", name) or name.count("，") >= 2:
            return False
        return self.scorer.score(name, "name") >= 2.0

    # -- flattened tables ----------------------------------------------------------------------------------
    def from_flattened(self) -> list[RawRow]:
        rows: list[RawRow] = []
        lines = [line for line in self.lines if line.text]
        index = 0
        while index < len(lines):
            header = self._header_run(lines, index)
            if header is None:
                index += 1
                continue
            roles, after = header
            body_end = self._body_end(lines, after)
            body = lines[after:body_end]
            found: list[RawRow] = []
            if body and self._one_row_per_line(body, roles):
                found = self._rows_by_tokens(body, roles)
            elif body:
                found = self._rows_by_lines(body, roles)
            if not found:
                self.empty_headers.append((lines[index].offset, " / ".join(line.text for line in lines[index:after])))
            rows.extend(found)
            index = max(body_end, index + 1)
        return rows

    def _header_run(self, lines: list[Line], start: int) -> tuple[list[str], int] | None:
        first = lines[start].text
        if len(first) > 120 or (len(first) > 32 and " " not in first and "|" not in first and "\t" not in first):
            return None
        # A header written on one line: cells separated by spaces, tabs or pipes.
        if len(first) <= 120 and not _LABEL_LINE.match(first):
            pieces = [piece for piece in re.split(r"\s*[|\t]\s*|\s{1,}", first.strip("| ")) if piece]
            if len(pieces) >= 3:
                roles = [self.vocab.role(piece, loose=False) for piece in pieces]
                if None not in roles and "name" in roles and ("pi" in roles or "purpose" in roles):
                    return roles, start + 1  # type: ignore[return-value]
        roles = []
        index = start
        while index < len(lines):
            text = lines[index].text
            if len(text) > 32 or _LABEL_LINE.match(text) and not text.endswith(("：", ":")):
                break
            role = self.vocab.role(text)
            if (role is None and len(roles) >= 2 and "other" not in roles[-2:] and len(text) <= 10
                    and not re.search(r"[。，,；;、：:]", text) and not self.scorer.known_sdk(text) and not _STRONG_SDK.search(text)
                    and index + 1 < len(lines) and self.vocab.role(lines[index + 1].text) not in (None, "name")):
                # A column we have no word for, after two we know and before another (是否必要, 场景说明…); a label,
                # value, label, value run (bare labels over values) is not a header.
                role = "other"
            if role is None or (role in roles and role not in {"link", "other"}):
                break
            roles.append(role)
            index += 1
        if len(roles) >= 3 and "name" in roles and ("pi" in roles or "purpose" in roles) and len(set(roles)) >= 3:
            return roles, index
        return None

    def _body_end(self, lines: list[Line], start: int) -> int:
        index = start
        while index < len(lines):
            text = lines[index].text
            if index > start and self._header_run(lines, index) is not None:
                return index
            if _HEADING.match(text) and len(text) <= 60 and not re.search(r"[、；;]", text) and index > start:
                return index
            # Prose: a long line with sentences in it is past the table.
            if len(text) > 160 and text.count("。") >= 2 and not re.search(r"https?://", text):
                return index
            index += 1
        return index

    def _one_row_per_line(self, body: list[Line], roles: list[str]) -> bool:
        sample = body[: min(6, len(body))]
        delimited = sum(1 for line in sample if line.text.count("\t") >= len(roles) - 2 >= 1 or line.text.count("|") >= len(roles) - 1)
        if delimited >= max(1, (len(sample) * 2) // 3):
            return True
        wide = sum(1 for line in sample if len(line.text.split(" ")) >= max(3, len(roles) - 2) and len(line.text) >= 40)
        return wide >= max(1, (len(sample) * 2) // 3)

    def _rows_by_lines(self, body: list[Line], roles: list[str]) -> list[RawRow]:
        """Viterbi: each line is one column's cell (or the rest of the cell above); columns come in header order,
        merged or empty cells are skipped at a cost; every row must hold a name."""
        columns = len(roles)
        name_column = roles.index("name")
        skip, wrap, new_row, nameless = 1.2, 3.0, 0.5, 6.0
        NEG = float("-inf")
        # state: (column, name seen in this row)
        best: list[dict[tuple[int, bool], float]] = []
        back: list[dict[tuple[int, bool], tuple[int, bool] | None]] = []
        starts: list[dict[tuple[int, bool], bool]] = []  # did the best path start a new row at this line?
        heavy = {"name", "company", "number", "group"}
        # Blank lines: where a table's rows are set apart by a run of them, that run says "new row" and its absence
        # says "same cell or same row" (an app-store label pasted into one cell runs over many unbroken lines).
        gaps = [0] + [max(0, body[index].number - body[index - 1].number - 1) for index in range(1, len(body))]
        widest = min(3, max(gaps)) if len(gaps) > 1 else 0
        separator = widest if widest and sum(1 for gap in gaps if gap >= widest) * 3 <= len(body) else 0
        for position, line in enumerate(body):
            gap = gaps[position]
            if separator:
                row_bias = -1.5 if gap >= separator else 1.0
                wrap_bias = 2.0 if gap >= separator else (-0.9 if gap == 0 else 0.0)
            else:
                row_bias = wrap_bias = 0.0
            scores = [self.scorer.score(line.text, roles[column]) for column in range(columns)]
            # A line after one that ends in a list separator or an open parenthesis is the rest of that cell.
            previous_text = body[position - 1].text if position else ""
            glued = bool(previous_text) and (previous_text.endswith(tuple("、，,；;（(/&")) or
                                             previous_text.count("（") + previous_text.count("(") >
                                             previous_text.count("）") + previous_text.count(")")
                                             or (gap == 0 and line.indent >= 8 and line.indent >= body[position - 1].indent))
            elsewhere = 4.0 if glued else 0.0
            current: dict[tuple[int, bool], float] = {}
            pointer: dict[tuple[int, bool], tuple[int, bool] | None] = {}
            started: dict[tuple[int, bool], bool] = {}

            def offer(state: tuple[int, bool], score: float, origin: tuple[int, bool] | None, new: bool) -> None:
                if score > current.get(state, NEG):
                    current[state], pointer[state], started[state] = score, origin, new

            if position == 0:
                for column in range(columns):
                    offer((column, column == name_column), scores[column] - skip * column, None, True)
            else:
                previous = best[-1]
                # A new row: the best way to end the row above, whatever the column the new one starts in.
                ending = max(((prev_score - skip * (columns - 1 - prev_column) * 0.8 - (0 if prev_seen else nameless), (prev_column, prev_seen))
                              for (prev_column, prev_seen), prev_score in previous.items()), default=None)
                for column in range(columns):
                    if ending is not None:
                        offer((column, column == name_column),
                              ending[0] + scores[column] - new_row - skip * column - elsewhere - row_bias, ending[1], True)
                for (prev_column, prev_seen), prev_score in previous.items():
                    # The cell above continues on this line.
                    cost = -1.0 if glued else wrap * (2.0 if roles[prev_column] in heavy else 1.0) + wrap_bias
                    offer((prev_column, prev_seen), prev_score + 0.3 * scores[prev_column] - cost, (prev_column, prev_seen), False)
                # The same row goes on in a later column (those between were empty or merged): the best earlier state
                # is kept as a running maximum of score + skip·(column+1), so each column is looked at once.
                running: dict[bool, tuple[float, tuple[int, bool]]] = {}
                for column in range(columns):
                    for prev_seen, (value, origin) in running.items():
                        offer((column, prev_seen or column == name_column), value + scores[column] - skip * column - elsewhere,
                              origin, False)
                    for prev_seen in (False, True):
                        prev_score = previous.get((column, prev_seen))
                        if prev_score is not None:
                            value = prev_score + skip * (column + 1)
                            if prev_seen not in running or value > running[prev_seen][0]:
                                running[prev_seen] = (value, (column, prev_seen))
            best.append(current)
            back.append(pointer)
            starts.append(started)
        if not best or not best[-1]:
            return []
        state = max(best[-1], key=lambda key: best[-1][key] - (0 if key[1] else nameless))
        path: list[tuple[int, bool]] = []
        new_rows: list[bool] = []
        for position in range(len(body) - 1, -1, -1):
            path.append(state)
            new_rows.append(starts[position][state])
            origin = back[position][state]
            if origin is None:
                break
            state = origin
        path.reverse()
        new_rows.reverse()
        # Cut into rows where the alignment started them; a line that stays in its column continues the cell.
        rows: list[RawRow] = []
        current_cells: dict[str, tuple[str, int]] = {}
        previous_column = -1

        filled_needed = 2 if columns >= 4 else 1

        def close(end: int) -> None:
            others = [role for role, (text, _) in current_cells.items() if role not in {"name", "number", "group"} and text.strip()]
            if "name" in current_cells and len(others) >= filled_needed:
                name, offset = current_cells["name"]
                name = clean_name(name)
                if name:
                    raw = RawRow(name=name, offset=offset, end=end, layout="flattened")
                    self._fill_fields(raw, {role: Cell(text, where) for role, (text, where) in current_cells.items() if role != "name"})
                    rows.append(raw)

        for line, (column, _seen), starts_row in zip(body, path, new_rows):
            role = roles[column]
            continues = not starts_row and column == previous_column and role in current_cells
            if starts_row:
                close(line.offset)
                current_cells = {}
            if continues:
                text, where = current_cells[role]
                current_cells[role] = (text + "\n" + line.text, where)
            else:
                current_cells[role] = (line.text, line.offset)
            previous_column = column
        if body:
            close(body[-1].offset + len(body[-1].text))
        return self._consistent(rows)

    def _consistent(self, rows: list[RawRow]) -> list[RawRow]:
        """Drop rows that lack the cells every row naming a known SDK has (its company, its link): text pasted
        into a cell (an app-store privacy label) can look like rows of its own."""
        sure = [row for row in rows if _STRONG_SDK.search(row.name) or self.scorer.known_sdk(row.name)]
        if len(sure) < 3:
            return rows
        usual = [field for field in ("company", "link", "pi_text")
                 if sum(1 for row in sure if getattr(row, field)) >= 0.9 * len(sure)]
        kept = []
        for row in rows:
            lacking = sum(1 for field in usual if not getattr(row, field))
            if lacking >= 2 and row not in sure:
                continue
            kept.append(row)
        return kept

    def _rows_by_tokens(self, body: list[Line], roles: list[str]) -> list[RawRow]:
        """One table row per line, cells joined by single spaces (and names with spaces in them): choose the cut
        into cells and their columns that fits best; a double space is an empty cell."""
        rows: list[RawRow] = []
        columns = len(roles)
        skip = 1.5
        self.token_score = 0.0
        for line in body:
            # Cells copied from a spreadsheet are tab-separated and a text table may use pipes: those delimiters
            # are the cells; only a space-joined row needs the cut chosen.
            if "\t" in line.text or line.text.count("|") >= 2:
                tokens = [token.strip() for token in re.split(r"\t|\|", line.text.strip().strip("|"))]
                if len(tokens) == len(roles):
                    cells = {}
                    cursor = 0
                    for role, token in zip(roles, tokens):
                        at = line.text.find(token, cursor) if token else cursor
                        cursor = max(cursor, at + len(token))
                        if token and role not in cells:
                            cells[role] = Cell(token, line.offset + max(at, 0))
                    name_cell = cells.get("name")
                    if name_cell is not None and clean_name(name_cell.text):
                        raw = RawRow(name=clean_name(name_cell.text), offset=name_cell.offset, end=line.offset + len(line.text),
                                     layout="row-per-line")
                        self._fill_fields(raw, {role: cell for role, cell in cells.items() if role != "name"})
                        rows.append(raw)
                    continue
            tokens = line.text.split(" ")
            if len([token for token in tokens if token]) < 3:
                if rows:
                    break  # past the table
                continue
            positions = []
            cursor = 0
            for token in tokens:
                positions.append(cursor)
                cursor += len(token) + 1
            count = len(tokens)
            NEG = float("-inf")
            # best[i][c]: best score covering tokens[:i] with the last cell in column c (c = -1: nothing yet)
            best = [[NEG] * (columns + 1) for _ in range(count + 1)]
            back: list[list[tuple[int, int] | None]] = [[None] * (columns + 1) for _ in range(count + 1)]
            best[0][0] = 0.0  # index 0 ↔ column -1
            span_scores: dict[tuple[int, int], list[float]] = {}
            for start in range(count):
                for end in range(start + 1, min(count, start + 40) + 1):
                    if end - start > 1 and "" in tokens[start:end]:
                        break
                    text = " ".join(tokens[start:end])
                    span_scores[(start, end)] = [self.scorer.score(text, role) if text else 0.0 for role in roles]
            for start in range(count):
                for last in range(columns + 1):
                    here = best[start][last]
                    if here == NEG:
                        continue
                    for end in range(start + 1, min(count, start + 40) + 1):
                        scores = span_scores.get((start, end))
                        if scores is None:
                            break
                        row_best = best[end]
                        row_back = back[end]
                        for column in range(last, columns):  # `last` is column+1, so this is every later column
                            total = here + scores[column] - skip * (column - last)
                            if total > row_best[column + 1]:
                                row_best[column + 1] = total
                                row_back[column + 1] = (start, last)
            end_column = max(range(columns + 1), key=lambda c: best[count][c] - skip * (columns - c))
            if best[count][end_column] == NEG:
                continue
            self.token_score += best[count][end_column] - skip * (columns - end_column)
            cells: dict[str, Cell] = {}
            position, column = count, end_column
            while position > 0 and back[position][column] is not None:
                start, last = back[position][column]  # type: ignore[misc]
                text = " ".join(tokens[start:position]).strip()
                if text:
                    cells[roles[column - 1]] = Cell(text, line.offset + positions[start])
                position, column = start, last
            name_cell = cells.get("name")
            if name_cell is None or not clean_name(name_cell.text) or len(cells) < 3:
                if rows:
                    break
                continue
            raw = RawRow(name=clean_name(name_cell.text), offset=name_cell.offset, end=line.offset + len(line.text), layout="row-per-line")
            pi_cell = cells.get("pi")
            self._fill_fields(raw, {role: cell for role, cell in cells.items() if role != "name"})
            if pi_cell is not None:
                raw.pi_items = split_pi(pi_cell.text, self.vocab)
            rows.append(raw)
        return rows

    # -- numbered rows with no header ----------------------------------------------------------------------
    _NUMBERED_ROW = re.compile(r"^\d{1,3}[.、．]?\s+\S")
    _HEADERLESS_ORDERS: tuple[tuple[str, ...], ...] = (
        ("number", "name", "company", "purpose", "pi", "link"),
        ("number", "name", "purpose", "pi", "company", "link"),
        ("number", "name", "purpose", "company", "pi", "link"),
        ("number", "name", "company", "purpose", "permissions", "pi", "link"),
        ("number", "name", "purpose", "pi", "link"),
    )

    def from_headerless_rows(self) -> list[RawRow]:
        """`1 友盟统计SDK 北京…有限公司 统计分析 设备标识符、IP地址 https://…` lines under an SDK-list heading, with no
        header: the column order that fits the rows best is chosen among the orders SDK lists use."""
        rows: list[RawRow] = []
        lines = [line for line in self.lines if line.text]
        index = 0
        while index < len(lines):
            run: list[Line] = []
            while (index < len(lines) and self._NUMBERED_ROW.match(lines[index].text) and len(lines[index].text.split()) >= 4
                   and self._looks_like_row(lines[index].text)):
                run.append(lines[index])
                index += 1
            if len(run) >= 2 and self._near_list_heading(lines, index - len(run)):
                best_order: list[str] = []
                best_score = float("-inf")
                sample = run[:4]  # the order is chosen on a few rows, then the whole run is read in it
                for order in self._HEADERLESS_ORDERS:
                    found = self._rows_by_tokens(sample, list(order))
                    if found and self.token_score / len(sample) > best_score:
                        best_order, best_score = list(order), self.token_score / len(sample)
                if best_score > 6.0:
                    for row in self._rows_by_tokens(run, best_order):
                        row.layout = "numbered rows"
                        rows.append(row)
            index += 1 if not run else 0
        return rows

    def _looks_like_row(self, text: str) -> bool:
        """A table row has a link or a company and no sentence in it; prose numbered the same way does not."""
        if len(text) > 400 or re.search(r"[。！？][^\s]", text.rstrip("。")):
            return False
        return bool(re.search(r"https?://|www\.", text)) or bool(re.search(r"公司|Inc\.?|Ltd\.?|LLC", text))

    def _near_list_heading(self, lines: list[Line], start: int) -> bool:
        window = " ".join(line.text for line in lines[max(0, start - 6):start + 2])
        return bool(self.vocab.heading_pattern.search(fold(window))) or "sdk" in window.lower()

    # -- numbered prose ------------------------------------------------------------------------------------
    _QUOTED_SDK = re.compile(r"使用了\s*[“\"「『]([^”\"」』]{1,60})[”\"」』]?\s*的?\s*(?:SDK|sdk|软件开发工具包)")
    _HEAD_SDK = re.compile(r"^([^。，,；;：:]{2,50}?(?:SDK|sdk|Sdk|Kit|kit|插件|组件))\s*[。．.:：]")
    _USED_SDK = re.compile(r"(?:使用了|集成了|接入了|嵌入了|引入了)(?:[^，。,]{0,12}的)?\s*([A-Za-z0-9\u4e00-\u9fff][^，。,；;“”\"]{0,40}?(?:SDK|sdk))")
    _PI_AFTER = re.compile(r"(?:获取的用户信息是|获取的个人信息(?:是|为|包括)|收集的个人信息(?:是|为|包括)|需要(?:从[^，。]{1,10})?获取(?:您的|用户的)?|"
                           r"需要(?:采集|收集)(?:您的|用户的)?|(?:会|将|可能)?(?:收集|获取|采集)(?:您的|用户的)|获取的信息(?:是|为|包括)|"
                           r"收集(?:的)?信息(?:包括|为|是)|其中，?(?:获取|收集|采集)了)[:：]?")
    _PI_STOP = re.compile(r"，?\s*(?:用于|以便|以实现|以用于|从而|来实现|以保障|以提供)|。|；|，(?:收集的数据|仅|并|该|其中|这些|此)")
    _PERMS_AFTER = re.compile(r"(?:使用到的权限是|调用的[^，。]{0,12}权限包括|使用的权限(?:是|为|包括)|申请的权限(?:是|为|包括))[:：]?")
    _NO_PI = re.compile(r"不(?:会)?(?:获取|收集|采集|涉及)(?:您的)?(?:任何)?(?:个人)?信息|不会采集")

    _LIST_INTRO = re.compile(r"(?:SDK|sdk|软件开发工具包)[^。]{0,30}(?:包括|如下|有|为)?\s*[:：]\s*$|"
                             r"(?:third[- ]party|following)\s+(?:SDKs?|libraries|services)[^.]{0,60}:\s*$", re.I)
    _BULLET = re.compile(r"^\s*[-•●·◆■▪*]\s+")
    _ITEM_PURPOSE = re.compile(r"(?:用于|used (?:for|to)|for)\s*([^；;。,，)）]+)", re.I)
    _ITEM_PI = re.compile(r"(?:collects?|收集|获取|采集|including|包括)\s*(?:the\s+|您的)?", re.I)

    def from_intro_lists(self) -> list[RawRow]:
        """A sentence introducing SDKs (`…以下SDK，包括：`, `We use the following third-party SDKs:`), then one item
        per SDK, lettered or bulleted (`a) X SDK（用于…）；`, `- Firebase (Google LLC): analytics; collects …`)."""
        rows: list[RawRow] = []
        lines = self.lines
        index = 0
        while index < len(lines):
            intro = lines[index].text
            if len(intro) > 200 or not self._LIST_INTRO.search(intro):
                index += 1
                continue
            says_none = bool(re.search(r"不需要获取用户信息|不(?:会)?(?:获取|收集)(?:用户|个人)?信息|不需要获取(?:用户|个人)信息|"
                                       r"do(?:es)? not collect", intro, re.I))
            numbered_intro = bool(re.match(r"\s*\d", intro))
            index += 1
            while index < len(lines):
                line = lines[index]
                if not line.text:
                    index += 1
                    continue
                marker = _ENUM.match(line.text) or self._BULLET.match(line.text)
                if marker is not None and numbered_intro and re.match(r"\s*[(（]?\d", line.text):
                    break  # the next item of the numbered list the introduction belongs to
                if marker is None:
                    if not (rows and re.match(r"^[^（(。]{2,60}[（(]\s*用于[^）)]*[）)]\s*[。；;]?$", line.text)):
                        break
                    skip = 0  # the last item of a list is sometimes left without its letter
                else:
                    skip = marker.end()
                text, end = line.text, line.offset + len(line.text)
                index += 1
                while (index < len(lines) and lines[index].text and not _ENUM.match(lines[index].text)
                       and not self._BULLET.match(lines[index].text) and not re.search(r"[；;。.]$", text)):
                    text += " " + lines[index].text
                    end = lines[index].offset + len(lines[index].text)
                    index += 1
                raw = self._list_item(text[skip:].strip(), line.offset + skip, end, says_none)
                if raw is not None:
                    rows.append(raw)
        return rows

    def _list_item(self, body: str, offset: int, end: int, says_none: bool) -> RawRow | None:
        match = re.match(r"^(.{2,80}?)\s*(?:[（(]([^）)]*)[)）]|[:：]|[,，;；]|\s[-–—]\s|$)", body)
        if not match:
            return None
        name = clean_name(match.group(1))
        inside = (match.group(2) or "").strip()
        if not name or len(name) > 80:
            return None
        if not (_STRONG_SDK.search(name) or self.scorer.known_sdk(name) or re.search(r"[A-Za-z]{3,}", name)):
            return None
        raw = RawRow(name=name, offset=offset, end=end, layout="list", pi_items=[] if says_none else None)
        if inside and _is_company(inside):
            raw.company = inside
        elif inside:
            raw.purpose = re.sub(r"^(?:用于|功能[:：为是]?)\s*", "", inside)
        rest = body[match.end():]
        if raw.purpose is None and (purpose := self._ITEM_PURPOSE.search(rest)):
            raw.purpose = purpose.group(1).strip()
        if not says_none and (trigger := self._ITEM_PI.search(rest)):
            segment = re.split(r"[。.]\s|[；;]\s*(?:used|用于)", rest[trigger.end():])[0]
            if self.vocab.pi_hits(segment):
                raw.pi_items = split_pi(re.sub(r"\s+and\s+|\s+or\s+", "、", segment).rstrip("。.;；"), self.vocab)
        return raw

    def from_prose(self) -> list[RawRow]:
        rows: list[RawRow] = []
        last_row_line = -10
        for line in self.lines:
            text = line.text
            if len(text) < 8 or len(text) > 1500:
                continue
            enumerated = _ENUM.match(text)
            body = text[enumerated.end():] if enumerated else text
            name = None
            if match := self._QUOTED_SDK.search(body):
                name = match.group(1).strip()
            elif match := self._HEAD_SDK.match(body):
                if enumerated or line.number - last_row_line <= 3:
                    name = match.group(1).strip()
            elif enumerated and (match := self._USED_SDK.search(body)) and match.start() < 80:
                name = match.group(1).strip()
            elif enumerated and (match := re.match(r"^([^。，,；;：:]{2,40})[。．:：]", body)):
                heading = match.group(1).strip()
                # A heading names an SDK when it follows another SDK row, or is an SDK's known name.
                if (line.number - last_row_line <= 3 and re.search(r"sdk", body, re.I)) or self.scorer.known_sdk(heading) \
                        or (line.number - last_row_line <= 3 and self.scorer.score(heading, "name") >= 2.5):
                    name = heading
            if not name or len(name) > 60:
                continue
            if not (enumerated or line.number - last_row_line <= 3):
                continue
            if not re.search(r"获取|收集|采集|用户信息|个人信息|权限", body):
                continue
            pi_items: list[str] = []
            pi_offset = line.offset
            for pi_match in self._PI_AFTER.finditer(body):
                rest = body[pi_match.end():]
                stop = self._PI_STOP.search(rest)
                segment = rest[: stop.start()] if stop else rest
                if len(segment.strip()) < 2:
                    continue
                if not self.vocab.pi_hits(segment) and not re.search(r"[“\"]", segment):
                    continue
                pi_items = split_pi(segment, self.vocab)
                pi_items = [item for item in pi_items if not re.fullmatch(r"(等|等信息|信息)", item)]
                pi_items = [re.sub(r"等(个人)?信息$|等$", "", item) if not item.endswith("记录等") else item for item in pi_items]
                pi_offset = line.offset + (len(text) - len(body)) + pi_match.end()
                break
            quoted = bool(self._QUOTED_SDK.search(body))
            if not pi_items and not quoted and not self._NO_PI.search(body) and not self._PI_AFTER.search(body):
                continue
            permissions = None
            if perm_match := self._PERMS_AFTER.search(body):
                rest = body[perm_match.end():]
                stop = re.search(r"[，,]\s*获取|。", rest)
                permissions = rest[: stop.start()] if stop else rest
            name_offset = line.offset + max(0, text.find(name))
            raw = RawRow(name=clean_name(name), offset=name_offset, end=line.offset + len(text), layout="prose",
                         pi_items=pi_items, pi_offset=pi_offset, permissions_text=permissions)
            purpose = re.search(r"功能是([^，。]+)|为了([^，。]+)", body)
            if purpose:
                raw.purpose = (purpose.group(1) or purpose.group(2)).strip()
            rows.append(raw)
            last_row_line = line.number
        return rows


def extract(document: Document, vocab: Vocabulary, scorer: CellScorer) -> tuple[list[RawRow], list[tuple[int, str]]]:
    """Every SDK row in the document, in text order (where layouts overlap the more structured reading wins), and
    the SDK-list headers under which no row could be read (offset, header text)."""
    extractor = Extractor(document, vocab, scorer)
    accepted: list[RawRow] = []
    taken: list[tuple[int, int]] = []  # sorted, non-overlapping spans of the rows accepted so far

    def overlaps(start: int, end: int) -> bool:
        position = bisect.bisect_right(taken, (start, float("inf"))) - 1
        if position >= 0 and taken[position][1] > start:
            return True
        return position + 1 < len(taken) and taken[position + 1][0] < end

    for rows in (extractor.from_tables(), extractor.from_labelled_blocks(), extractor.from_flattened(), extractor.from_prose(),
                 extractor.from_intro_lists(), extractor.from_headerless_rows()):
        fresh = [row for row in rows if not overlaps(row.offset, max(row.end, row.offset + 1))]
        accepted.extend(fresh)
        for row in fresh:
            bisect.insort(taken, (row.offset, max(row.end, row.offset + 1)))
    accepted.sort(key=lambda row: row.offset)
    empty: list[tuple[int, str]] = []
    for offset, header in sorted(extractor.empty_headers):
        # An HTML table is also read as flattened lines: one header, one warning.
        if not overlaps(offset, offset + 1) and not (empty and offset - empty[-1][0] < 200):
            empty.append((offset, header))
    return accepted, empty
