"""Read a uiautomator dump: nodes with text, resource-id and bounds; find one and where to tap it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from monitor.errors import TargetError

_BOUNDS = re.compile(r"^\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]$")


@dataclass(frozen=True)
class UiNode:
    text: str
    resource_id: str
    content_desc: str
    cls: str
    package: str
    clickable: bool
    bounds: tuple[int, int, int, int]

    @property
    def center(self) -> tuple[int, int]:
        x1, y1, x2, y2 = self.bounds
        return (x1 + x2) // 2, (y1 + y2) // 2

    @property
    def label(self) -> str:
        return self.text or self.content_desc


def parse_bounds(text: str) -> tuple[int, int, int, int] | None:
    match = _BOUNDS.match(text.strip())
    return tuple(int(v) for v in match.groups()) if match else None  # type: ignore[return-value]


def parse_ui(xml: str) -> list[UiNode]:
    """Every node with usable bounds, in document order."""
    start = xml.find("<?xml")
    if start < 0:
        start = xml.find("<hierarchy")
    try:
        root = ET.fromstring(xml[max(start, 0):].strip().encode())
    except ET.ParseError as exc:
        raise TargetError(f"the UI dump is not valid XML ({exc})", hint="retry the dump when the screen is idle") from exc
    nodes = []
    for element in root.iter("node"):
        bounds = parse_bounds(element.get("bounds", ""))
        if bounds is None or bounds[2] <= bounds[0] or bounds[3] <= bounds[1]:
            continue
        nodes.append(UiNode(element.get("text", ""), element.get("resource-id", ""), element.get("content-desc", ""),
                            element.get("class", ""), element.get("package", ""),
                            element.get("clickable") == "true", bounds))
    return nodes


def find_by_text(nodes: list[UiNode], text: str) -> UiNode | None:
    """Exact text first (or content-desc), then a node containing it; clickable ones preferred."""
    from monitor.data.models import normalise_words

    wanted = normalise_words(text)
    exact = [n for n in nodes if normalise_words(n.label) == wanted]
    partial = [n for n in nodes if wanted and wanted in normalise_words(n.label)]
    for group in (exact, partial):
        if group:
            clickable = [n for n in group if n.clickable]
            return (clickable or group)[0]
    return None


def find_by_resource_id(nodes: list[UiNode], resource_id: str) -> UiNode | None:
    for node in nodes:
        if node.resource_id == resource_id or node.resource_id.endswith(f":id/{resource_id}"):
            return node
    return None
