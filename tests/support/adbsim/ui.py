"""What the simulated screen shows: a uiautomator-format hierarchy and a matching PNG.

The demo app's first screen is a privacy dialog with 同意 / 不同意 buttons; tapping inside a
button's bounds (hit-tested like `input tap`) records the choice in the app's data and changes
the screen, so a scenario that taps the wrong place visibly fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from monitor.scenario.screens import render_screen


@dataclass
class Node:
    cls: str
    package: str
    bounds: tuple[int, int, int, int]
    text: str = ""
    resource_id: str = ""
    content_desc: str = ""
    clickable: bool = False
    action: str | None = None          # what a tap does: "agree", "refuse", "open", "input"
    children: list["Node"] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


LAUNCHER = "com.android.launcher3"


def launcher_tree(width: int, height: int, apps: list[str]) -> Node:
    root = Node("android.widget.FrameLayout", LAUNCHER, (0, 0, width, height))
    for index, package in enumerate(apps):
        x = 40 + (index % 4) * 260
        y = 300 + (index // 4) * 300
        root.children.append(Node("android.widget.TextView", LAUNCHER, (x, y, x + 220, y + 240),
                                  text=package.rsplit(".", 1)[-1], content_desc=package, clickable=True,
                                  action=f"open:{package}"))
    return root


def privacy_dialog_tree(package: str, width: int, height: int) -> Node:
    """The consent pop-up many Chinese apps show on first launch, in the shape a real dump has."""
    top, bottom = height // 4, height * 3 // 4
    dialog = Node("android.widget.LinearLayout", package, (60, top, width - 60, bottom),
                  resource_id=f"{package}:id/privacy_dialog")
    dialog.children = [
        Node("android.widget.TextView", package, (100, top + 40, width - 100, top + 140),
             text="用户协议与隐私政策", resource_id=f"{package}:id/title"),
        Node("android.widget.TextView", package, (100, top + 160, width - 100, bottom - 260),
             text="我们将依据《隐私政策》收集、使用您的个人信息。请您阅读并同意后开始使用。",
             resource_id=f"{package}:id/message"),
        Node("android.widget.Button", package, (100, bottom - 220, width // 2 - 20, bottom - 80),
             text="不同意", resource_id=f"{package}:id/btn_refuse", clickable=True, action="refuse"),
        Node("android.widget.Button", package, (width // 2 + 20, bottom - 220, width - 100, bottom - 80),
             text="同意", resource_id=f"{package}:id/btn_agree", clickable=True, action="agree"),
    ]
    root = Node("android.widget.FrameLayout", package, (0, 0, width, height))
    root.children = [dialog]
    return root


def main_tree(package: str, width: int, height: int, *, browse_only: bool, typed: str) -> Node:
    root = Node("android.widget.FrameLayout", package, (0, 0, width, height))
    root.children = [
        Node("android.widget.TextView", package, (40, 120, width - 40, 220),
             text="仅浏览模式" if browse_only else "首页", resource_id=f"{package}:id/home_title"),
        Node("android.widget.EditText", package, (40, 260, width - 40, 380), text=typed,
             resource_id=f"{package}:id/search", clickable=True, action="input"),
    ]
    return root


def to_xml(root: Node, rotation: int = 0) -> str:
    """Serialise like `uiautomator dump` does (one line, attributes in its order)."""
    parts = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>", f'<hierarchy rotation="{rotation}">']

    def emit(node: Node, index: int) -> None:
        x1, y1, x2, y2 = node.bounds
        attrs = [
            ("index", str(index)), ("text", node.text), ("resource-id", node.resource_id),
            ("class", node.cls), ("package", node.package), ("content-desc", node.content_desc),
            ("checkable", "false"), ("checked", "false"), ("clickable", str(node.clickable).lower()),
            ("enabled", "true"), ("focusable", str(node.clickable).lower()), ("focused", "false"),
            ("scrollable", "false"), ("long-clickable", "false"), ("password", "false"),
            ("selected", "false"), ("bounds", f"[{x1},{y1}][{x2},{y2}]"),
        ]
        rendered = " ".join(f"{key}={quoteattr(value)}" for key, value in attrs)
        if node.children:
            parts.append(f"<node {rendered}>")
            for child_index, child in enumerate(node.children):
                emit(child, child_index)
            parts.append("</node>")
        else:
            parts.append(f"<node {rendered} />")

    emit(root, 0)
    parts.append("</hierarchy>")
    return "".join(parts)


def hit(root: Node, x: int, y: int) -> Node | None:
    """The deepest clickable node whose bounds contain the point, as Android dispatches a tap."""
    found: Node | None = None
    for node in root.walk():
        x1, y1, x2, y2 = node.bounds
        if node.clickable and x1 <= x < x2 and y1 <= y < y2:
            found = node
    return found


def render_png(root: Node, width: int, height: int, *, scale: int = 8) -> bytes:
    """The simulated framebuffer: drawn the way the product draws a host program's screen."""
    return render_screen(root.walk(), width, height, scale=scale)
