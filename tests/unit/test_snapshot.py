"""tmuxweb.tmux.snapshot: the query lines it defines are run through a
private tmux 3.3a (`source-file`, so tmux's own parser reads them exactly as
the control client would send them; captures through a real `tmux -C`
client, because show-buffer escapes its output for control clients only),
and its parsers and `content()` are fed the replies tmux really gives."""

from __future__ import annotations

import itertools
import os
import re
import selectors
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import TMUX, TmuxServer, new_tmux_server, tmux_env, wait_until
from tmuxweb.tmux.cmdline import escape_format, quote_text
from tmuxweb.tmux.layout import to_json
from tmuxweb.tmux.protocol import Notification, Parser, Reply
from tmuxweb.tmux.snapshot import (
    CAPTURES,
    PaneInfo,
    Structure,
    buffer_text,
    capture_lines,
    list_panes,
    list_window_panes,
    list_windows,
    parse_panes,
    parse_windows,
    split_capture,
    unescape_shown,
    unvis,
)

_scripts = itertools.count()


def reply(tmux: TmuxServer, *lines: str) -> tuple[bool, list[str]]:
    """Run command lines as tmux's parser reads them; (all ok, output lines)."""
    script = tmux.config_path.parent / f"query-{next(_scripts)}.tmux"
    script.write_bytes(("\n".join(lines) + "\n").encode())
    result = subprocess.run(
        [TMUX, "-u", "-L", tmux.socket_name, "source-file", str(script)],
        capture_output=True,
        env=tmux_env(),
        timeout=20,
    )
    out = result.stdout.decode("utf-8", "replace").split("\n")
    if out and out[-1] == "":
        out.pop()
    return result.returncode == 0, out


def type_line(tmux: TmuxServer, pane: str, line: str) -> None:
    tmux.run("send-keys", "-t", pane, "-l", line)
    tmux.run("send-keys", "-t", pane, "Enter")


def pane_info(tmux: TmuxServer, pane: str) -> PaneInfo:
    ok, lines = reply(tmux, list_window_panes(pane))
    assert ok
    return next(p for p in parse_panes(lines) if p.id == pane)


def control(tmux: TmuxServer, lines: list[str], timeout: float = 10.0) -> list[Reply]:
    """Run command lines through a real `tmux -C` client attached to `main`,
    written at once as the hub writes a batch; their replies, in order."""
    proc = subprocess.Popen(
        [TMUX, "-u", "-L", tmux.socket_name, "-C", "attach-session", "-t", "main"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=tmux_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    parser, replies, attached = Parser(), [], False
    deadline = time.monotonic() + timeout
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while len(replies) < len(lines):
                assert time.monotonic() < deadline, f"tmux answered {len(replies)} of {len(lines)} lines"
                if not sel.select(0.1):
                    continue
                data = os.read(proc.stdout.fileno(), 65536)
                assert data, "tmux -C ended"
                for event in parser.feed(data):
                    if isinstance(event, Reply) and event.flags == 1:
                        replies.append(event)
                    elif isinstance(event, Notification) and event.name == "session-changed" and not attached:
                        # Attached (TMUX-NOTES: nothing may be sent before).
                        attached = True
                        proc.stdin.write("".join(line + "\n" for line in lines).encode())
                        proc.stdin.flush()
        return replies
    finally:
        proc.stdin.close()  # a clean detach
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


def captured(tmux: TmuxServer, pane: str, history: int = 1000) -> tuple[PaneInfo, list[list[str] | None]]:
    """A pane's details and CAPTURES, taken as the hub takes them."""
    details, captures = split_capture(control(tmux, capture_lines(pane, history, "tmuxweb-cap-test-1")))
    info = next(p for p in parse_panes([line.decode() for line in details.lines]) if p.id == pane)
    return info, [buffer_text(shown.lines) if shown.ok else None for _, shown in captures]


def snapshot_content(tmux: TmuxServer, pane: str, history: int = 1000) -> tuple[PaneInfo, str]:
    """What the hub builds for a pane, from real replies to capture_lines()."""
    info, (hist, saved, visible, _) = captured(tmux, pane, history)
    assert visible is not None
    return info, info.content(hist or [], saved or [], visible)


def printed_captures(pane: str, history: int = 1000) -> list[str]:
    """The `capture-pane -p` lines that capture_lines() replaces with buffers."""
    return [
        re.sub(r" -b \S+", " -p", line)
        for line in capture_lines(pane, history, "x")
        if line.startswith("capture-pane")
    ]


def render(info: PaneInfo, content: str) -> pyte.Screen:
    screen = pyte.Screen(info.width, info.height)
    pyte.Stream(screen).feed(content)
    return screen


def shown(tmux: TmuxServer, pane: str) -> list[str]:
    return [line.rstrip() for line in tmux.capture(pane).split("\n")][: pane_info(tmux, pane).height]


# -- windows ---------------------------------------------------------------------


def test_windows_are_parsed_from_real_list_windows_output(tmux_server: TmuxServer) -> None:
    name = "tab\there $HOME \\ 'q' \"q\" ;é🙂"
    tmux_server.run("new-window", "-t", "main:")
    tmux_server.run("split-window", "-h", "-t", "main:1")
    tmux_server.run("rename-window", "-t", "main:1", name)
    ok, lines = reply(tmux_server, list_windows("$0"))
    assert ok and len(lines) == 2
    first, second = parse_windows(lines)
    assert (first.id, first.index, first.active) == ("@0", 0, False)
    assert (second.id, second.index, second.active) == ("@1", 1, True)
    assert second.name == name  # a tab in the name cannot shift the columns
    assert (second.width, second.height) == (120, 40)
    assert second.layout is not None
    tree = to_json(second.layout)
    assert tree["type"] == "row" and [c["pane"] for c in tree["children"]] == ["%1", "%2"]


def test_lines_that_are_not_window_rows_are_skipped() -> None:
    assert parse_windows(["", "garbage", "%1\tx", "no tabs at all @1"]) == []
    assert parse_panes(["", "garbage", "@1\t%1"]) == []


def test_zoomed_window_reports_zoom_and_the_zoomed_layout(tmux_server: TmuxServer) -> None:
    tmux_server.run("split-window", "-v", "-t", "%0")
    tmux_server.run("resize-pane", "-Z", "-t", "%0")
    _, lines = reply(tmux_server, list_windows("$0"))
    (window,) = parse_windows(lines)
    assert window.zoomed
    assert window.layout is not None and to_json(window.layout)["type"] == "pane"


# -- panes -------------------------------------------------------------------------


def test_panes_are_parsed_with_geometry_matching_tmux(tmux_server: TmuxServer) -> None:
    tmux_server.run("split-window", "-h", "-t", "%0")
    tmux_server.run("split-window", "-v", "-t", "%1")
    tmux_server.wait_for_prompt("%0")
    ok, lines = reply(tmux_server, list_panes("$0"))
    assert ok
    panes = {p.id: p for p in parse_panes(lines)}
    assert set(panes) == {"%0", "%1", "%2"}
    for pane in panes.values():
        truth = tmux_server.run(
            "display", "-p", "-t", pane.id, "#{pane_left} #{pane_top} #{pane_width} #{pane_height} #{pane_active} #{window_id}"
        ).split()
        assert [pane.x, pane.y, pane.width, pane.height] == [int(v) for v in truth[:4]]
        assert pane.active is (truth[4] == "1") and pane.window == truth[5]
    assert panes["%2"].active and not panes["%0"].active
    zero = panes["%0"]
    assert zero.current_command == "bash"
    assert not zero.alternate_on and not zero.dead and not zero.in_mode and zero.cursor_visible
    structure = Structure.parse(reply(tmux_server, list_windows("$0"))[1], lines)
    assert structure.active_window == "@0" and structure.active_pane("@0") == "%2"


def structure_of(tmux: TmuxServer) -> Structure:
    return Structure.parse(reply(tmux, list_windows("$0"))[1], reply(tmux, list_panes("$0"))[1])


def test_structure_changes_name_what_changed_in_the_order_watchers_apply_them(tmux_server: TmuxServer) -> None:
    before = structure_of(tmux_server)
    assert before.changes_to(before) == ([], [])
    tmux_server.run("split-window", "-h", "-t", "%0")
    tmux_server.run("new-window", "-d", "-t", "$0")
    tmux_server.run("rename-window", "-t", "@0", "renamed")
    after = structure_of(tmux_server)
    events, added = before.changes_to(after)
    names = [name for name, _ in events]
    assert sorted(added) == ["%1", "%2"]
    assert names[0] == "window-added" and events[0][1]["window"]["id"] == "@1"
    assert ("window-renamed", {"window": "@0", "name": "renamed"}) in events
    assert names.index("window-renamed") < names.index("layout") < names.index("pane-selected")
    assert {p["id"] for p in events[names.index("layout")][1]["panes"]} == {"%0", "%1"}
    back, _ = after.changes_to(before)
    assert ("pane-closed", {"pane": "%1"}) in back and ("window-closed", {"window": "@1"}) in back
    assert [n for n, _ in back].index("layout") < [n for n, _ in back].index("window-closed")


def test_pane_modes_and_hidden_cursor_are_restored_in_the_right_order(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "clear; printf '\\033[?1000h\\033[?1006h\\033=\\033[?1h\\033[5;20r\\033[?25l\\033[7;9H'; cat")
    wait_until(lambda: pane_info(tmux_server, "%0").scroll_upper == 4, what="scroll region set")
    info = pane_info(tmux_server, "%0")
    on = {seq for seq, enabled in info.modes if enabled}
    assert {"\x1b[?1000h", "\x1b[?1006h", "\x1b=", "\x1b[?1h"} <= on
    assert "\x1b[?1002h" not in on and "\x1b[4h" not in on
    assert not info.cursor_visible and (info.scroll_upper, info.scroll_lower) == (4, 19)
    modes = info.content([], [], [])
    # DECSTBM moves the cursor home, so it must come before the cursor position
    assert modes.index("\x1b[5;20r") < modes.index(f"\x1b[{info.cursor_y + 1};{info.cursor_x + 1}H")
    assert modes.endswith("\x1b[?25l")


def test_click_tracking_is_not_restored_as_all_motion_tracking(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "printf '\\033[?1000h'; cat")
    wait_until(lambda: ("\x1b[?1000h", True) in pane_info(tmux_server, "%0").modes, what="mouse mode")
    on = {seq for seq, enabled in pane_info(tmux_server, "%0").modes if enabled}
    assert "\x1b[?1003h" not in on


# -- capture and content ----------------------------------------------------------


def test_capture_lines_capture_into_named_buffers_never_with_p() -> None:
    lines = capture_lines("%7", 500, "tmuxweb-cap-e-3")
    assert lines[0] == list_window_panes("%7")
    assert len(lines) == 1 + 3 * len(CAPTURES)
    assert not any(" -p" in line.split("'")[0] for line in lines)  # tmux#4590
    for i in range(len(CAPTURES)):
        capture, show, delete = lines[1 + 3 * i : 4 + 3 * i]
        name = f"'tmuxweb-cap-e-3-{i}'"
        assert capture.startswith("capture-pane ") and capture.endswith(f" -b {name} -t '%7'")
        assert (show, delete) == (f"show-buffer -b {name}", f"delete-buffer -b {name}")
    assert lines[1].startswith("capture-pane -e -S -500 -E -1 ")
    assert " -a " in lines[4] and lines[10].startswith("capture-pane -P ")
    assert printed_captures("%7", 500)[0] == "capture-pane -e -S -500 -E -1 -p -t '%7'"


def test_content_reproduces_screen_colours_and_cursor_after_history(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "for i in $(seq 1 70); do printf '\\033[31mred %d\\033[0m plain\\n' $i; done")
    tmux_server.wait_for_text("%0", "red 70 plain")
    tmux_server.wait_for_prompt()
    info, content = snapshot_content(tmux_server, "%0")
    assert info.history_size > 0
    screen = render(info, content)
    assert [line.rstrip() for line in screen.display] == shown(tmux_server, "%0")
    row = next(y for y, line in enumerate(screen.display) if line.startswith("red 70"))
    assert screen.buffer[row][0].fg == "red" and screen.buffer[row][8].fg == "default"
    assert (screen.cursor.x, screen.cursor.y) == (info.cursor_x, info.cursor_y)


def test_pane_without_history_does_not_repeat_its_first_line(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "echo first-and-only")
    tmux_server.wait_for_text("%0", "first-and-only\n")
    info, (hist, _, _, _) = captured(tmux_server, "%0")
    assert info.history_size == 0
    assert hist, "tmux answers the first visible line when there is no history"
    _, content = snapshot_content(tmux_server, "%0")
    screen = render(info, content)
    assert [line.rstrip() for line in screen.display] == shown(tmux_server, "%0")
    assert content.count("first-and-only") == 2  # the command line and its output, once each


def test_alternate_screen_is_rebuilt_over_the_saved_normal_screen(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "echo normal-screen-line; printf '\\033[?1049h\\033[HALT-SCREEN\\033[3;7H'; cat")
    wait_until(lambda: pane_info(tmux_server, "%0").alternate_on, what="alternate screen")
    tmux_server.wait_for_text("%0", "ALT-SCREEN")
    info, (_, saved, _, _) = captured(tmux_server, "%0")
    assert (info.cursor_x, info.cursor_y) == (6, 2)
    assert saved is not None and any("normal-screen-line" in line for line in saved)
    _, content = snapshot_content(tmux_server, "%0")
    before, _, after = content.partition("\x1b[?1049h\x1b[H")
    assert "normal-screen-line" in before and "ALT-SCREEN" in after and "normal-screen-line" not in after
    # pyte has no alternate screen; a terminal switching to it starts blank
    screen = render(info, after)
    assert [line.rstrip() for line in screen.display] == shown(tmux_server, "%0")
    assert (screen.cursor.x, screen.cursor.y) == (6, 2)


def test_unfinished_escape_sequence_is_captured_raw(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "printf '\\033[3'; cat")
    wait_until(lambda: captured(tmux_server, "%0", 0)[1][3], what="pending escape")
    _, (_, _, _, pending) = captured(tmux_server, "%0", 0)
    assert pending == ["\x1b[3"]


def test_nothing_pending_is_no_buffer_and_reads_as_nothing(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    _, (_, saved, visible, pending) = captured(tmux_server, "%0")
    assert visible is not None and saved is None and pending is None


# -- the buffer path gives exactly what capture-pane -p gave -----------------------

# Pane content with everything show-buffer escapes and capture -e produces:
# backslashes (also before digits and letters, as in a printed `\033`),
# colours, UTF-8 (wide, combining, zero-width), tabs, trailing spaces, a
# line as wide as the pane, and blank lines.
CONTENT = (
    "plain \\ back\\slash \\033 \\0 \\n \\\\ end $HOME ${x} $1 \\$a\r\n"
    "\x1b[31mred\x1b[0m \x1b[1;4;38;5;200mbold\x1b[0m \x1b[48;2;1;2;3mrgb\x1b[0m\r\n"
    "tab\there\ttoo   \r\n"
    "日本語 🎉 👩\u200d👩\u200d👧 e\u0301 \u00a0nbsp \u200bzw ñ ∑\r\n"
    + "W" * 80 + "\r\n\r\n\r\n"
    "trailing spaces   \r\n"
)


def show_content(tmux: TmuxServer, tmp: Path, text: str) -> None:
    (tmp / "content.bin").write_bytes(text.encode())
    tmux.run("resize-window", "-t", "main", "-x", "80", "-y", "24")
    tmux.wait_for_prompt()
    type_line(tmux, "%0", f"clear; for i in $(seq 1 30); do cat {tmp / 'content.bin'}; done; printf DONE-%s 1")
    tmux.wait_for_text("%0", "DONE-1")


def test_buffer_captures_equal_capture_pane_p(tmux_server: TmuxServer, tmp_path: Path) -> None:
    show_content(tmux_server, tmp_path, CONTENT)
    replies = control(tmux_server, printed_captures("%0") + capture_lines("%0", 1000, "tmuxweb-cap-cmp-1"))
    printed, (_, captures) = replies[: len(CAPTURES)], split_capture(replies[len(CAPTURES) :])
    for kind, direct, (_, shown) in zip(CAPTURES, printed, captures):
        if kind == "saved":  # no alternate screen: both fail
            assert not direct.ok and not shown.ok
        elif kind == "pending":  # nothing pending: one empty line, or no buffer at all
            assert direct.lines == (b"",) and not shown.ok
        else:
            assert buffer_text(shown.lines) == [line.decode("utf-8", "replace") for line in direct.lines], kind
    history = buffer_text(captures[0][1].lines)
    assert any("\\033" in line and "\x1b" not in line.split("\\033")[0] for line in history)
    assert any("\x1b[31m" in line for line in history)


def test_buffer_captures_equal_capture_pane_p_on_the_alternate_screen(tmux_server: TmuxServer, tmp_path: Path) -> None:
    show_content(tmux_server, tmp_path, CONTENT)
    type_line(tmux_server, "%0", f"printf '\\033[?1049h\\033[H'; cat {tmp_path / 'content.bin'}; printf '\\033[4'; cat")
    wait_until(lambda: pane_info(tmux_server, "%0").alternate_on, what="alternate screen")
    tmux_server.wait_for_text("%0", "trailing spaces")
    replies = control(tmux_server, printed_captures("%0") + capture_lines("%0", 1000, "tmuxweb-cap-cmp-2"))
    printed, (_, captures) = replies[: len(CAPTURES)], split_capture(replies[len(CAPTURES) :])
    for kind, direct, (_, shown) in zip(CAPTURES, printed, captures):
        assert direct.ok and shown.ok, kind
        assert buffer_text(shown.lines) == [line.decode("utf-8", "replace") for line in direct.lines], kind


def test_show_buffer_escaping_is_undone_for_every_byte(tmux_server: TmuxServer, tmp_path: Path) -> None:
    """Each byte value, alone and before digits and letters, in a buffer
    loaded from a file: show-buffer's reply reads back to the same bytes."""
    samples = [bytes([b]) + tail for b in range(256) if b != 10 for tail in (b"", b"0", b"7", b"8", b"a")]
    samples += [bytes([a, b]) for a in range(32, 127) for b in range(32, 127)]  # `$a` is shown as `\$a`
    samples += [b"\\0", b"\\000", b"\\\\", "é🙂\u0085\u0378 $é $🙂 $\u0378".encode(), b"\xc3(", b"x\x00\x001"]
    data = b"<" + b">\n<".join(samples) + b">"
    (tmp_path / "all.bin").write_bytes(data)
    load, show, delete = control(
        tmux_server, [f"load-buffer -b t {tmp_path / 'all.bin'}", "show-buffer -b t", "delete-buffer -b t"]
    )
    assert load.ok and show.ok and delete.ok
    assert [unescape_shown(line) for line in show.lines] == data.split(b"\n")


def test_a_capture_leaves_no_buffer_behind_and_paste_buffer_still_pastes_the_users(tmux_server: TmuxServer) -> None:
    tmux_server.run("set-buffer", "users-text")
    control(tmux_server, capture_lines("%0", 1000, "tmuxweb-cap-left-1") + ["display -p ok"])
    assert tmux_server.run("list-buffers", "-F", "#{buffer_name}").split() == ["buffer0"]
    assert tmux_server.run("show-buffer") == "users-text"


@pytest.mark.parametrize(
    ("line", "data"),
    [
        (b"plain", b"plain"),
        (b"\\033[1;3", b"\x1b[1;3"),
        (b"a\\\\b", b"a\\b"),
        (b"\\\\033", b"\\033"),
        (b"\\303\\251", "é".encode()),
        (b"\\0", b"\x00"),
        (b"\\0001", b"\x001"),
        (b"\\08", b"\x008"),
        (b"\\t\\r\\a\\b\\v\\f", b"\t\r\a\b\v\f"),
        (b"\\x", b"\\x"),
        (b"end\\", b"end\\"),
        (b"\\$HOME \\${x} $1 $", b"$HOME ${x} $1 $"),
    ],
)
def test_unescape_shown(line: bytes, data: bytes) -> None:
    assert unescape_shown(line) == data


@pytest.mark.parametrize(
    ("lines", "text"),
    [
        ((b"one", b"two", b""), ["one", "two"]),  # the buffer's final newline
        ((b"one", b"", b""), ["one", ""]),
        ((b"no-newline",), ["no-newline"]),
        ((b"\\377",), ["\ufffd"]),
    ],
)
def test_buffer_text(lines: tuple[bytes, ...], text: list[str]) -> None:
    assert buffer_text(lines) == text


# -- names: tmux stores them escaped, unvis reads them back -------------------------


@pytest.mark.parametrize(
    ("stored", "name"),
    [
        ("plain", "plain"),
        ("\\$HOME", "$HOME"),
        ("a\\\\b", "a\\b"),
        ("a\\tb\\nc", "a\tb\nc"),
        ("\\033[31m", "\x1b[31m"),
        ("\\177", "\x7f"),
        ("\\\\101", "\\101"),
        ("\\\\n", "\\n"),
        ("trailing\\", "trailing\\"),
        ("\\q", "\\q"),
    ],
)
def test_unvis_reads_back_what_tmux_stored(stored: str, name: str) -> None:
    assert unvis(stored) == name


@pytest.fixture(scope="module")
def naming_tmux(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TmuxServer]:
    server = new_tmux_server(tmp_path_factory.mktemp("names"))
    server.start("main", 80, 24)
    try:
        yield server
    finally:
        server.kill()


def stored_names(tmux: TmuxServer, names: list[str]) -> list[str]:
    """Rename a window to each name (given as our quoting gives it) and read
    back what tmux stored, as list-windows reports it to the hub."""
    lines = []
    for name in names:
        lines.append(f"rename-window -t @0 -- {quote_text(escape_format(name))}")
        lines.append("display-message -p -t @0 '#{window_name}'")
    ok, out = reply(tmux, *lines)
    assert ok
    return out


# Characters of every kind, controls (C0, DEL, C1) and unassigned ones
# included: tmux escapes what it cannot print, C1 and unassigned characters
# as the octal escapes of their UTF-8 bytes. Not NUL (tmux strings end
# there), not private-use characters (tmux drops them), not '#[' (see
# test_command_builder).
NAME_CHARS = st.characters(
    categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Cn"), exclude_characters="\x00", max_codepoint=0x10FFFF
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(st.text(NAME_CHARS, min_size=1, max_size=12).filter(lambda s: "#[" not in s), min_size=1, max_size=10))
def test_names_read_back_from_tmux_equal_the_names_given(naming_tmux: TmuxServer, names: list[str]) -> None:
    stored = stored_names(naming_tmux, names)
    assert "\t" not in "".join(stored) and len(stored) == len(names)
    assert [unvis(s) for s in stored] == names


@pytest.mark.parametrize("char", ["\U0001FAE8", "\u0378", "\x85", "\u009b"])
def test_unvis_decodes_octal_escaped_utf8_as_one_character(naming_tmux: TmuxServer, char: str) -> None:
    (stored,) = stored_names(naming_tmux, [f"x{char}y"])
    assert "\\" in stored  # tmux escaped it byte by byte
    assert unvis(stored) == f"x{char}y"
