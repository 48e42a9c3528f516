"""The user's tmux key bindings, resolved into typed commands.

tmux 3.3a's `send-keys` never triggers key bindings, so the browser sends
"prefix, then key" as `{"type": "binding", "key": "c"}`. The server reads the
bound command from tmux (`list-keys -T TABLE KEY`) and translates it into one
of the API's own typed commands, which then goes through exactly the same
validation (and policy) as if the client had sent it. A binding whose command
has no safe translation is refused with a message naming it; nothing is ever
run as tmux command text taken from a binding.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tmuxweb.errors import BadRequest
from tmuxweb.tmux.snapshot import Structure

_LINE = re.compile(r"bind-key\s+(-r\s+)?-T\s+(\S+)\s+(\S+)\s+(.*)")


class Unsupported(BadRequest):
    """Raised when a binding's command has no safe typed translation."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a binding acts on: the session's current window and pane."""

    session: str
    window: str
    pane: str


@dataclass(frozen=True, slots=True)
class Resolved:
    command: dict[str, Any]
    confirm: str | None  # the prompt of a confirm-before binding
    repeat: bool = False  # bound with -r: more keys may follow without the prefix


@dataclass(frozen=True, slots=True)
class Binding:
    table: str
    key: str
    command: str
    repeat: bool


def parse_binding(line: str) -> Binding | None:
    """One `list-keys` line."""
    m = _LINE.fullmatch(line.strip())
    if m is None:
        return None
    repeat, table, key, command = m.groups()
    return Binding(table, _unescape_key(key), command.strip(), repeat is not None)


def _unescape_key(key: str) -> str:
    return key[1:] if key.startswith("\\") and len(key) > 1 else key


def tokenize(command: str) -> list[str]:
    """Split tmux command text into words (quotes honoured)."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";{}")
        lexer.whitespace_split = True
        return list(lexer)
    except ValueError:
        raise Unsupported("the binding's command cannot be parsed") from None


def resolve(command_text: str, target: Target, structure: Structure, repeat: bool = False) -> Resolved:
    words = tokenize(command_text)
    confirm = None
    if words[:1] == ["confirm-before"]:
        flags, rest = _getopt(words[1:], takes_value={"-p", "-c", "-t"}, flags={"-b", "-y"})
        confirm = flags.get("-p") or f"{' '.join(rest)}? (y/n)"
        words = tokenize(rest[0]) if len(rest) == 1 else rest
    if not words or any(w in (";", "{", "}") for w in words):
        raise Unsupported(f"'{command_text}' is a command list or block; tmuxweb runs single commands only"[:200])
    name, args = words[0], words[1:]
    translate = _TRANSLATIONS.get(name)
    if translate is None:
        raise Unsupported(f"'{name}' is not available from the browser")
    return Resolved(translate(args, target, structure), confirm, repeat)


def _getopt(args: list[str], takes_value: set[str], flags: set[str]) -> tuple[dict[str, str], list[str]]:
    """tmux-style flags: `-h`, `-hv`, `-c DIR`; stops at the first word."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        word = args[i]
        if word == "--":
            i += 1
            break
        if word in takes_value:
            if i + 1 >= len(args):
                raise Unsupported(f"{word} needs a value")
            found[word] = args[i + 1]
            i += 2
            continue
        for letter in word[1:]:
            flag = "-" + letter
            if flag not in flags:
                raise Unsupported(f"the option {flag} is not available from the browser")
            found[flag] = ""
        i += 1
    return found, args[i:]


def _no_args(rest: list[str], name: str) -> None:
    if rest:
        raise Unsupported(f"{name} with arguments is not available from the browser")


def _cwd(flags: dict[str, str]) -> dict[str, str]:
    value = flags.get("-c")
    if value is None:
        return {}
    if value != "#{pane_current_path}":
        raise Unsupported("only -c '#{pane_current_path}' is available from the browser")
    return {"cwd": "current"}


def _split(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, {"-c"}, {"-h", "-v", "-b", "-f", "-d"})
    _no_args(rest, "split-window")
    direction = "horizontal" if "-h" in flags else "vertical"
    return {"type": "split", "pane": t.pane, "direction": direction, **_cwd(flags)}


def _new_window(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, {"-c", "-n"}, {"-a", "-d"})
    _no_args(rest, "new-window")
    command: dict[str, Any] = {"type": "new-window", **_cwd(flags)}
    if "-n" in flags:
        command["name"] = flags["-n"]
    return command


_DIRECTIONS = {"-L": "left", "-R": "right", "-U": "up", "-D": "down"}


def _select_pane(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, {"-t"}, set(_DIRECTIONS) | {"-Z"})
    _no_args(rest, "select-pane")
    for flag, direction in _DIRECTIONS.items():
        if flag in flags:
            return {"type": "select-pane", "pane": t.pane, "direction": direction}
    relative = {":.+": "next", ":.-": "previous", ".+": "next", ".-": "previous"}
    if flags.get("-t") in relative:
        return {"type": "select-pane", "pane": t.pane, "direction": relative[flags["-t"]]}
    raise Unsupported("this select-pane binding is not available from the browser")


def _select_window(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, {"-t"}, set())
    _no_args(rest, "select-window")
    m = re.fullmatch(r":=?([0-9]{1,6})", flags.get("-t", ""))
    if m is None:
        raise Unsupported("this select-window binding is not available from the browser")
    index = int(m.group(1))
    window = next((w.id for w in s.windows.values() if w.index == index), None)
    if window is None:
        raise BadRequest(f"no window {index}")
    return {"type": "select-window", "window": window}


def _session_step(kind: str) -> Callable[[list[str], Target, Structure], dict[str, Any]]:
    def translate(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
        flags, rest = _getopt(args, set(), {"-a"})
        _no_args(rest, kind)
        return {"type": kind}

    return translate


def _kill_pane(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    _getopt(args, set(), set())
    _no_args(args, "kill-pane")
    return {"type": "kill-pane", "pane": t.pane}


def _kill_window(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    _no_args(args, "kill-window")
    return {"type": "kill-window", "window": t.window}


def _resize_pane(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, set(), set(_DIRECTIONS) | {"-Z"})
    if "-Z" in flags and not rest:
        return {"type": "zoom", "pane": t.pane}
    for flag, direction in _DIRECTIONS.items():
        if flag in flags:
            cells = int(rest[0]) if rest and rest[0].isdigit() else 1
            return {"type": "resize-pane", "pane": t.pane, "direction": direction, "cells": cells}
    raise Unsupported("this resize-pane binding is not available from the browser")


def _copy_mode(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, set(), {"-u", "-e"})
    _no_args(rest, "copy-mode")
    return {"type": "copy-mode", "pane": t.pane, "page_up": "-u" in flags}


def _send_prefix(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, set(), {"-2"})
    _no_args(rest, "send-prefix")
    return {"type": "send-prefix", "pane": t.pane, "secondary": "-2" in flags}


def _paste_buffer(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, set(), {"-p", "-r"})
    _no_args(rest, "paste-buffer")
    return {"type": "paste-buffer", "pane": t.pane}


def _last_pane(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    _no_args(args, "last-pane")
    return {"type": "last-pane", "window": t.window}


def _rotate(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, set(), {"-D", "-U", "-Z"})
    _no_args(rest, "rotate-window")
    return {"type": "rotate-window", "window": t.window, "reverse": "-D" in flags}


def _swap_pane(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, set(), {"-U", "-D", "-Z"})
    if rest or not ({"-U", "-D"} & set(flags)):
        raise Unsupported("this swap-pane binding is not available from the browser")
    return {"type": "swap-pane", "pane": t.pane, "direction": "up" if "-U" in flags else "down"}


def _layout(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    flags, rest = _getopt(args, set(), {"-E"})
    if "-E" in flags or len(rest) != 1:
        raise Unsupported("this select-layout binding is not available from the browser")
    return {"type": "select-layout", "window": t.window, "layout": rest[0]}


def _next_layout(args: list[str], t: Target, s: Structure) -> dict[str, Any]:
    _no_args(args, "next-layout")
    return {"type": "select-layout", "window": t.window, "layout": "next"}


_TRANSLATIONS: dict[str, Callable[[list[str], Target, Structure], dict[str, Any]]] = {
    "split-window": _split,
    "splitw": _split,
    "new-window": _new_window,
    "neww": _new_window,
    "select-pane": _select_pane,
    "selectp": _select_pane,
    "select-window": _select_window,
    "selectw": _select_window,
    "next-window": _session_step("next-window"),
    "next": _session_step("next-window"),
    "previous-window": _session_step("previous-window"),
    "prev": _session_step("previous-window"),
    "last-window": _session_step("last-window"),
    "last": _session_step("last-window"),
    "kill-pane": _kill_pane,
    "killp": _kill_pane,
    "kill-window": _kill_window,
    "killw": _kill_window,
    "resize-pane": _resize_pane,
    "resizep": _resize_pane,
    "copy-mode": _copy_mode,
    "send-prefix": _send_prefix,
    "paste-buffer": _paste_buffer,
    "pasteb": _paste_buffer,
    "last-pane": _last_pane,
    "lastp": _last_pane,
    "rotate-window": _rotate,
    "rotatew": _rotate,
    "swap-pane": _swap_pane,
    "swapp": _swap_pane,
    "select-layout": _layout,
    "selectl": _layout,
    "next-layout": _next_layout,
    "nextl": _next_layout,
}
