"""tmuxweb.tmux.snapshot: the query lines it defines are run through a
private tmux 3.3a (`source-file`, so tmux's own parser reads them exactly as
the control client would send them), and its parsers and `content()` are fed
the replies tmux really gives."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import TMUX, TmuxServer, new_tmux_server, tmux_env, wait_until
from tmuxweb.tmux.commands import escape_format, quote_text
from tmuxweb.tmux.layout import to_json
from tmuxweb.tmux.snapshot import (
    PaneInfo,
    Structure,
    capture_lines,
    list_panes,
    list_window_panes,
    list_windows,
    parse_panes,
    parse_windows,
    unescape_capture,
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


def snapshot_content(tmux: TmuxServer, pane: str, history: int = 1000) -> tuple[PaneInfo, str]:
    """What the hub builds for a pane, from real replies to capture_lines()."""
    details, history_q, saved_q, visible_q, pending_q = capture_lines(pane, history)
    info = pane_info(tmux, pane)
    assert details == list_window_panes(pane)
    _, hist = reply(tmux, history_q)
    saved_ok, saved = reply(tmux, saved_q)
    visible_ok, visible = reply(tmux, visible_q)
    assert visible_ok
    return info, info.content(hist, saved if saved_ok else [], visible)


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


def test_capture_lines_target_the_pane_and_end_with_the_pending_escape() -> None:
    lines = capture_lines("%7", 500)
    assert lines[0] == list_window_panes("%7")
    assert lines[1] == "capture-pane -p -e -S -500 -E -1 -t '%7'"
    assert "-a" in lines[2].split() and lines[3] == "capture-pane -p -e -t '%7'"
    assert lines[4] == "capture-pane -p -P -C -t '%7'"


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
    info, content = snapshot_content(tmux_server, "%0")
    assert info.history_size == 0
    _, hist = reply(tmux_server, capture_lines("%0", 1000)[1])
    assert hist, "tmux answers the first visible line when there is no history"
    screen = render(info, content)
    assert [line.rstrip() for line in screen.display] == shown(tmux_server, "%0")
    assert content.count("first-and-only") == 2  # the command line and its output, once each


def test_alternate_screen_is_rebuilt_over_the_saved_normal_screen(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "echo normal-screen-line; printf '\\033[?1049h\\033[HALT-SCREEN\\033[3;7H'; cat")
    wait_until(lambda: pane_info(tmux_server, "%0").alternate_on, what="alternate screen")
    tmux_server.wait_for_text("%0", "ALT-SCREEN")
    info, content = snapshot_content(tmux_server, "%0")
    assert (info.cursor_x, info.cursor_y) == (6, 2)
    saved_ok, saved = reply(tmux_server, capture_lines("%0", 1000)[2])
    assert saved_ok and any("normal-screen-line" in line for line in saved)
    before, _, after = content.partition("\x1b[?1049h\x1b[H")
    assert "normal-screen-line" in before and "ALT-SCREEN" in after and "normal-screen-line" not in after
    # pyte has no alternate screen; a terminal switching to it starts blank
    screen = render(info, after)
    assert [line.rstrip() for line in screen.display] == shown(tmux_server, "%0")
    assert (screen.cursor.x, screen.cursor.y) == (6, 2)


def test_unfinished_escape_sequence_is_captured_and_unescaped(tmux_server: TmuxServer) -> None:
    tmux_server.wait_for_prompt()
    type_line(tmux_server, "%0", "printf '\\033[3'; cat")
    wait_until(lambda: reply(tmux_server, capture_lines("%0", 0)[4])[1], what="pending escape")
    ok, pending = reply(tmux_server, capture_lines("%0", 0)[4])
    assert ok and pending == ["\\033[3"]
    assert unescape_capture(tuple(line.encode() for line in pending)) == "\x1b[3"


@pytest.mark.parametrize(
    ("lines", "text"),
    [
        ((b"plain",), "plain"),
        ((b"\\033[1;3",), "\x1b[1;3"),
        ((b"a\\\\b",), "a\\b"),
        ((b"\\\\033",), "\\033"),
        ((b"one", b"two"), "one\ntwo"),
        ((b"\\303\\251",), "é"),
        ((b"\\377",), "\ufffd"),
        ((b"\\x",), "\\x"),
        ((b"\\03",), "\\03"),
    ],
)
def test_unescape_capture(lines: tuple[bytes, ...], text: str) -> None:
    assert unescape_capture(lines) == text


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
