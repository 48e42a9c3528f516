"""tmuxweb.tmux.layout: layouts recorded from real tmux 3.3a, round trips of
generated trees, and hostile input that must only ever raise LayoutError."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmuxweb.tmux.layout import (
    LayoutError,
    LayoutNode,
    layout_checksum,
    panes,
    parse_layout,
    to_json,
)
from tmuxweb.tmux.protocol import Notification, Parser

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts"

# Straight from the windows transcript (tmux 3.3a, an 80x24 window).
SIDE_BY_SIDE = "020a,80x24,0,0{40x24,0,0,1,39x24,41,0,2}"
NESTED = (
    "d578,80x24,0,0{40x24,0,0,1,39x24,41,0"
    "[39x12,41,0,2,39x11,41,13{19x11,41,13,3,19x11,61,13,4}]}"
)
ZOOMED_VISIBLE = "b260,80x24,0,0,3"
TILED = "7557,80x24,0,0[80x11,0,0{39x11,0,0,1,40x11,40,0,2},80x12,0,12{39x12,0,12,3,40x12,40,12,4}]"
STACKED = "c1b0,80x24,0,0[80x12,0,0,6,80x11,0,13,7]"


def recorded_layouts() -> list[str]:
    raw = (TRANSCRIPTS / "windows.bin").read_bytes()
    events = Parser().feed(raw)
    changes = [e for e in events if isinstance(e, Notification) and e.name == "layout-change"]
    return [layout for n in changes for layout in n.args[1:3]]


def pane(pane_id: int, width: int, height: int, x: int, y: int) -> LayoutNode:
    return LayoutNode("pane", width, height, x, y, f"%{pane_id}", ())


def dump(node: LayoutNode) -> str:
    """Serialise like tmux's layout_dump, checksum included."""

    def cell(n: LayoutNode) -> str:
        head = f"{n.width}x{n.height},{n.x},{n.y}"
        if n.kind == "pane":
            assert n.pane is not None
            return f"{head},{n.pane[1:]}"
        inner = ",".join(cell(c) for c in n.children)
        return f"{head}{{{inner}}}" if n.kind == "row" else f"{head}[{inner}]"

    body = cell(node)
    return f"{layout_checksum(body)},{body}"


# --- real layouts ---------------------------------------------------------


def test_recorded_transcript_has_all_the_layout_shapes() -> None:
    layouts = set(recorded_layouts())
    assert {SIDE_BY_SIDE, NESTED, ZOOMED_VISIBLE, TILED, STACKED} <= layouts


@pytest.mark.parametrize("text", sorted(set(recorded_layouts())))
def test_every_recorded_layout_parses_and_reserialises_identically(text: str) -> None:
    node = parse_layout(text)
    assert dump(node) == text
    assert layout_checksum(text[5:]) == text[:4]


def test_side_by_side_split_is_a_row() -> None:
    assert parse_layout(SIDE_BY_SIDE) == LayoutNode(
        "row", 80, 24, 0, 0, None, (pane(1, 40, 24, 0, 0), pane(2, 39, 24, 41, 0))
    )


def test_stacked_split_is_a_column() -> None:
    assert parse_layout(STACKED) == LayoutNode(
        "column", 80, 24, 0, 0, None, (pane(6, 80, 12, 0, 0), pane(7, 80, 11, 0, 13))
    )


def test_nested_splits() -> None:
    root = parse_layout(NESTED)
    assert root.kind == "row"
    left, right = root.children
    assert left == pane(1, 40, 24, 0, 0)
    assert right.kind == "column"
    assert (right.x, right.y, right.width, right.height) == (41, 0, 39, 24)
    top, bottom = right.children
    assert top == pane(2, 39, 12, 41, 0)
    assert bottom == LayoutNode(
        "row", 39, 11, 41, 13, None, (pane(3, 19, 11, 41, 13), pane(4, 19, 11, 61, 13))
    )


def test_zoomed_window_visible_layout_is_the_zoomed_pane_alone() -> None:
    assert parse_layout(ZOOMED_VISIBLE) == pane(3, 80, 24, 0, 0)


def test_panes_are_listed_in_layout_order() -> None:
    assert [p.pane for p in panes(parse_layout(NESTED))] == ["%1", "%2", "%3", "%4"]
    assert [p.pane for p in panes(parse_layout(TILED))] == ["%1", "%2", "%3", "%4"]
    assert panes(parse_layout(ZOOMED_VISIBLE)) == [pane(3, 80, 24, 0, 0)]


def test_to_json_matches_the_wire_shape() -> None:
    assert to_json(parse_layout(SIDE_BY_SIDE)) == {
        "type": "row",
        "x": 0,
        "y": 0,
        "width": 80,
        "height": 24,
        "children": [
            {"type": "pane", "pane": "%1", "x": 0, "y": 0, "width": 40, "height": 24},
            {"type": "pane", "pane": "%2", "x": 41, "y": 0, "width": 39, "height": 24},
        ],
    }
    tiled = to_json(parse_layout(TILED))
    assert tiled["type"] == "column"
    assert [c["type"] for c in tiled["children"]] == ["row", "row"]


def test_checksum_is_tmuxs() -> None:
    assert layout_checksum("80x24,0,0{40x24,0,0,1,39x24,41,0,2}") == "020a"
    assert layout_checksum("") == "0000"
    assert len(layout_checksum("9" * 10_000)) == 4


def test_uppercase_checksum_is_accepted() -> None:
    assert parse_layout(SIDE_BY_SIDE.upper().replace("X", "x")) == parse_layout(SIDE_BY_SIDE)


# --- malformed input ------------------------------------------------------


def with_checksum(body: str) -> str:
    return f"{layout_checksum(body)},{body}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "020a",
        "020a,",
        "020b,80x24,0,0{40x24,0,0,1,39x24,41,0,2}",  # checksum mismatch
        "b25d,80x24,0,0{40x24,0,0,1,39x24,41,0,2}",  # (an illustrative, wrong one)
        "20a,80x24,0,0{40x24,0,0,1,39x24,41,0,2}",
        "zzzz,80x24,0,0,1",
        with_checksum("80x24,0,0"),  # a pane without an id
        with_checksum("80x24,0,0,"),
        with_checksum("80x24,0,0,1,"),
        with_checksum("80x24,0,0,1x"),
        with_checksum("80x24,0,0,1}"),
        with_checksum("80x24,0,0{"),
        with_checksum("80x24,0,0{}"),
        with_checksum("80x24,0,0{40x24,0,0,1"),
        with_checksum("80x24,0,0{40x24,0,0,1,}"),
        with_checksum("80x24,0,0{40x24,0,0,1]"),
        with_checksum("80x24,0,0[40x24,0,0,1}"),
        with_checksum("80x24,0,0{40x24,0,0,39x24,41,0,2}"),
        with_checksum("80x24,0,0,1 "),
        with_checksum(" 80x24,0,0,1"),
        with_checksum("80X24,0,0,1"),
        with_checksum("-80x24,0,0,1"),
        with_checksum("80x24,0,0,-1"),
        with_checksum("1234567890x24,0,0,1"),
        with_checksum("80x24,0,0," + "9" * 5000),
        with_checksum("٨٠x24,0,0,1"),  # non-ASCII digits
        with_checksum("80x24,0,0,1\x00"),
    ],
)
def test_malformed_layouts_raise_layout_error(text: str) -> None:
    with pytest.raises(LayoutError):
        parse_layout(text)


def test_layout_error_is_a_value_error() -> None:
    assert issubclass(LayoutError, ValueError)


def test_non_string_raises_layout_error() -> None:
    with pytest.raises(LayoutError):
        parse_layout(b"020a,80x24,0,0,1")  # type: ignore[arg-type]


def nested(depth: int) -> str:
    return with_checksum("2x2,0,0{" * depth + "2x2,0,0,1" + "}" * depth)


def test_nesting_up_to_the_cap_parses() -> None:
    node = parse_layout(nested(64))
    assert [p.pane for p in panes(node)] == ["%1"]


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_nesting_beyond_the_cap_raises_layout_error_not_recursion_error(depth: int) -> None:
    with pytest.raises(LayoutError):
        parse_layout(nested(depth))


# --- properties -----------------------------------------------------------

_size = st.integers(0, 10_000)


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> LayoutNode:
    geometry = (draw(_size), draw(_size), draw(_size), draw(_size))
    if depth >= 4 or draw(st.booleans()):
        return LayoutNode("pane", *geometry, f"%{draw(st.integers(0, 10**6))}", ())
    kind: Literal["row", "column"] = draw(st.sampled_from(["row", "column"]))
    children = draw(st.lists(_trees(depth + 1), min_size=1, max_size=4))
    return LayoutNode(kind, *geometry, None, tuple(children))


@given(_trees())
def test_generated_layouts_round_trip(tree: LayoutNode) -> None:
    text = dump(tree)
    assert parse_layout(text) == tree
    assert all(leaf.kind == "pane" and leaf.pane for leaf in panes(tree))


def count_json_panes(node: dict[str, object]) -> int:
    if node["type"] == "pane":
        assert set(node) == {"type", "pane", "x", "y", "width", "height"}
        return 1
    assert set(node) == {"type", "x", "y", "width", "height", "children"}
    children = node["children"]
    assert isinstance(children, list) and children
    return sum(count_json_panes(child) for child in children)


@given(_trees())
def test_to_json_has_one_pane_object_per_leaf(tree: LayoutNode) -> None:
    assert count_json_panes(to_json(tree)) == len(panes(tree))


@given(_trees(), st.data())
def test_corrupting_one_character_raises_only_layout_error(
    tree: LayoutNode, data: st.DataObject
) -> None:
    text = dump(tree)
    index = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from("0123456789abcdefx,{}[]"))
    corrupted = text[:index] + char + text[index + 1 :]
    try:
        parse_layout(corrupted)
    except LayoutError:
        pass


@settings(deadline=None)
@given(st.text(max_size=300))
def test_random_text_raises_only_layout_error(text: str) -> None:
    try:
        parse_layout(text)
    except LayoutError:
        pass


_layoutish = st.text(alphabet="0123456789x,{}[]", max_size=200)


@settings(deadline=None)
@given(_layoutish)
def test_random_layout_shaped_text_with_valid_checksum_raises_only_layout_error(body: str) -> None:
    try:
        node = parse_layout(with_checksum(body))
    except LayoutError:
        return
    assert parse_layout(dump(node)) == node  # (dump drops leading zeros)


@given(st.text(max_size=200))
def test_checksum_never_raises_and_is_four_hex_digits(body: str) -> None:
    csum = layout_checksum(body)
    assert len(csum) == 4 and int(csum, 16) >= 0
