"""Keys typed into a pane that is in a mode, resolved before tmux sees them.

In tmux 3.3a `send-keys` (with `-H` too) to a pane in copy mode never reaches
the program: tmux looks the key up in the mode's key table (`copy-mode`, or
`copy-mode-vi` with `mode-keys vi`) and runs the bound command, whatever it
is. So a key typed into such a pane is a command, and is checked as one, the
way prefix bindings are (bindings.py): its binding is read with `list-keys`
and then

* a binding that opens a prompt for a search, a jump or a line number is
  answered in our own UI instead (`Ask`), with the non-interactive form of
  the same command (`copy-prompt`);
* a binding that waits for an answer a control client can never give
  (`command-prompt`, `confirm-before`, menus, popups …) is never sent, for
  anybody: tmux would stop running every later command of that client;
* the owner's other bindings run as they are (the key itself is sent), but
  kills are refused under `--no-destroy`;
* anyone else gets only the copy-mode commands that move, select, search
  and copy into tmux's own buffers, and tmuxweb sends that command itself
  (`send-keys -X …`), so what runs is exactly what was checked. `copy-pipe*`
  runs a program: it becomes the matching `copy-selection*`, which runs none.

Pure: no I/O. commands.py asks tmux and sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tmuxweb.bindings import Unsupported, tokenize
from tmuxweb.errors import BadRequest, Conflict, Forbidden
from tmuxweb.tmux.cmdline import KEY, MAX_KEYS, quote
from tmuxweb.tmux.errors import InvalidArgument

# Modes whose keys go through a key table (window-copy.c serves both).
COPY_MODES = frozenset({"copy-mode", "view-mode"})
# Keys that leave any other mode (tree, buffer, client, options, clock).
LEAVE_KEYS = frozenset({"q", "Escape"})

# Commands that wait for an answer a control client can never give, or that
# take the control client itself away from its session.
NEVER_ANSWERED = frozenset(
    {
        "command-prompt", "confirm-before", "confirm", "display-menu", "menu",
        "display-popup", "popup", "display-panes", "displayp", "wait-for", "wait",
        "switch-client", "switchc", "attach-session", "attach", "detach-client", "detach",
        "suspend-client", "suspendc", "choose-tree", "choose-client", "choose-buffer",
        "customize-mode",
    }
)
KILLS = frozenset(
    {
        "kill-pane", "killp", "kill-window", "killw", "kill-session", "kill-server",
        "unlink-window", "unlinkw", "respawn-pane", "respawnp", "respawn-window", "respawnw",
    }
)

# What a token that may only type may make copy mode do: move, select,
# search, and copy into tmux's buffers. Deny by default: `pipe*` and
# `copy-pipe*` run programs and are not here.
MOVE_AND_SELECT = frozenset(
    """
    append-selection append-selection-and-cancel back-to-indentation begin-selection
    bottom-line cancel clear-selection copy-end-of-line copy-end-of-line-and-cancel
    copy-line copy-line-and-cancel copy-selection copy-selection-and-cancel
    copy-selection-no-clear cursor-down cursor-down-and-cancel cursor-left cursor-right
    cursor-up end-of-line goto-line halfpage-down halfpage-down-and-cancel halfpage-up
    history-bottom history-top jump-again jump-backward jump-forward jump-reverse
    jump-to-backward jump-to-forward jump-to-mark middle-line next-matching-bracket
    next-paragraph next-prompt next-space next-space-end next-word next-word-end
    other-end page-down page-down-and-cancel page-up previous-matching-bracket
    previous-paragraph previous-prompt previous-space previous-word rectangle-off
    rectangle-on rectangle-toggle refresh-from-pane scroll-down scroll-down-and-cancel
    scroll-middle scroll-up search-again search-backward search-backward-incremental
    search-backward-text search-forward search-forward-incremental search-forward-text
    search-reverse select-line select-word set-mark start-of-line stop-selection
    toggle-position top-line
    """.split()
)
# copy-pipe* runs `copy-command` or its argument; the same copy without it.
PIPE_FREE = {
    "copy-pipe": "copy-selection",
    "copy-pipe-no-clear": "copy-selection-no-clear",
    "copy-pipe-and-cancel": "copy-selection-and-cancel",
    "copy-pipe-end-of-line": "copy-end-of-line",
    "copy-pipe-end-of-line-and-cancel": "copy-end-of-line-and-cancel",
    "copy-pipe-line": "copy-line",
    "copy-pipe-line-and-cancel": "copy-line-and-cancel",
}

# The prompts tmuxweb answers itself: copy-mode command → what it takes.
PROMPTED: dict[str, str] = {
    "search-forward": "text",
    "search-backward": "text",
    "search-forward-text": "text",
    "search-backward-text": "text",
    "jump-forward": "char",
    "jump-backward": "char",
    "jump-to-forward": "char",
    "jump-to-backward": "char",
    "goto-line": "line",
}
# Incremental search needs a live prompt; the plain search does the same job.
_INCREMENTAL = {"search-forward-incremental": "search-forward", "search-backward-incremental": "search-backward"}
MAX_PROMPT_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Ask:
    """A prompt binding: ask `prompt` in our UI, then run `command` with it."""

    prompt: str
    command: str

    def to_json(self) -> dict[str, str]:
        return {"prompt": self.prompt, "command": self.command, "takes": PROMPTED[self.command]}


@dataclass(frozen=True, slots=True)
class Decision:
    """What to send for one key: the key itself (`send_key`), tmuxweb's own
    `send-keys -X` arguments (`x_args`), nothing (an unbound key), or a
    prompt to ask first (`ask`); `resolved` is what the audit log shows."""

    key: str
    resolved: str
    send_key: bool = False
    x_args: str | None = None
    ask: Ask | None = None


def key_table(pane_mode: str, mode_keys: str) -> str | None:
    """The key table a key typed into this mode is looked up in, or None
    for a mode that handles keys itself (tree, buffer, clock …)."""
    if pane_mode not in COPY_MODES:
        return None
    return "copy-mode-vi" if mode_keys == "vi" else "copy-mode"


def decide(key: str, binding: str | None, owner: bool, no_destroy: bool) -> Decision:
    """Check one key's binding (None: unbound) for a principal; raise
    Conflict (never sendable), Forbidden (not for this principal) or
    return what to send."""
    if binding is None:
        # tmux does nothing with an unbound key in copy mode; neither do we.
        return Decision(key, "(unbound)")
    commands = _commands(binding)
    ask = _prompt(_split(_words(binding)))
    if ask is not None:
        return Decision(key, binding, ask=ask)
    for words in commands:
        if words[0] in NEVER_ANSWERED:
            raise Conflict(
                f"{key} in copy mode runs {words[0]}, which waits for an answer tmuxweb cannot give; it was not sent"[:200]
            )
        if no_destroy and words[0] in KILLS:
            raise Forbidden(f"{key} in copy mode runs {words[0]}, switched off on this server (--no-destroy)"[:200])
    if owner:
        return Decision(key, binding, send_key=True)
    return _move_or_select(key, binding, _split(_words(binding)))


def _words(text: str) -> list[str]:
    try:
        return tokenize(text)
    except Unsupported:
        raise Conflict(f"the binding '{text}' cannot be read; it was not sent"[:200]) from None


def _split(words: list[str]) -> list[list[str]]:
    """A command list (`a ; b`, `{ … }` blocks) as its commands' words."""
    found: list[list[str]] = []
    current: list[str] = []
    for word in [*words, ";"]:
        if word in (";", "{", "}"):
            if current:
                found.append(current)
            current = []
        else:
            current.append(word)
    return found


def _commands(text: str) -> list[list[str]]:
    """Every command in a binding, nested command strings included (the
    templates of command-prompt, if-shell …), to look for the forbidden
    ones: a word with spaces in it is read as a command list too."""
    found = _split(_words(text))
    for words in list(found):
        for word in words[1:]:
            if re.search(r"[\s;]", word):
                found.extend(_commands(word))
    return found


def _prompt(commands: list[list[str]]) -> Ask | None:
    """`command-prompt [-1] [-i] [-T t] [-I i] -p P { send-keys -X CMD "%%" }`."""
    if not commands or commands[0][0] != "command-prompt":
        return None
    words = commands[0][1:]
    prompt = ""
    i = 0
    while i < len(words) and words[i].startswith("-"):
        if words[i] in ("-T", "-I"):
            i += 2
        elif words[i] == "-p" and i + 1 < len(words):
            prompt = words[i + 1]
            i += 2
        elif words[i] in ("-1", "-i"):
            i += 1
        else:
            return None  # -N (a repeat count), -k, -F …: not a prompt we answer
    if i == len(words):
        template = commands[1:]  # a { … } block
    elif i + 1 == len(words):
        template = _split(_words(words[i]))  # a quoted template
    else:
        return None
    if len(template) != 1:
        return None
    t = template[0]
    if len(t) != 4 or t[0] not in ("send-keys", "send") or t[1] != "-X" or t[3] not in ("%%", "%1", "%%%"):
        return None
    command = _INCREMENTAL.get(t[2], t[2])
    if command not in PROMPTED:
        return None
    return Ask(prompt.strip() or command, command)


def _move_or_select(key: str, binding: str, commands: list[list[str]]) -> Decision:
    refuse = Forbidden(f"{key} in copy mode runs '{binding}', which needs the owner token"[:200])
    if len(commands) != 1 or any(w in ("{", "}", ";") for w in commands[0]) or commands[0][0] not in ("send-keys", "send"):
        raise refuse
    words = commands[0][1:]
    flags = ""
    count: str | None = None
    while words and words[0].startswith("-"):
        word, words = words[0], words[1:]
        if word == "-N" and words and words[0].isdigit() and len(words[0]) <= 4:
            count, words = words[0], words[1:]
        elif set(word[1:]) <= {"X", "F"}:
            flags += word[1:]
        else:
            raise refuse
    if "X" not in flags or not words:
        raise refuse
    command, args = words[0], words[1:]
    if command in PIPE_FREE:
        command, args = PIPE_FREE[command], []
    if command not in MOVE_AND_SELECT:
        raise refuse
    if "F" in flags and any("#(" in a for a in args):
        raise refuse  # a format that runs a shell command
    try:
        quoted = " ".join(quote(a) for a in args)
    except InvalidArgument:
        raise refuse from None
    head = ("-F " if "F" in flags else "") + (f"-N {count} " if count else "")
    x_args = f"{head}-X {command}" + (f" {quoted}" if quoted else "")
    return Decision(key, binding, x_args=x_args)


def check_answer(command: object, text: object) -> tuple[str, str]:
    """A `copy-prompt` answer: a command tmuxweb asks for, and its text."""
    if not isinstance(command, str) or command not in PROMPTED:
        raise BadRequest("command must be one of " + ", ".join(sorted(PROMPTED)))
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_PROMPT_TEXT:
        raise BadRequest(f"text must be 1 to {MAX_PROMPT_TEXT} characters")
    if _CONTROL.search(text):
        raise BadRequest("text must not contain control characters")
    takes = PROMPTED[command]
    if takes == "char" and len(text) != 1:
        raise BadRequest(f"{command} takes one character")
    if takes == "line" and not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise BadRequest("goto-line takes a line number")
    return command, text


# -- typed text as key names -------------------------------------------------

_C0 = {"\r": "Enter", "\n": "C-j", "\t": "Tab", "\x7f": "BSpace", "\x00": "C-Space", " ": "Space",
       "\x1b": "Escape", "\x1c": "C-\\", "\x1d": "C-]", "\x1e": "C-^", "\x1f": "C-_"}
_FINAL = {"A": "Up", "B": "Down", "C": "Right", "D": "Left", "H": "Home", "F": "End",
          "P": "F1", "Q": "F2", "R": "F3", "S": "F4"}
_TILDE = {"1": "Home", "2": "IC", "3": "DC", "4": "End", "5": "PPage", "6": "NPage", "7": "Home", "8": "End",
          "11": "F1", "12": "F2", "13": "F3", "14": "F4", "15": "F5", "17": "F6", "18": "F7", "19": "F8",
          "20": "F9", "21": "F10", "23": "F11", "24": "F12"}
_MODIFIERS = {"2": "S-", "3": "M-", "4": "S-M-", "5": "C-", "6": "C-S-", "7": "C-M-", "8": "C-M-S-"}
_CSI = re.compile(r"\x1b(?:\[([0-9;]*)([A-DHFPQRSZ~])|O([A-DHFPQRS]))")


def input_keys(text: str) -> list[str]:
    """What a terminal's bytes mean as tmux key names (xterm's encoding),
    so each can be looked up in the mode's table and sent by name: a key
    sent by name is looked up exactly as `list-keys` shows it."""
    keys: list[str] = []
    i = 0
    while i < len(text):
        m = _CSI.match(text, i)
        if m is not None:
            keys.append(_sequence_key(m))
            i = m.end()
        elif text[i] == "\x1b" and i + 1 < len(text):
            keys.append("M-" + _char_key(text[i + 1]))
            i += 2
        else:
            keys.append(_char_key(text[i]))
            i += 1
    if len(keys) > MAX_KEYS:
        raise BadRequest(f"at most {MAX_KEYS} keys at once into a pane in copy mode")
    return keys


def _char_key(ch: str) -> str:
    if ch in _C0:
        return _C0[ch]
    if ch == "\x08":
        return "C-h"
    if "\x01" <= ch <= "\x1a":
        return "C-" + chr(ord(ch) + 96)
    if not KEY.fullmatch(ch):
        raise BadRequest(f"{ch!r} has no tmux key name"[:80])
    return ch


def _sequence_key(m: re.Match[str]) -> str:
    params, final, ss3 = m.group(1), m.group(2), m.group(3)
    if ss3 is not None:
        return _FINAL[ss3]
    if final == "Z":
        return "BTab"
    parts = params.split(";") if params else []
    modifier = _MODIFIERS.get(parts[1], "") if len(parts) == 2 else ""
    if len(parts) > 2 or (len(parts) == 2 and not modifier):
        raise BadRequest("this escape sequence has no tmux key name")
    if final == "~":
        name = _TILDE.get(parts[0]) if parts else None
        if name is None:
            raise BadRequest("this escape sequence has no tmux key name")
        return modifier + name
    return modifier + _FINAL[final]
