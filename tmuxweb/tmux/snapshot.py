"""What a session looks like, as tmux reports it. Pure: no I/O.

The hub sends the query lines defined here through the control client and
hands the replies back to the parsers here. `PaneInfo.capture_lines()` and
`PaneInfo.content()` turn a pane into the string that reproduces it in a
fresh terminal (history, screen, alternate screen, modes, cursor).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tmuxweb.tmux.cmdline import quote
from tmuxweb.tmux.layout import LayoutError, LayoutNode, parse_layout, to_json

# Free-text fields (names, titles) come last so a stray separator inside
# them cannot shift the other columns; tmux strips control characters from
# titles and escapes them in window names.
_WINDOW_FIELDS = (
    "window_id window_index window_active window_zoomed_flag window_activity_flag "
    "window_bell_flag window_width window_height window_visible_layout window_name"
).split()
_PANE_FIELDS = (
    "pane_id window_id pane_index pane_left pane_top pane_width pane_height pane_active "
    "pane_dead pane_in_mode alternate_on cursor_x cursor_y cursor_flag insert_flag "
    "keypad_cursor_flag keypad_flag mouse_standard_flag mouse_button_flag mouse_all_flag "
    "mouse_sgr_flag origin_flag wrap_flag scroll_region_upper scroll_region_lower "
    "history_size pane_dead_status pane_current_command pane_current_path pane_title"
).split()


def _format(fields: list[str]) -> str:
    # Double quotes so the separator can be written as \t on one line.
    return '"' + "\\t".join("#{" + f + "}" for f in fields) + '"'


def list_windows(session: str) -> str:
    return f"list-windows -t {quote(session)} -F {_format(_WINDOW_FIELDS)}"


def list_panes(session: str) -> str:
    return f"list-panes -s -t {quote(session)} -F {_format(_PANE_FIELDS)}"


def list_window_panes(target: str) -> str:
    """The panes of the window that holds `target` (a pane or window id)."""
    return f"list-panes -t {quote(target)} -F {_format(_PANE_FIELDS)}"


# What a snapshot captures of a pane, in this order (see capture_lines).
CAPTURES = ("history", "saved", "visible", "pending")


def capture_lines(pane: str, history: int, buffer: str) -> list[str]:
    """One batch that snapshots a pane: its details (cursor, modes), then
    history, the saved normal screen (an error when the alternate screen is
    off: ignored), the visible screen, and an escape sequence the program
    has begun but not finished (it must precede the live stream). Fetching
    the details in the same batch keeps cursor and screen consistent.

    Each capture goes into a named buffer (`buffer-0` … `buffer-3`) that is
    shown and deleted right after it, never `capture-pane -p`: tmux 3.3a
    never frees a `-p` capture's output sent to a control client (tmux#4590,
    benchmarks/README.md), and the buffer path frees everything. The three
    lines of a capture are adjacent and the batch is written at once, so
    tmux runs them back to back (see DATA-FLOW.md on `paste-buffer`).
    Replies: 1 + 3 per capture; `split_capture` takes them apart."""
    target = quote(pane)
    captures = (
        f"capture-pane -e -S -{history} -E -1",
        "capture-pane -e -a",
        "capture-pane -e",
        # Raw bytes into the buffer; show-buffer escapes them (buffer_text).
        "capture-pane -P",
    )
    lines = [list_window_panes(pane)]
    for i, capture in enumerate(captures):
        name = quote(f"{buffer}-{i}")
        lines += [f"{capture} -b {name} -t {target}", f"show-buffer -b {name}", f"delete-buffer -b {name}"]
    return lines


def screen_lines(pane: str, buffer: str) -> list[str]:
    """A pane's details and its visible screen as plain text (the states'
    read): through a named buffer like capture_lines, never `-p`.
    Replies: details, capture, show-buffer (an error when the screen is
    empty), delete-buffer."""
    name, target = quote(buffer), quote(pane)
    return [
        list_window_panes(pane),
        f"capture-pane -b {name} -t {target}",
        f"show-buffer -b {name}",
        f"delete-buffer -b {name}",
    ]


_T = TypeVar("_T")


def split_capture(replies: Sequence[_T]) -> tuple[_T, list[tuple[_T, _T]]]:
    """The replies to `capture_lines()`: the details, and for each of
    CAPTURES the reply to its capture-pane (whose stream position the
    content is exact at) and to its show-buffer (the content)."""
    details, rest = replies[0], replies[1:]
    return details, [(rest[3 * i], rest[3 * i + 1]) for i in range(len(CAPTURES))]


# show-buffer's escaping for a control client, as tmux 3.3a applies it
# (every byte value and every pair of printable ones verified in
# tests/unit/test_snapshot.py): a backslash is doubled; `$` before a letter,
# `_` or `{` becomes \$; \a \b \t \v \f \r; NUL is \0, or \000 before an
# octal digit; other bytes that are not printable UTF-8 are three octal
# digits; a newline is not escaped (it ends a reply line).
_SHOWN = re.compile(rb"\\([0-7]{3}|0|[\\$abtvfrn])")
_SHOWN_LETTERS = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b"0": 0, b"\\": 92, b"$": 36}


def unescape_shown(line: bytes) -> bytes:
    """One line of a `show-buffer` reply, back to the buffer's bytes."""
    if b"\\" not in line:
        return line
    return _SHOWN.sub(
        lambda m: bytes([_SHOWN_LETTERS[m.group(1)] if len(m.group(1)) == 1 else int(m.group(1), 8) & 0xFF]),
        line,
    )


def buffer_text(lines: Sequence[bytes]) -> list[str]:
    """A `show-buffer` reply of a captured buffer as the lines that
    `capture-pane -p` would have answered: the buffer ends every line with
    a newline, which `-p` drops from the last one."""
    data = b"\n".join(unescape_shown(line) for line in lines)
    if data.endswith(b"\n"):
        data = data[:-1]
    return [line.decode("utf-8", "replace") for line in data.split(b"\n")]


_VIS = re.compile(r"\\([0-7]{3}|[\\$abfnrtv])")
_VIS_LETTERS = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def unvis(name: str) -> str:
    """Undo the escaping tmux applies when it stores a window or session
    name (verified on 3.3a: `$` is stored as `\\$`, `\\` as `\\\\`, and
    characters it cannot print as the octal escapes of their UTF-8 bytes),
    so a name reads back as it was given."""
    if "\\" not in name:
        return name
    out = bytearray()
    pos = 0
    for m in _VIS.finditer(name):
        out += name[pos : m.start()].encode("utf-8", "surrogatepass")
        code = m.group(1)
        out += bytes([int(code, 8) & 0xFF]) if len(code) == 3 else _VIS_LETTERS.get(code, code).encode()
        pos = m.end()
    out += name[pos:].encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "replace")


def _split(line: str, fields: list[str]) -> dict[str, str] | None:
    parts = line.split("\t", len(fields) - 1)
    if len(parts) != len(fields):
        return None
    return dict(zip(fields, parts))


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


@dataclass(frozen=True, slots=True)
class WindowInfo:
    id: str
    index: int
    active: bool
    zoomed: bool
    activity: bool
    bell: bool
    width: int
    height: int
    layout: LayoutNode | None
    name: str

    def to_json(self, active_pane: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "index": self.index,
            "name": self.name,
            "active": self.active,
            "zoomed": self.zoomed,
            "activity": self.activity,
            "bell": self.bell,
            "width": self.width,
            "height": self.height,
            "layout": to_json(self.layout) if self.layout else None,
            "active_pane": active_pane,
        }


def parse_windows(lines: list[str]) -> list[WindowInfo]:
    windows = []
    for line in lines:
        row = _split(line, _WINDOW_FIELDS)
        if row is None or not row["window_id"].startswith("@"):
            continue
        try:
            layout: LayoutNode | None = parse_layout(row["window_visible_layout"])
        except LayoutError:
            layout = None
        windows.append(
            WindowInfo(
                id=row["window_id"],
                index=_int(row["window_index"]),
                active=row["window_active"] == "1",
                zoomed=row["window_zoomed_flag"] == "1",
                activity=row["window_activity_flag"] == "1",
                bell=row["window_bell_flag"] == "1",
                width=_int(row["window_width"]),
                height=_int(row["window_height"]),
                layout=layout,
                name=unvis(row["window_name"]),
            )
        )
    return windows


@dataclass(frozen=True, slots=True)
class PaneInfo:
    id: str
    window: str
    index: int
    x: int
    y: int
    width: int
    height: int
    active: bool
    dead: bool
    in_mode: bool
    alternate_on: bool
    cursor_x: int
    cursor_y: int
    cursor_visible: bool
    modes: tuple[tuple[str, bool], ...]
    scroll_upper: int
    scroll_lower: int
    history_size: int
    dead_status: int | None
    current_command: str
    current_path: str
    title: str

    def geometry(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
            "active": self.active,
        }

    def details(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "current_command": self.current_command,
            "current_path": self.current_path,
            "in_mode": self.in_mode,
            "dead": self.dead,
        }

    def to_json(self, content: str) -> dict[str, Any]:
        return {
            **self.geometry(),
            **self.details(),
            "window": self.window,
            "index": self.index,
            "alternate_on": self.alternate_on,
            "cursor": {"x": self.cursor_x, "y": self.cursor_y, "visible": self.cursor_visible},
            "content": content,
        }

    def content(self, history: list[str], saved: list[str], visible: list[str]) -> str:
        """Rebuild the pane from the replies to `capture_lines()`."""
        if self.history_size == 0:
            # `-S -N -E -1` with no history returns the first visible line.
            history = []
        if self.alternate_on:
            screen = _join(history + saved) + "\x1b[?1049h\x1b[H" + _join(visible)
        else:
            screen = _join(history + visible)
        return screen + "\x1b[0m" + self._modes()

    def _modes(self) -> str:
        out = []
        if 0 <= self.scroll_upper < self.scroll_lower < self.height and (
            self.scroll_upper != 0 or self.scroll_lower != self.height - 1
        ):
            out.append(f"\x1b[{self.scroll_upper + 1};{self.scroll_lower + 1}r")
        for seq, on in self.modes:
            if on:
                out.append(seq)
        out.append(f"\x1b[{self.cursor_y + 1};{self.cursor_x + 1}H")
        if not self.cursor_visible:
            out.append("\x1b[?25l")
        return "".join(out)


def _join(lines: list[str]) -> str:
    return "\r\n".join("\x1b[0m" + line for line in lines)


# (escape sequence that turns the mode on, tmux format that says it is on)
_MODE_FLAGS = (
    ("\x1b[4h", "insert_flag"),
    ("\x1b[?1h", "keypad_cursor_flag"),
    ("\x1b=", "keypad_flag"),
    ("\x1b[?1000h", "mouse_standard_flag"),
    ("\x1b[?1002h", "mouse_button_flag"),
    ("\x1b[?1003h", "mouse_all_flag"),  # mouse_any_flag is set for every mouse mode
    ("\x1b[?1006h", "mouse_sgr_flag"),
    ("\x1b[?6h", "origin_flag"),
)


def parse_panes(lines: list[str]) -> list[PaneInfo]:
    panes = []
    for line in lines:
        row = _split(line, _PANE_FIELDS)
        if row is None or not row["pane_id"].startswith("%"):
            continue
        modes = tuple((seq, row[name] == "1") for seq, name in _MODE_FLAGS)
        if row["wrap_flag"] == "0":
            modes += (("\x1b[?7l", True),)
        panes.append(
            PaneInfo(
                id=row["pane_id"],
                window=row["window_id"],
                index=_int(row["pane_index"]),
                x=_int(row["pane_left"]),
                y=_int(row["pane_top"]),
                width=_int(row["pane_width"]),
                height=_int(row["pane_height"]),
                active=row["pane_active"] == "1",
                dead=row["pane_dead"] == "1",
                in_mode=row["pane_in_mode"] == "1",
                alternate_on=row["alternate_on"] == "1",
                cursor_x=_int(row["cursor_x"]),
                cursor_y=_int(row["cursor_y"]),
                cursor_visible=row["cursor_flag"] == "1",
                modes=modes,
                scroll_upper=_int(row["scroll_region_upper"]),
                scroll_lower=_int(row["scroll_region_lower"]),
                history_size=_int(row["history_size"]),
                dead_status=_int(row["pane_dead_status"]) if row["pane_dead_status"] else None,
                current_command=row["pane_current_command"],
                current_path=row["pane_current_path"],
                title=row["pane_title"],
            )
        )
    return panes


@dataclass(frozen=True, slots=True)
class Structure:
    """Windows and panes of one session at one moment."""

    windows: dict[str, WindowInfo]
    panes: dict[str, PaneInfo]

    @classmethod
    def parse(cls, window_lines: list[str], pane_lines: list[str]) -> Structure:
        return cls(
            windows={w.id: w for w in parse_windows(window_lines)},
            panes={p.id: p for p in parse_panes(pane_lines)},
        )

    @property
    def active_window(self) -> str | None:
        return next((w.id for w in self.windows.values() if w.active), None)

    def active_pane(self, window: str) -> str | None:
        return next((p.id for p in self.panes.values() if p.window == window and p.active), None)

    def window_json(self, window: str) -> dict[str, Any]:
        return self.windows[window].to_json(self.active_pane(window))

    def layout_json(self, window: str) -> dict[str, Any]:
        info = self.windows[window]
        return {
            "window": window,
            "layout": to_json(info.layout) if info.layout else None,
            "zoomed": info.zoomed,
            "width": info.width,
            "height": info.height,
            "panes": [p.geometry() for p in self.panes.values() if p.window == window],
        }

    def layout_key(self, window: str) -> tuple[Any, ...]:
        info = self.windows[window]
        geometry = tuple(
            (p.id, p.x, p.y, p.width, p.height) for p in self.panes.values() if p.window == window
        )
        return (info.layout, info.zoomed, info.width, info.height, geometry)

    def changes_to(self, new: Structure) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        """What changed from this structure to `new`: the events that say it,
        in the order watchers must apply them, and the panes that are new
        (the hub captures those and announces each as `pane-added`)."""
        old = self
        events: list[tuple[str, dict[str, Any]]] = []
        for wid in new.windows.keys() - old.windows.keys():
            events.append(("window-added", {"window": new.window_json(wid)}))
        for pid in old.panes.keys() - new.panes.keys():
            events.append(("pane-closed", {"pane": pid}))
        for wid, info in new.windows.items():
            before = old.windows.get(wid)
            if before is not None and before.name != info.name:
                events.append(("window-renamed", {"window": wid, "name": info.name}))
            if before is not None and (before.activity, before.bell) != (info.activity, info.bell):
                events.append(("window-flags", {"window": wid, "activity": info.activity, "bell": info.bell}))
            if before is None or old.layout_key(wid) != new.layout_key(wid):
                events.append(("layout", new.layout_json(wid)))
            if before is not None and old.active_pane(wid) != new.active_pane(wid):
                events.append(("pane-selected", {"window": wid, "pane": new.active_pane(wid)}))
        # After the layouts: a pane moved out of a closing window (join-pane)
        # is already in its new window's layout when the window goes.
        for wid in old.windows.keys() - new.windows.keys():
            events.append(("window-closed", {"window": wid}))
        if old.active_window != new.active_window and new.active_window is not None:
            events.append(("window-selected", {"window": new.active_window}))
        added: list[str] = []
        for pid, pane in new.panes.items():
            before_pane = old.panes.get(pid)
            if before_pane is None:
                added.append(pid)
            elif before_pane.details() != pane.details():
                events.append(("pane-changed", {"pane": pid, **pane.details()}))
        return events, added
