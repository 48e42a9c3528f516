"""tmuxweb.tmux.cmdline: the quoting and checks that keep client strings
from ever becoming tmux syntax.

The oracle is real tmux 3.3a: generated words are quoted by our functions,
written to a file and run through tmux's own command parser with
`source-file`; what tmux stored (`save-buffer` writes it back byte for byte)
or expanded (`set-option -F`, then `show-options`) must be exactly the original.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import TMUX, TmuxServer, new_tmux_server, tmux_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmuxweb.tmux import cmdline
from tmuxweb.tmux.cmdline import (
    HEX_CHUNK,
    KEY,
    MAX_NAME,
    check_keys,
    check_name,
    check_pane,
    check_session_id,
    check_session_name,
    check_window,
    escape_format,
    quote,
    quote_text,
    send_bytes,
)
from tmuxweb.tmux.errors import InvalidArgument

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A few examples per property: every example costs one tmux client run.
REAL_TMUX = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Parser:
    """Runs command lines through a private tmux server's command parser."""

    tmux: TmuxServer
    workdir: Path
    counter: Iterator[int]

    def source(self, lines: list[str]) -> subprocess.CompletedProcess[bytes]:
        script = self.workdir / f"script-{next(self.counter)}.tmux"
        script.write_bytes(("\n".join(lines) + "\n").encode())
        return subprocess.run(
            [TMUX, "-u", "-L", self.tmux.socket_name, "source-file", str(script)],
            capture_output=True,
            env=tmux_env(),
            timeout=20,
        )

    def stored(self, set_buffer_lines: list[str]) -> list[bytes | None]:
        """Run `set-buffer -b bN …` lines; what each buffer holds (None: no buffer)."""
        run = next(self.counter)
        paths = [self.workdir / f"buffer-{run}-{i}" for i in range(len(set_buffer_lines))]
        saves = [f"save-buffer -b b{i} {quote(str(path))}" for i, path in enumerate(paths)]
        deletes = [f"delete-buffer -b b{i}" for i in range(len(paths))]
        # tmux goes on after a failing line, so one script does it all.
        self.source([line for pair in zip(set_buffer_lines, saves) for line in pair] + deletes)
        return [path.read_bytes() if path.exists() else None for path in paths]

    def expanded(self, formats: list[str]) -> list[str]:
        """What tmux's format expansion makes of each (already quoted) word.

        `set-option -F` expands as rename-window and new-window -n do
        (display-message would also run strftime over `%`). set-option takes
        no `--`: words must not start with `-`, as names never do."""
        lines = [f"set-option -gF @tw{i} {f}" for i, f in enumerate(formats)]
        lines += [f"show-options -gv @tw{i}" for i in range(len(formats))]
        lines += [f"set-option -gu @tw{i}" for i in range(len(formats))]
        result = self.source(lines)
        assert result.returncode == 0, result.stderr
        return result.stdout.decode().split("\n")[: len(formats)]


@pytest.fixture(scope="module")
def tmux(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parser]:
    workdir = tmp_path_factory.mktemp("quoting")
    server = new_tmux_server(workdir)
    server.start("main", 80, 24)
    try:
        yield Parser(server, workdir, itertools.count())
    finally:
        server.kill()


# Text as clients send it: any Unicode scalar value, control characters,
# tmux syntax and quotes made likely.
TRICKY = st.sampled_from(list(";#{}$~'\"\\ -%@!`()*?[]\t\n\r\x1b\x7f") + ["#{pane_id}", "#(id)", "${HOME}", "\\n", "~/"])
ANY_TEXT = st.lists(st.one_of(TRICKY, st.text(min_size=1, max_size=6)), min_size=1, max_size=8).map("".join)
NO_CONTROL = ANY_TEXT.map(lambda s: CONTROL.sub("", s)).filter(bool)


# -- quote(): single-quoted words ---------------------------------------------


@REAL_TMUX
@given(words=st.lists(NO_CONTROL, min_size=1, max_size=12))
def test_quoted_word_reaches_tmux_byte_for_byte(tmux: Parser, words: list[str]) -> None:
    stored = tmux.stored([f"set-buffer -b b{i} -- {quote(w)}" for i, w in enumerate(words)])
    assert stored == [w.encode() for w in words]


@given(st.text(min_size=1).filter(lambda s: CONTROL.search(s) is not None))
def test_quote_refuses_control_characters_that_would_end_the_command_line(word: str) -> None:
    with pytest.raises(InvalidArgument):
        quote(word)


@given(NO_CONTROL)
def test_quoted_word_is_one_line_that_starts_and_ends_with_a_quote(word: str) -> None:
    quoted = quote(word)
    assert "\n" not in quoted and "\r" not in quoted
    assert quoted.startswith("'") and quoted.endswith("'")


def test_semicolon_in_a_quoted_word_does_not_start_a_second_command(tmux: Parser) -> None:
    marker = tmux.workdir / "second-command-ran"
    word = f"x ; run-shell 'touch {marker}' ; y"
    assert tmux.stored([f"set-buffer -b b0 -- {quote(word)}"]) == [word.encode()]
    assert not marker.exists()


# -- quote_text(): double-quoted text, newlines and control characters included --


@REAL_TMUX
@given(texts=st.lists(ANY_TEXT.map(lambda s: s.replace("\x00", "")).filter(bool), min_size=1, max_size=12))
def test_quoted_text_reaches_tmux_byte_for_byte(tmux: Parser, texts: list[str]) -> None:
    stored = tmux.stored([f"set-buffer -b b{i} -- {quote_text(t)}" for i, t in enumerate(texts)])
    assert stored == [t.encode() for t in texts]


@given(ANY_TEXT)
def test_quoted_text_is_a_single_line(text: str) -> None:
    quoted = quote_text(text)
    assert not re.search(r"[\x00-\x1f\x7f]", quoted)


def test_quoted_text_expands_no_home_variable_or_tilde(tmux: Parser) -> None:
    texts = ["~", "~root/x", "$HOME", "${HOME}", "a $HOME ~ b", "\\$HOME"]
    stored = tmux.stored([f"set-buffer -b b{i} -- {quote_text(t)}" for i, t in enumerate(texts)])
    assert stored == [t.encode() for t in texts]


def test_paste_with_a_nul_byte_is_refused_not_truncated() -> None:
    # tmux ends a quoted string at an escaped NUL, so it cannot be pasted whole.
    with pytest.raises(InvalidArgument, match="NUL"):
        cmdline.paste("%0", "before\x00after", "b0")


@pytest.mark.parametrize("text", ["- item", "-a", "--", "-w", "-b other"])
def test_paste_text_starting_with_a_dash_is_data_not_flags(tmux: Parser, text: str) -> None:
    set_buffer, paste_buffer = cmdline.paste("%0", text, "b0")
    assert paste_buffer.startswith("paste-buffer")
    assert tmux.stored([set_buffer]) == [text.encode()]


def test_paste_strips_escape_so_it_cannot_end_bracketed_paste(tmux: Parser) -> None:
    text = "safe\x1b[201~rm -rf ~\r"
    set_buffer, _ = cmdline.paste("%0", text, "b0")
    assert tmux.stored([set_buffer]) == [b"safe[201~rm -rf ~\r"]


# -- escape_format(): names survive tmux's format expansion -----------------------


@REAL_TMUX
@given(names=st.lists(NO_CONTROL.filter(lambda s: "#[" not in s and not s.startswith("-")), min_size=1, max_size=12))
def test_escaped_name_survives_format_expansion(tmux: Parser, names: list[str]) -> None:
    assert tmux.expanded([quote(escape_format(n)) for n in names]) == names


def test_format_and_shell_expansions_in_names_stay_literal(tmux: Parser) -> None:
    marker = tmux.workdir / "format-ran-a-shell"
    names = ["#{pane_id}", "#{session_name}", f"#(touch {marker})", "##", "a#", "#", "#{?1,a,b}", "#{E:HOME}"]
    assert tmux.expanded([quote(escape_format(n)) for n in names]) == names
    assert not marker.exists()


def test_name_with_a_style_sequence_survives_format_expansion(tmux: Parser) -> None:
    names = ["#[fg=red]x", "a#[b", "##[x"]
    assert tmux.expanded([quote(escape_format(n)) for n in names]) == names


# -- checks ------------------------------------------------------------------------


@pytest.mark.parametrize("pane", ["%0", "%12", "%123456789"])
def test_pane_ids_are_accepted(pane: str) -> None:
    assert check_pane(pane) == pane


@pytest.mark.parametrize(
    "pane",
    ["0", "%", "%-1", "% 1", "%1 ", "%1\n", "%1;kill-server", "%1 -t %2", "%1.0", "main:0.1", "%٣", "%1234567890", "@1", "$1", 1, None, ["%1"]],
)
def test_anything_but_a_pane_id_is_refused(pane: object) -> None:
    with pytest.raises(InvalidArgument):
        check_pane(pane)


@pytest.mark.parametrize("window", ["@0", "@42"])
def test_window_ids_are_accepted(window: str) -> None:
    assert check_window(window) == window


@pytest.mark.parametrize("window", ["0", "@", "@1\n", "@1;x", "main:1", "%1", "@1 ", "@١", 5])
def test_anything_but_a_window_id_is_refused(window: object) -> None:
    with pytest.raises(InvalidArgument):
        check_window(window)


@pytest.mark.parametrize("session", ["$a", "$", "1", "$1 ", "main", "$1;x", 1])
def test_anything_but_a_session_id_is_refused(session: object) -> None:
    with pytest.raises(InvalidArgument):
        check_session_id(session)
    assert check_session_id("$3") == "$3"


@pytest.mark.parametrize(
    "name",
    ["", "x" * (MAX_NAME + 1), "-t", "--", "-", " lead", "trail ", "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\tb", "a\x7fb", "a\x9bb", "a\u2028b", 5, None, ["x"]],
)
def test_bad_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidArgument):
        check_name(name)


@given(st.text(min_size=1, max_size=MAX_NAME))
def test_check_name_accepts_exactly_the_documented_names(name: str) -> None:
    documented = not CONTROL.search(name) and not name.startswith("-") and name == name.strip()
    try:
        check_name(name)
    except InvalidArgument:
        assert not documented
    else:
        assert documented
        quote(escape_format(name))  # every accepted name can be quoted


@pytest.mark.parametrize("name", ["a:b", "a.b", ":", "."])
def test_session_names_with_tmux_target_separators_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        check_session_name(name)


@pytest.mark.parametrize("keys", [["Enter"], ["C-c"], ["M-x", "Up", "F12", "a", ";", "-", "é"], ["C-M-S-Left"], ["KPEnter"]])
def test_tmux_key_names_are_accepted(keys: list[str]) -> None:
    assert check_keys(keys) == keys


@pytest.mark.parametrize(
    "keys",
    [[], "Enter", ["Enter", "-t"], ["-H"], ["C-c;kill-server"], ["Enter "], ["a b"], ["\n"], ["\x00"], ["F13"], ["C-"], [5], ["Enter"] * 257],
)
def test_anything_but_a_list_of_key_names_is_refused(keys: object) -> None:
    with pytest.raises(InvalidArgument):
        check_keys(keys)


@given(st.text(max_size=12))
def test_no_accepted_key_name_can_be_read_as_a_flag(key: str) -> None:
    if KEY.fullmatch(key):
        assert key == "-" or not key.startswith("-")
        assert not CONTROL.search(key[-1]) and " " not in key


# -- send_bytes(): byte-exact input as hex -------------------------------------------


@given(st.binary(min_size=1, max_size=3 * HEX_CHUNK + 7))
def test_input_bytes_are_hex_in_bounded_lines_that_decode_back(data: bytes) -> None:
    lines = send_bytes("%3", data)
    assert len(lines) == -(-len(data) // HEX_CHUNK)
    decoded = b""
    for line in lines:
        prefix = "send-keys -t '%3' -H "
        assert line.startswith(prefix) and "\n" not in line
        decoded += bytes.fromhex(line[len(prefix) :])
    assert decoded == data


def test_every_builder_writes_plain_single_line_commands_without_lists() -> None:
    name = "x;y #{z} 'q' \"q\" $H ~ \\"
    lines = [
        *cmdline.send_keys("%1", ["Enter", ";"]),
        *cmdline.paste("%1", "a\nb;c\n", "buf"),
        *cmdline.new_window("$1", name),
        *cmdline.rename_window("@1", name),
        *cmdline.new_session(name),
        *cmdline.select_pane("%1"),
        *cmdline.kill_window("@1"),
    ]
    for line in lines:
        assert "\n" not in line and "\r" not in line
        # a `;` that ends a command is a bare word; ours only appear inside quotes
        assert not re.search(r"(^|\s);(\s|$)", re.sub(r"'[^']*'|\"(\\.|[^\"\\])*\"", "Q", line)), line
