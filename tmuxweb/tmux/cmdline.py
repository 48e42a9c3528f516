"""Build tmux command lines from validated data. Pure: no I/O.

Nothing a client sends is ever pasted into a command line as it is:

* targets must be tmux ids (`$1`, `@2`, `%3`) and are checked by regex;
* typed text goes in as hex bytes (`send-keys -H`), which is byte-exact for
  every value, NUL, LF and ESC included, and needs no quoting at all;
* key names are checked against tmux's key grammar, then quoted;
* names are checked (length, no control characters, no leading `-`), their
  `#` doubled because tmux expands formats in `rename-window`, `new-window -n`
  and `new-session -s` (verified on 3.3a: `x#{pane_id}y` became `x%0y`),
  then single-quoted;
* paste text goes in a double-quoted string with every special character
  escaped (`\\`, `"`, `$`, a leading `~`, control characters).

Each function returns complete command lines, one plain command per line:
never a `;` list (see TMUX-NOTES: they break reply matching and one such list
crashes tmux 3.3a).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tmuxweb.tmux.errors import InvalidArgument

PANE_ID = re.compile(r"%[0-9]{1,9}")
WINDOW_ID = re.compile(r"@[0-9]{1,9}")
SESSION_ID = re.compile(r"\$[0-9]{1,9}")

MAX_NAME = 64
MAX_KEYS = 256
# Bytes per `send-keys -H` line: long enough to be cheap, short enough that a
# line stays a few KiB.
HEX_CHUNK = 2048

_NAMED_KEYS = (
    "Enter|Tab|BTab|BSpace|Escape|Space|Up|Down|Left|Right|Home|End|"
    "PageUp|PageDown|PgUp|PgDn|PPage|NPage|IC|DC|Insert|Delete|Any|"
    "F[1-9]|F1[0-2]|"
    "KP[0-9]|KP/|KP\\*|KP-|KP\\+|KP\\.|KPEnter"
)
# Modifiers then a named key or one printable character (tmux also takes
# Unicode characters as keys).
KEY = re.compile(rf"(?:[CMS]-){{0,3}}(?:{_NAMED_KEYS}|[^\x00-\x20\x7f-\x9f])")
# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def quote(word: str) -> str:
    """Quote one word for tmux's command parser so it is taken literally.

    Single quotes are fully literal in tmux; a `'` itself is written as
    `"'"` (tmux joins adjacent quoted parts into one word, as a shell does).
    Callers must have refused control characters: a raw newline would end
    the command line.
    """
    if _CONTROL.search(word):
        raise InvalidArgument("control characters are not allowed here")
    return "'" + word.replace("'", "'\"'\"'") + "'"


def _escape_double(ch: str) -> str:
    if ch in '\\"$':
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return f"\\{code:03o}"
    return ch


def quote_text(text: str) -> str:
    """Quote arbitrary text (newlines included) as one tmux word.

    Double quotes are needed so newlines can be written as `\\n` on one
    command line; `$` and a leading `~` are escaped because tmux expands
    them inside double quotes.
    """
    body = "".join(_escape_double(ch) for ch in text)
    if body.startswith("~"):
        body = "\\" + body
    return '"' + body + '"'


_FORMAT_HASH = re.compile(r"#(?!#*\[)")


def escape_format(name: str) -> str:
    """Double `#` so tmux's format expansion leaves the name as it is.

    A `#` that starts a run leading to `[` is left alone: tmux keeps `##[`
    as it is (it is a style, not a format), so doubling it would store an
    extra `#` (found by the builder tests against real tmux)."""
    return _FORMAT_HASH.sub("##", name)


def check_pane(value: object) -> str:
    if not isinstance(value, str) or not PANE_ID.fullmatch(value):
        raise InvalidArgument("pane must be a tmux pane id like %3")
    return value


def check_window(value: object) -> str:
    if not isinstance(value, str) or not WINDOW_ID.fullmatch(value):
        raise InvalidArgument("window must be a tmux window id like @2")
    return value


def check_session_id(value: object) -> str:
    if not isinstance(value, str) or not SESSION_ID.fullmatch(value):
        raise InvalidArgument("session must be a tmux session id like $1")
    return value


def check_name(value: object, what: str = "name") -> str:
    """A window or session name a user may choose."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    if not 1 <= len(value) <= MAX_NAME:
        raise InvalidArgument(f"{what} must be 1 to {MAX_NAME} characters")
    if _CONTROL.search(value):
        raise InvalidArgument(f"{what} must not contain control characters")
    if value.startswith("-"):
        raise InvalidArgument(f"{what} must not start with '-'")
    if value != value.strip():
        raise InvalidArgument(f"{what} must not start or end with white space")
    return value


def check_session_name(value: object) -> str:
    """Session names additionally exclude what tmux itself rewrites (`:` `.`)."""
    name = check_name(value, "session name")
    if ":" in name or "." in name:
        raise InvalidArgument("session name must not contain ':' or '.'")
    return name


def check_keys(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InvalidArgument("keys must be a non-empty list of tmux key names")
    if len(value) > MAX_KEYS:
        raise InvalidArgument(f"at most {MAX_KEYS} keys per command")
    for key in value:
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise InvalidArgument(f"not a tmux key name: {key!r}"[:120])
    return value


def encode_text(value: object, what: str = "text") -> bytes:
    """Text from JSON as UTF-8 bytes; a lone surrogate is refused, not mangled."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} is not valid Unicode") from None


# -- command lines -------------------------------------------------------


def send_bytes(pane: str, data: bytes) -> list[str]:
    """Byte-exact input to a pane, as hex, in bounded lines."""
    lines = []
    for start in range(0, len(data), HEX_CHUNK):
        chunk = data[start : start + HEX_CHUNK]
        lines.append(f"send-keys -t {quote(pane)} -H {chunk.hex(' ')}")
    return lines


def send_keys(pane: str, keys: Sequence[str]) -> list[str]:
    return [f"send-keys -t {quote(pane)} " + " ".join(quote(k) for k in keys)]


def paste(pane: str, text: str, buffer: str) -> list[str]:
    """Bracketed paste through a private buffer that paste-buffer deletes.

    ESC is stripped: inside a paste it could end the bracket early and turn
    the rest of the paste into keystrokes the program executes.
    """
    clean = text.replace("\x1b", "")
    if "\x00" in clean:
        # tmux's parser ends a string at an escaped NUL: the paste would be
        # cut short silently. Refused; `input` sends NUL exactly.
        raise InvalidArgument("paste text must not contain NUL (send it as input)")
    return [
        # `--`: paste text starting with "-" is data, not a flag.
        f"set-buffer -b {quote(buffer)} -- {quote_text(clean)}",
        f"paste-buffer -p -d -b {quote(buffer)} -t {quote(pane)}",
    ]


def resize_client(cols: int, rows: int) -> list[str]:
    return [f"refresh-client -C {cols}x{rows}"]


def select_pane(pane: str) -> list[str]:
    return [f"select-pane -t {quote(pane)}"]


def select_window(window: str) -> list[str]:
    return [f"select-window -t {quote(window)}"]


# `-c` with this format starts the new pane where the current one is.
_HERE = "-c " + "'#{pane_current_path}'"


def split(pane: str, horizontal: bool, here: bool = False) -> list[str]:
    cwd = f" {_HERE}" if here else ""
    return [f"split-window {'-h' if horizontal else '-v'}{cwd} -t {quote(pane)}"]


def kill_pane(pane: str) -> list[str]:
    return [f"kill-pane -t {quote(pane)}"]


def kill_window(window: str) -> list[str]:
    return [f"kill-window -t {quote(window)}"]


def new_window(session: str, name: str | None, here: bool = False) -> list[str]:
    line = f"new-window -t {quote(session + ':')}"
    if here:
        line += f" {_HERE}"
    if name is not None:
        line += f" -n {quote(escape_format(name))}"
    return [line]


def rename_window(window: str, name: str) -> list[str]:
    return [f"rename-window -t {quote(window)} {quote(escape_format(name))}"]


RESIZE_FLAGS = {"left": "-L", "right": "-R", "up": "-U", "down": "-D"}
LAYOUTS = frozenset({"even-horizontal", "even-vertical", "main-horizontal", "main-vertical", "tiled"})


def select_pane_towards(pane: str, window: str, direction: str) -> list[str]:
    """`direction`: left/right/up/down from `pane`, or next/previous pane
    of its `window` (`@W.+`, tmux's relative pane target)."""
    if direction in ("next", "previous"):
        return [f"select-pane -t {quote(window + ('.+' if direction == 'next' else '.-'))}"]
    return [f"select-pane -t {quote(pane)} {RESIZE_FLAGS[direction]}"]


def session_step(kind: str, session: str) -> list[str]:
    """next-window, previous-window or last-window in a session."""
    return [f"{kind} -t {quote(session)}"]


def last_pane(window: str) -> list[str]:
    return [f"last-pane -t {quote(window)}"]


def copy_mode(pane: str, page_up: bool) -> list[str]:
    return [f"copy-mode{' -u' if page_up else ''} -t {quote(pane)}"]


def send_prefix(pane: str, secondary: bool) -> list[str]:
    return [f"send-prefix{' -2' if secondary else ''} -t {quote(pane)}"]


def paste_top_buffer(pane: str) -> list[str]:
    return [f"paste-buffer -p -t {quote(pane)}"]


def rotate_window(window: str, reverse: bool) -> list[str]:
    return [f"rotate-window {'-D' if reverse else '-U'} -t {quote(window)}"]


def swap_pane(pane: str, up: bool) -> list[str]:
    return [f"swap-pane {'-U' if up else '-D'} -t {quote(pane)}"]


def pane_mode(target: str) -> list[str]:
    """Which pane keys for `target` reach, and its mode and mode keys."""
    fmt = "#{pane_id} #{pane_in_mode} #{pane_mode} #{mode-keys}"
    return [f"display-message -p -t {quote(target)} {quote(fmt)}"]


def copy_mode_command(pane: str, x_args: str) -> list[str]:
    """`x_args`: `-X COMMAND` and its already quoted arguments."""
    return [f"send-keys -t {quote(pane)} {x_args}"]


def list_key(table: str, key: str) -> list[str]:
    """The binding of one key (tmux answers %error when it is unbound)."""
    return [f"list-keys -T {quote(table)} {quote(key)}"]


def select_layout(window: str, layout: str) -> list[str]:
    if layout == "next":
        return [f"next-layout -t {quote(window)}"]
    return [f"select-layout -t {quote(window)} {quote(layout)}"]


def resize_pane(pane: str, direction: str, cells: int) -> list[str]:
    return [f"resize-pane -t {quote(pane)} {RESIZE_FLAGS[direction]} {int(cells)}"]


def zoom(pane: str) -> list[str]:
    return [f"resize-pane -Z -t {quote(pane)}"]


def new_session(name: str) -> list[str]:
    return [f"new-session -d -s {quote(escape_format(name))} -P -F {quote('#{session_id}')}"]
