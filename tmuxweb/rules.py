"""Rules as data: what a pane's screen says about the program in it.

A rule is a regular expression over the last lines of a pane's visible
screen, optionally limited to some `pane_current_command`s, that says the
program is `waiting` for the person (a question, a menu) or `done` (back at
its input prompt after working). The shipped rules live in
`tmuxweb/rules/agents.toml`; users add theirs with `--rules FILE`, in the
same format (DATA-FLOW.md, "Pane states: rules as data"):

    version = 1
    [[rules]]
    name = "my-tool-confirm"          # unique, [a-z0-9-]+
    tool = "My tool"                  # shown to the person
    state = "waiting"                 # or "done"
    commands = ["mytool"]             # fnmatch globs; absent: any command
    last_lines = 15                   # the window the patterns see (1..200)
    match = '^Proceed\\?'            # required; re.MULTILINE over the window
    unless = 'esc to interrupt'       # optional; found in the window: no match
    question = '^(?P<q>Proceed\\?)'  # optional; default: the line `match` hit
    menu = '(?P<key>\\d)\\) (?P<label>\\w+)'  # each hit on each line, from the match on
    menu_keys = ["{key}", "Enter"]    # what a menu choice sends
    # choices = [{label = "Yes", keys = ["y", "Enter"]}]  # instead of menu
    min_busy = 0                      # seconds of work before `done` counts

`menu` is searched on each line from the line where `match` starts to the
end of the window, every hit a choice: a numbered list above the question
(a diff, earlier output) is not taken for one, and one line may hold
several (aider's `(Y)es/(N)o`).

Everything a file can get wrong is a `RulesError` at load time, naming the
file, the rule and the field, so a bad file stops the server at start-up
rather than misleading it later. Matching is pure and bounded: only the last
`MAX_LAST_LINES` lines of a screen, each cut to `MAX_LINE` characters, are
ever searched, and what a screen contributes to a question, a label or a key
is cleaned of control characters and cut to size (a screen is written by
whatever runs in the pane, so it is not trusted).

A choice's keys go to tmux as typed keys: a key in `NAMED_KEYS` as that
tmux key, any other string as literal text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any, Literal

NAMED_KEYS: frozenset[str] = frozenset({"Enter", "Escape", "Tab", "Up", "Down", "Left", "Right", "Space", "BSpace"})

State = Literal["waiting", "done"]
STATES: tuple[State, ...] = ("waiting", "done")

MAX_LAST_LINES = 200
DEFAULT_LAST_LINES = 15
# A screen line longer than this is cut before any pattern sees it: tmux
# panes are rarely wider, and it bounds what a `.*` can cost on a hostile
# screen.
MAX_LINE = 512
MAX_CHOICES = 16
MAX_LABEL = 80
MAX_KEY = 32
MAX_KEYS_PER_CHOICE = 8
MAX_QUESTION = 200
MAX_PATTERN = 2000
MAX_RULES = 500
MAX_FILE_BYTES = 1024 * 1024
MAX_MIN_BUSY = 86400.0

SHIPPED = "agents.toml"

_NAME = re.compile(r"[a-z0-9-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PLACEHOLDER = "{key}"
_RULE_KEYS = frozenset(
    {"name", "tool", "state", "commands", "last_lines", "match", "unless", "question", "menu", "menu_keys", "choices", "min_busy"}
)
_CHOICE_KEYS = frozenset({"label", "keys"})
_TOP_KEYS = frozenset({"version", "rules"})


class RulesError(ValueError):
    """Raised when a rules file cannot be used: unreadable, not TOML, an
    unknown key, a bad regex or value, a duplicate name. The message names
    the file, the rule and the field."""


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer to a prompt: what the person sees, and the keys it sends."""

    label: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One recogniser, checked and compiled (see the module docstring)."""

    name: str
    tool: str
    state: State
    commands: tuple[str, ...]
    last_lines: int
    min_busy: float
    pattern: re.Pattern[str]
    # Found anywhere in the window, the rule does not match: what a tool
    # shows only while it works (a spinner's "esc to interrupt") can sit
    # above or below what `pattern` looks for.
    unless: re.Pattern[str] | None = None
    question: re.Pattern[str] | None = None
    menu: re.Pattern[str] | None = None
    menu_keys: tuple[str, ...] = (_PLACEHOLDER,)
    choices: tuple[Choice, ...] = ()
    # Where the rule came from ("shipped" or a file's path), for messages.
    source: str = ""

    def applies(self, command: str, busy_for: float) -> bool:
        """Whether this rule is to be tried for this command and work time."""
        if busy_for < self.min_busy:
            return False
        return not self.commands or any(fnmatchcase(command, glob) for glob in self.commands)

    def match(self, window: str) -> Match | None:
        """This rule against a window (lines joined by "\\n"), or None."""
        found = self.pattern.search(window)
        if found is None or (self.unless is not None and self.unless.search(window)):
            return None
        start = window.rfind("\n", 0, found.start()) + 1
        return Match(self, self.state, self._question(window, start), self._choices(window, start))

    def _question(self, window: str, start: int) -> str:
        text = ""
        if self.question is not None:
            last = None
            for last in self.question.finditer(window):  # noqa: B007 (the last one is wanted)
                pass
            if last is not None:
                text = last["q"] if "q" in self.question.groupindex and last["q"] is not None else last[0]
        if not text:
            end = window.find("\n", start)
            text = window[start : end if end >= 0 else len(window)]
        return clean(text, MAX_QUESTION)

    def _choices(self, window: str, start: int) -> tuple[Choice, ...]:
        if self.menu is None:
            return self.choices
        found: list[Choice] = []
        for line in window[start:].split("\n"):
            for m in self.menu.finditer(line):
                if m["key"] is None or m["label"] is None:
                    continue
                key, label = m["key"].strip(), clean(m["label"], MAX_LABEL)
                keys = tuple(t.replace(_PLACEHOLDER, key) for t in self.menu_keys)
                # The key comes from the screen: keys that could not have
                # been written in a rules file are not sent.
                if not label or not key or _CONTROL.search(key) or any(len(k) > MAX_KEY for k in keys):
                    continue
                found.append(Choice(label, keys))
                if len(found) == MAX_CHOICES:
                    return tuple(found)
        return tuple(found)


@dataclass(frozen=True, slots=True)
class Match:
    """What a rule found on a screen."""

    rule: Rule
    state: State
    question: str
    choices: tuple[Choice, ...]


class Rules:
    """An ordered set of rules; the first that matches a screen wins."""

    __slots__ = ("rules",)

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"Rules({[r.name for r in self.rules]!r})"

    def match(self, lines: Sequence[str], command: str, busy_for: float) -> Match | None:
        """The first rule matching the last lines of this screen (all its
        visible lines, top to bottom), for a pane running `command` that was
        working for `busy_for` seconds before it went quiet."""
        tail = screen_tail(lines, MAX_LAST_LINES)
        windows: dict[int, str] = {}
        for rule in self.rules:
            if not rule.applies(command, busy_for):
                continue
            window = windows.get(rule.last_lines)
            if window is None:
                window = windows[rule.last_lines] = "\n".join(tail[-rule.last_lines :])
            found = rule.match(window)
            if found is not None:
                return found
        return None


def screen_tail(lines: Sequence[str], count: int) -> list[str]:
    """The last `count` lines up to the last non-empty one, each without
    trailing spaces and cut to MAX_LINE characters."""
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return [line[:MAX_LINE].rstrip() for line in lines[max(0, end - count) : end]]


def clean(text: str, limit: int) -> str:
    """Screen text made fit to show: no control characters, spaces
    collapsed, cut to `limit` characters."""
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]


# -- loading -------------------------------------------------------------------


def load_rules(extra: Sequence[Path] = (), shipped: bool = True) -> Rules:
    """The users' rule files (in order), then the shipped ones. A user rule
    named like a shipped rule replaces it; two user rules with one name are
    an error, as is anything else wrong in any file."""
    mine: list[Rule] = []
    seen: dict[str, str] = {}
    for path in extra:
        for rule in parse_rules(_read(path), str(path)):
            if rule.name in seen:
                raise RulesError(f"{path}: rule '{rule.name}' is also defined in {seen[rule.name]}")
            seen[rule.name] = str(path)
            mine.append(rule)
    if shipped:
        text = resources.files("tmuxweb").joinpath("rules", SHIPPED).read_text(encoding="utf-8")
        mine.extend(r for r in parse_rules(text, "shipped") if r.name not in seen)
    return Rules(mine)


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise RulesError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise RulesError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RulesError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None


def parse_rules(text: str, source: str) -> list[Rule]:
    """The rules of one file's text; `source` names it in errors."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RulesError(f"{source}: not valid TOML: {e}") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise RulesError(f"{source}: unknown key {unknown[0]!r} (expected 'version' and [[rules]])")
    if doc.get("version") != 1 or isinstance(doc.get("version"), bool):
        raise RulesError(f"{source}: 'version = 1' is required (got {doc.get('version')!r})")
    tables = doc.get("rules", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise RulesError(f"{source}: 'rules' must be an array of tables ([[rules]])")
    if len(tables) > MAX_RULES:
        raise RulesError(f"{source}: more than {MAX_RULES} rules")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, table in enumerate(tables, 1):
        rule = _rule(table, _Where(source, index, table.get("name")))
        if rule.name in names:
            raise RulesError(f"{source}: rule '{rule.name}' (#{index}): duplicate name")
        names.add(rule.name)
        rules.append(rule)
    return rules


@dataclass(frozen=True, slots=True)
class _Where:
    source: str
    index: int
    name: object

    def error(self, field: str, problem: str) -> RulesError:
        who = f"rule '{self.name}' (#{self.index})" if isinstance(self.name, str) else f"rule #{self.index}"
        return RulesError(f"{self.source}: {who}: '{field}': {problem}")


def _rule(table: Mapping[str, Any], where: _Where) -> Rule:
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        raise where.error(unknown[0], "unknown key (expected one of " + ", ".join(sorted(_RULE_KEYS)) + ")")
    name = _text(table, "name", where, 64, required=True)
    if not _NAME.fullmatch(name):
        raise where.error("name", "must be 1 to 64 of a-z, 0-9 and '-'")
    state = table.get("state")
    if state not in STATES:
        raise where.error("state", f"must be 'waiting' or 'done' (got {state!r})")
    last_lines = table.get("last_lines", DEFAULT_LAST_LINES)
    if type(last_lines) is not int or not 1 <= last_lines <= MAX_LAST_LINES:
        raise where.error("last_lines", f"must be an integer from 1 to {MAX_LAST_LINES}")
    min_busy = table.get("min_busy", 0)
    if type(min_busy) not in (int, float) or not 0 <= min_busy <= MAX_MIN_BUSY:
        raise where.error("min_busy", f"must be a number of seconds from 0 to {MAX_MIN_BUSY:g}")
    menu = _regex(table, "menu", where)
    if menu is not None and not {"key", "label"} <= set(menu.groupindex):
        raise where.error("menu", "needs the named groups (?P<key>…) and (?P<label>…)")
    if "menu_keys" in table and menu is None:
        raise where.error("menu_keys", "only goes with 'menu'")
    if menu is not None and "choices" in table:
        raise where.error("choices", "a rule has either 'menu' or 'choices', not both")
    choices = _choices(table, where)
    if state == "done" and (menu is not None or choices):
        raise where.error("choices" if choices else "menu", "a 'done' rule asks nothing, so it has no choices")
    pattern = _regex(table, "match", where)
    if pattern is None:
        raise where.error("match", "is required")
    return Rule(
        name=name,
        tool=_text(table, "tool", where, MAX_LABEL, required=True),
        state=state,
        commands=_commands(table, where),
        last_lines=last_lines,
        min_busy=float(min_busy),
        pattern=pattern,
        unless=_regex(table, "unless", where),
        question=_regex(table, "question", where),
        menu=menu,
        menu_keys=_menu_keys(table, where) if menu is not None else (_PLACEHOLDER,),
        choices=choices,
        source=where.source,
    )


def _text(table: Mapping[str, Any], field: str, where: _Where, limit: int, required: bool = False) -> str:
    value = table.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise where.error(field, f"must be a non-empty string of at most {limit} characters")
    if _CONTROL.search(value):
        raise where.error(field, "must not contain control characters")
    return value


def _regex(table: Mapping[str, Any], field: str, where: _Where) -> re.Pattern[str] | None:
    source = table.get(field)
    if source is None:
        return None
    if not isinstance(source, str) or not source or len(source) > MAX_PATTERN:
        raise where.error(field, f"must be a regular expression of 1 to {MAX_PATTERN} characters")
    try:
        pattern = re.compile(source, re.MULTILINE)
    except re.error as e:
        raise where.error(field, f"bad regular expression: {e}") from None
    except (RecursionError, OverflowError, ValueError) as e:
        raise where.error(field, f"bad regular expression: {type(e).__name__}") from None
    if field == "match" and pattern.fullmatch("") is not None:
        # It would match screens that show nothing at all.
        raise where.error(field, "matches the empty string")
    return pattern


def _strings(table: Mapping[str, Any], field: str, where: _Where, most: int) -> list[str]:
    value = table.get(field)
    if not isinstance(value, list) or not 1 <= len(value) <= most or not all(isinstance(v, str) for v in value):
        raise where.error(field, f"must be a list of 1 to {most} strings")
    return value


def _commands(table: Mapping[str, Any], where: _Where) -> tuple[str, ...]:
    if "commands" not in table:
        return ()
    globs = _strings(table, "commands", where, 64)
    for glob in globs:
        if not glob or len(glob) > 64 or _CONTROL.search(glob):
            raise where.error("commands", f"{glob!r} is not a usable glob (1 to 64 characters, no control characters)")
    return tuple(globs)


def _keys(value: object, field: str, where: _Where) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_KEYS_PER_CHOICE
        or not all(isinstance(k, str) for k in value)
    ):
        raise where.error(field, f"keys must be a list of 1 to {MAX_KEYS_PER_CHOICE} strings")
    for key in value:
        if not key or len(key) > MAX_KEY:
            raise where.error(field, f"a key must be 1 to {MAX_KEY} characters (got {key!r})")
        if _CONTROL.search(key):
            raise where.error(field, f"key {key!r} contains a control character; name it instead ({', '.join(sorted(NAMED_KEYS))})")
    return tuple(value)


def _choices(table: Mapping[str, Any], where: _Where) -> tuple[Choice, ...]:
    if "choices" not in table:
        return ()
    value = table["choices"]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CHOICES:
        raise where.error("choices", f"must be a list of 1 to {MAX_CHOICES} {{label, keys}} tables")
    choices = []
    for i, item in enumerate(value, 1):
        field = f"choices[{i}]"
        if not isinstance(item, dict):
            raise where.error(field, "must be a table {label = …, keys = […]}")
        unknown = sorted(set(item) - _CHOICE_KEYS)
        if unknown:
            raise where.error(field, f"unknown key {unknown[0]!r} (expected 'label' and 'keys')")
        label = item.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL or _CONTROL.search(label):
            raise where.error(field, f"label must be 1 to {MAX_LABEL} characters without control characters")
        choices.append(Choice(label, _keys(item.get("keys"), field, where)))
    return tuple(choices)


def _menu_keys(table: Mapping[str, Any], where: _Where) -> tuple[str, ...]:
    if "menu_keys" not in table:
        return (_PLACEHOLDER,)
    templates = _keys(table["menu_keys"], "menu_keys", where)
    for template in templates:
        if "{" in template.replace(_PLACEHOLDER, "") or "}" in template.replace(_PLACEHOLDER, ""):
            raise where.error("menu_keys", f"{template!r}: the only placeholder is {_PLACEHOLDER}")
    if not any(_PLACEHOLDER in t for t in templates):
        raise where.error("menu_keys", f"must use {_PLACEHOLDER} somewhere, or every choice sends the same keys")
    return templates
