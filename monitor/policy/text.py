"""A policy document's bytes → its text (one line per block, table cell or markdown line) and its tables.

Policies reach us as HTML pages (any charset: GBK pages are common), Word→HTML exports whose words are cut
over many <span>s, markdown (with raw HTML tables inside), or plain text copied from a dialog. Every later
step works on one plain text, so offsets quoted in a declared scope are offsets into `Document.text`; HTML
tables are kept as cells too (with their offsets), because a table's columns say more than its text.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from monitor.policy.errors import PolicyCharsetError, PolicyFormatError

# Magic numbers of the non-text documents a policy link sometimes points at.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"), (b"PK\x03\x04", "a zip archive (a .docx?)"), (b"\xd0\xcf\x11\xe0", "an old Word/Office file"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
# GB2312 and GBK pages routinely hold characters only their superset has; decoding as GB18030 never loses them.
_SUPERSET = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "big5": "big5hkscs"}


@dataclass(frozen=True)
class Cell:
    text: str
    offset: int
    rowspan: int = 1
    colspan: int = 1
    carried: bool = False  # a copy of the cell above that spans into this row (rowspan)


@dataclass
class Table:
    rows: list[list[Cell]] = field(default_factory=list)
    offset: int = 0


@dataclass
class Document:
    """One policy document as text. `kind` is html, markdown or text; `charset` what its bytes were read as."""

    text: str
    kind: str
    charset: str | None = None
    tables: list[Table] = field(default_factory=list)


def sniff_binary(data: bytes, content_type: str | None = None) -> str | None:
    """What non-text thing `data` is (\"a PDF\", \"a PNG image\"…), or None for text."""
    head = data[:16]
    if head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image"
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            return what
    if content_type:
        mime = content_type.split(";")[0].strip().lower()
        if mime.startswith(("image/", "video/", "audio/")) or mime in {"application/pdf", "application/zip", "application/octet-stream"}:
            return f"a {mime} document"
    return None


def decode(data: bytes, *, content_type: str | None = None, where: str = "the policy") -> tuple[str, str]:
    """Bytes → (text, charset). The order: BOM, the charset the server or the page declares, UTF-8, then detection."""
    what = sniff_binary(data, content_type)
    if what is not None:
        raise PolicyFormatError(f"{where} is {what}, not a text or HTML policy",
                                hint="give the policy as an HTML page, a .txt or .md file, or its URL")
    if not data.strip():
        raise PolicyFormatError(f"{where} is empty", hint="check the file or the URL")
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name, errors="replace"), name
    declared: list[str] = []
    if content_type and (found := _CT_CHARSET.search(content_type)):
        declared.append(found.group(1))
    if found_meta := _META_CHARSET.search(data[:4096]):
        declared.append(found_meta.group(1).decode("ascii", "replace"))
    for name in declared:
        name = _SUPERSET.get(name.lower(), name.lower())
        try:
            return data.decode(name), name
        except (LookupError, UnicodeDecodeError):
            continue  # a page that lies about its charset is common; fall through to UTF-8 and detection
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # charset-normalizer: kept by the requests project, already installed with it; it tells GB18030 from Big5
    # and Shift-JIS by how plausible the decoded text is, which a list of guesses cannot.
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise PolicyCharsetError(f"{where}: cannot tell which charset its bytes are in",
                                 hint="save it as UTF-8, or give the charset in the server's Content-Type")
    name = _SUPERSET.get(best.encoding.lower(), best.encoding.lower())
    try:
        return data.decode(name), name
    except (LookupError, UnicodeDecodeError) as exc:
        raise PolicyCharsetError(f"{where}: its bytes are not valid {name}",
                                 hint="save it as UTF-8, or give the charset in the server's Content-Type") from exc


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    controls = sum(1 for char in sample if ord(char) < 32 and char not in "\t\n\r\f\v")
    return controls > max(8, len(sample) // 50)


def guess_kind(text: str, *, name: str | None = None, content_type: str | None = None) -> str:
    lowered = (name or "").lower()
    mime = (content_type or "").split(";")[0].strip().lower()
    if lowered.endswith((".html", ".htm", ".xhtml")) or mime in {"text/html", "application/xhtml+xml"}:
        return "html"
    if lowered.endswith((".md", ".markdown")) or mime == "text/markdown":
        return "markdown"
    if lowered.endswith(".txt") or mime == "text/plain":
        return "text"
    head = text[:2000].lower()
    if "<html" in head or "<!doctype html" in head or "<body" in head:
        return "html"
    return "text"


def to_document(data: bytes | str, *, name: str | None = None, content_type: str | None = None,
                where: str = "the policy") -> Document:
    if isinstance(data, bytes):
        text, charset = decode(data, content_type=content_type, where=where)
    else:
        text, charset = data, None
    if _looks_binary(text):
        raise PolicyFormatError(f"{where} is binary data, not a text or HTML policy",
                                hint="give the policy as an HTML page, a .txt or .md file, or its URL")
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    from_json = _json_payload(text, content_type)
    if from_json is not None:
        # An app's policy screen often loads the policy from an API: {"code":0,"data":{"content":"<p>…</p>"}}.
        text, content_type = from_json, ("text/html" if re.search(r"<(p|div|table|br|span|h\d)\b", from_json, re.I) else "text/plain")
        name = None
    kind = guess_kind(text, name=name, content_type=content_type)
    if kind == "html":
        document = _html_to_document(text, keep_newlines=False)
    elif kind == "markdown":
        document = _markdown_to_document(text)
    else:
        document = Document(text=text, kind="text")
    document.charset = charset
    if not document.text.strip():
        raise PolicyFormatError(f"{where} holds no text (an image-only page, or a page drawn by JavaScript?)",
                                hint="give the policy as text or HTML (save the page as the browser shows it); a picture of a policy cannot be read")
    return document


def _json_payload(text: str, content_type: str | None) -> str | None:
    """The policy text inside a JSON answer: its long string values, in order; None when `text` is not JSON."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if not (mime.endswith("json") or text.lstrip().startswith(("{", "["))):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    strings: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            if len(value) >= 20:
                strings.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return "\n".join(strings)


_BLOCK = {"p", "div", "section", "article", "header", "footer", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3",
          "h4", "h5", "h6", "blockquote", "pre", "table", "tr", "td", "th", "thead", "tbody", "tfoot", "caption",
          "title", "form", "nav", "aside", "main", "figure", "figcaption", "hr", "address"}
_SKIP = {"script", "style", "noscript", "template", "svg", "head"}


class _Html(HTMLParser):
    """Block elements become line breaks, table cells are recorded with their offsets, whitespace collapses
    as a browser collapses it (except, for markdown, outside any HTML element, where a newline is a line)."""

    def __init__(self, *, keep_newlines: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_newlines = keep_newlines
        self.parts: list[str] = []
        self.length = 0
        self.skip_depth = 0
        self.open_elements = 0
        self.tables: list[Table] = []
        self.table_stack: list[Table] = []
        self.cell_start: int | None = None
        self.cell_part = 0
        self.cell_spans = (1, 1)
        self.in_head_title = False

    # -- output ---------------------------------------------------------------------------------------
    def _emit(self, text: str) -> None:
        if not text:
            return
        self.parts.append(text)
        self.length += len(text)

    def _last_char(self) -> str:
        return self.parts[-1][-1] if self.parts else "\n"

    def _newline(self) -> None:
        # Trailing spaces before a break are noise; one break is a line end, no blank-line runs inside HTML.
        while self.parts and self.parts[-1].endswith(" "):
            last = self.parts.pop()
            self.length -= len(last)
            stripped = last.rstrip(" ")
            if stripped:
                self.parts.append(stripped)
                self.length += len(stripped)
                break
        if self._last_char() != "\n":
            self._emit("\n")

    # -- parser events ----------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if tag in {"br", "hr"}:
            self._newline()
            return
        if tag in {"img", "input", "meta", "link"}:
            return
        self.open_elements += 1
        if tag == "table":
            self._newline()
            table = Table(offset=self.length)
            self.tables.append(table)
            self.table_stack.append(table)
        elif tag == "tr" and self.table_stack:
            self.table_stack[-1].rows.append([])
        elif tag in {"td", "th"} and self.table_stack:
            self._close_cell()
            self._newline()
            self.cell_start = self.length
            self.cell_part = len(self.parts)
            spans = dict(attrs)
            self.cell_spans = (_span(spans.get("rowspan")), _span(spans.get("colspan")))
            if not self.table_stack[-1].rows:
                self.table_stack[-1].rows.append([])
        if tag in _BLOCK:
            self._newline()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "hr"}:
            self._newline()
        elif tag in _BLOCK:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag in {"br", "hr", "img", "input", "meta", "link"}:
            return
        self.open_elements = max(0, self.open_elements - 1)
        if tag in {"td", "th"}:
            self._close_cell()
        elif tag == "tr":
            self._close_cell()
        elif tag == "table" and self.table_stack:
            self._close_cell()
            self.table_stack.pop()
        if tag in _BLOCK:
            self._newline()

    def _close_cell(self) -> None:
        if self.cell_start is None or not self.table_stack:
            return
        raw = "".join(self.parts[min(self.cell_part, len(self.parts)):])
        lead = len(raw) - len(raw.lstrip())
        rowspan, colspan = self.cell_spans
        self.table_stack[-1].rows[-1].append(Cell(raw.strip(), self.cell_start + lead, rowspan, colspan))
        self.cell_start = None
        self.cell_spans = (1, 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.keep_newlines and self.open_elements == 0:
            self._emit(data)
            return
        text = re.sub(r"[ \t\n\f\v\u3000]+", " ", data.replace("\u00a0", " "))
        if text == " " and self._last_char() in " \n":
            return
        if self._last_char() == "\n":
            text = text.lstrip(" ")
        self._emit(text)


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 500))
    except ValueError:
        return 1


def expand_spans(rows: list[list[Cell]]) -> list[list[Cell]]:
    """The table as a grid: a cell spanning rows is repeated (marked `carried`) below, one spanning columns to the right."""
    grid: list[list[Cell]] = []
    pending: dict[int, tuple[Cell, int]] = {}  # column → (cell, rows still to fill)
    for row in rows:
        out: list[Cell] = []
        cells = iter(row)
        column = 0
        while True:
            if column in pending:
                cell, left = pending[column]
                out.append(Cell(cell.text, cell.offset, 1, 1, carried=True))
                if left <= 1:
                    del pending[column]
                else:
                    pending[column] = (cell, left - 1)
                column += 1
                continue
            cell = next(cells, None)
            if cell is None:
                if any(key >= column for key in pending):
                    continue_columns = sorted(key for key in pending if key >= column)
                    column = continue_columns[0]
                    continue
                break
            for offset in range(cell.colspan):
                out.append(cell if offset == 0 else Cell(cell.text, cell.offset, 1, 1, carried=True))
                if cell.rowspan > 1:
                    pending[column] = (cell, cell.rowspan - 1)
                column += 1
        grid.append(out)
    return grid


def _html_to_document(text: str, *, keep_newlines: bool, kind: str = "html") -> Document:
    parser = _Html(keep_newlines=keep_newlines)
    parser.feed(text)
    parser.close()
    parser._close_cell()
    joined = "".join(parser.parts)
    for table in parser.tables:
        table.rows = expand_spans(table.rows)
    tables = [table for table in parser.tables if any(len(row) >= 2 for row in table.rows)]
    return Document(text=joined, kind=kind, tables=tables)


_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_MD_BULLET = re.compile(r"^([ \t]*)(?:[*+\-]|#{1,6}|>)[ \t]+", re.M)
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
_HTML_BLOCK = re.compile(r"<(table|p|div|tr|td|span|br)\b", re.I)
_PIPE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _markdown_line(line: str) -> str:
    line = _MD_BULLET.sub(lambda match: match.group(1), line)
    line = _MD_LINK.sub(lambda match: match.group(1) if match.group(1) else match.group(2), line)
    line = _MD_EMPHASIS.sub(lambda match: match.group(2), line)
    line = _MD_ESCAPE.sub(lambda match: match.group(1), line)
    return line.replace("**", "")


def _markdown_to_document(text: str) -> Document:
    text = _FRONT_MATTER.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    text = "\n".join(_markdown_line(line) for line in text.split("\n"))
    if _HTML_BLOCK.search(text):
        document = _html_to_document(text, keep_newlines=True, kind="markdown")
    else:
        document = Document(text=text, kind="markdown")
    document.tables.extend(_pipe_tables(document.text))
    return document


def _pipe_tables(text: str) -> list[Table]:
    """Markdown pipe tables (`| a | b |` over a `|---|---|` line) as Tables with cell offsets."""
    tables: list[Table] = []
    current: Table | None = None
    offset = 0
    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        is_row = stripped.count("|") >= (2 if stripped.startswith("|") else 1) and not stripped.startswith(("http", "<"))
        if is_row and not _PIPE_SEPARATOR.match(stripped):
            next_is_separator = index + 1 < len(lines) and bool(_PIPE_SEPARATOR.match(lines[index + 1].strip()))
            if current is None and next_is_separator:
                current = Table(offset=offset)
                tables.append(current)
            if current is not None:
                cells: list[Cell] = []
                position = line.index("|") + 1
                for piece in stripped.strip("|").split("|"):
                    start = line.find(piece, position) if piece else position
                    lead = len(piece) - len(piece.lstrip())
                    cells.append(Cell(piece.strip(), offset + max(start, 0) + lead))
                    position = max(start, position) + len(piece) + 1
                current.rows.append(cells)
        elif not _PIPE_SEPARATOR.match(stripped) or not stripped:
            current = None
        offset += len(line) + 1
    return [table for table in tables if len(table.rows) >= 2]
