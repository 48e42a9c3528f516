"""tmux window layouts (``#{window_layout}``, ``%layout-change``) as trees.

A layout string is ``CSUM,CELL`` where CSUM is four hex digits and a CELL is
``WxH,X,Y`` followed by ``,ID`` (a pane), ``{CELL,CELL…}`` (children side by
side: a *row*) or ``[CELL,CELL…]`` (children stacked: a *column*). The text
comes from tmux, but this runs on every ``%layout-change`` inside the relay,
so parsing is strict and contained: every malformed input raises
:class:`LayoutError` and nothing else, and nesting is capped so no string can
exhaust the stack. Sizes are not cross-checked (tmux's own ``layout_check``):
the checksum already guards integrity, and a strict size check could reject
a layout that tmux itself displays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["LayoutError", "LayoutNode", "layout_checksum", "panes", "parse_layout", "to_json"]

# Every split costs a border and 2+ cells per child, so real windows nest a few
# levels deep; 64 is far beyond that and keeps the recursion shallow.
MAX_DEPTH = 64

Kind = Literal["pane", "row", "column"]

# Plain ASCII digits only (``\d`` would accept other scripts' digits), and
# bounded so int() never sees an absurd string.
_GEOMETRY = re.compile(r"([0-9]{1,9})x([0-9]{1,9}),([0-9]{1,9}),([0-9]{1,9})")
_PANE_ID = re.compile(r",([0-9]{1,9})")
_HEADER = re.compile(r"([0-9a-fA-F]{4}),")
_OPEN: dict[str, Kind] = {"{": "row", "[": "column"}
_CLOSE = {"row": "}", "column": "]"}


class LayoutError(ValueError):
    """Raised when a layout string is malformed or its checksum is wrong."""


@dataclass(frozen=True, slots=True)
class LayoutNode:
    """One cell of a layout: a pane, or a row/column of child cells."""

    kind: Kind
    width: int
    height: int
    x: int
    y: int
    pane: str | None  # "%3" when kind == "pane", else None
    children: tuple[LayoutNode, ...]


def layout_checksum(body: str) -> str:
    """tmux's 16-bit rotating checksum of the text after the first comma.

    Layouts are ASCII; other characters are summed as UTF-8 bytes (tmux
    would sum them as C ``char``, whose sign differs between platforms).
    """
    csum = 0
    for byte in body.encode("utf-8", "surrogatepass"):
        csum = (csum >> 1) + ((csum & 1) << 15)
        csum = (csum + byte) & 0xFFFF
    return f"{csum:04x}"


def parse_layout(text: str) -> LayoutNode:
    """Parse and verify a layout string such as ``b25d,80x24,0,0,1``."""
    if not isinstance(text, str) or not text.isascii():
        raise LayoutError("layout must be an ASCII string")
    header = _HEADER.match(text)
    if header is None:
        raise LayoutError(f"no checksum: {text[:40]!r}")
    body = text[header.end() :]
    if int(header.group(1), 16) != int(layout_checksum(body), 16):
        raise LayoutError(f"checksum mismatch: {text[:40]!r}")
    node, end = _cell(body, 0, 0)
    if end != len(body):
        raise LayoutError(f"trailing text at {end}: {body[end : end + 20]!r}")
    return node


def _cell(body: str, pos: int, depth: int) -> tuple[LayoutNode, int]:
    """Parse one cell starting at ``pos``; return it and the position after it."""
    if depth > MAX_DEPTH:
        raise LayoutError(f"layout nested deeper than {MAX_DEPTH}")
    geometry = _GEOMETRY.match(body, pos)
    if geometry is None:
        raise LayoutError(f"expected WxH,X,Y at {pos}: {body[pos : pos + 20]!r}")
    width, height, x, y = (int(g) for g in geometry.groups())
    pos = geometry.end()
    kind = _OPEN.get(body[pos : pos + 1])
    if kind is None:
        pane_id = _PANE_ID.match(body, pos)
        if pane_id is None:
            raise LayoutError(f"expected ,ID or a split at {pos}: {body[pos : pos + 20]!r}")
        return LayoutNode("pane", width, height, x, y, f"%{pane_id.group(1)}", ()), pane_id.end()
    children: list[LayoutNode] = []
    while True:
        child, pos = _cell(body, pos + 1, depth + 1)  # skips the bracket or comma
        children.append(child)
        if body[pos : pos + 1] != ",":
            break
    if body[pos : pos + 1] != _CLOSE[kind]:
        raise LayoutError(f"expected {_CLOSE[kind]!r} at {pos}: {body[pos : pos + 20]!r}")
    return LayoutNode(kind, width, height, x, y, None, tuple(children)), pos + 1


def to_json(node: LayoutNode) -> dict[str, Any]:
    """The wire shape of DATA-FLOW.md's ``Layout``."""
    out: dict[str, Any] = {"type": node.kind}
    if node.kind == "pane":
        out["pane"] = node.pane
    out.update(x=node.x, y=node.y, width=node.width, height=node.height)
    if node.kind != "pane":
        out["children"] = [to_json(child) for child in node.children]
    return out


def panes(node: LayoutNode) -> list[LayoutNode]:
    """The pane cells, in layout order (left to right, top to bottom)."""
    if node.kind == "pane":
        return [node]
    return [leaf for child in node.children for leaf in panes(child)]
