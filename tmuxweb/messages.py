"""The wire protocol's declared types: every `POST /commands` body.

Each command is a `msgspec.Struct` tagged by its `type` field; together they
form the tagged union `Command`. `decode` is the one place a body is
checked: the JSON shape, the type, every field's type and range, the id
patterns, and no field the type does not declare (`forbid_unknown_fields`).
What a type cannot say (that a pane is in *this* session, copy-prompt's text
rules per command, paste text without NUL) is checked where it is used.

Why msgspec rather than `TypedDict` and a validator of our own: it decodes
JSON straight into these types in C (the `input` command is every
keystroke), it refuses unknown fields, and it generates the JSON Schema
(`schema.py`) from the same declarations, so the schema cannot drift from
what the server accepts.

Patterns are written in the subset Python and ECMAScript share, so the
generated schema works in other validators too: no `\\A`/`\\Z`, and each ends
in `$(?!\\n)` because Python's `$` alone also matches before a final newline
(msgspec searches with Python's `re`). `tmux/cmdline.py` still refuses
control characters when quoting: a second line of defence, not the first.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any, Literal, cast, get_args

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from tmuxweb import modekeys
from tmuxweb.errors import BadRequest
from tmuxweb.tmux import cmdline

MAX_SIZE = 1000
MAX_NAME = cmdline.MAX_NAME
MAX_KEYS = cmdline.MAX_KEYS
MAX_PROMPT_TEXT = modekeys.MAX_PROMPT_TEXT

# A field's `description` is also its error message: "<field> must be <description>".
_END = r"$(?!\n)"  # the end of the string, in Python's re and in ECMAScript
PaneId = Annotated[str, Meta(pattern=r"^%[0-9]{1,9}" + _END, description="a tmux pane id like %3")]
WindowId = Annotated[str, Meta(pattern=r"^@[0-9]{1,9}" + _END, description="a tmux window id like @2")]
Size = Annotated[int, Meta(ge=2, le=MAX_SIZE, description=f"an integer from 2 to {MAX_SIZE}")]
Cells = Annotated[int, Meta(ge=1, le=MAX_SIZE, description=f"an integer from 1 to {MAX_SIZE}")]
Seq = Annotated[int, Meta(ge=1, lt=2**53, description="a positive integer")]
Text = Annotated[str, Meta(min_length=1, description="a non-empty string")]
# tmux's key grammar, as tmux/cmdline.py checks it before quoting a key.
KEY_PATTERN = f"^{cmdline.KEY.pattern}{_END}"
Key = Annotated[str, Meta(pattern=KEY_PATTERN, description="a tmux key name (C-c, Enter, Up, F5, M-x, a character)")]
KeyList = Annotated[
    list[Key],
    Meta(min_length=1, max_length=MAX_KEYS, description=f"a non-empty list of at most {MAX_KEYS} tmux key names"),
]
# 1 to 64 characters, no control characters, not starting with "-", not
# starting or ending with white space (what cmdline.check_name enforces).
_NAME_PATTERN = r"^(?![-\s])(?!.*\s$)[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,%d}" % MAX_NAME + _END
Name = Annotated[
    str,
    Meta(
        pattern=_NAME_PATTERN,
        description=f"1 to {MAX_NAME} characters without control characters, and must not start with '-'"
        " nor start or end with white space",
    ),
]
PromptText = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_PROMPT_TEXT,
        pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*" + _END,
        description=f"1 to {MAX_PROMPT_TEXT} characters without control characters",
    ),
]
Direction = Literal["left", "right", "up", "down"]
Here = Annotated[Literal["current"], Meta(description="'current' (the pane's directory) when given")]
Layouts = Literal["next", "even-horizontal", "even-vertical", "main-horizontal", "main-vertical", "tiled"]
Prompted = Literal[
    "search-forward", "search-backward", "search-forward-text", "search-backward-text",
    "jump-forward", "jump-backward", "jump-to-forward", "jump-to-backward", "goto-line",
]


class Base(Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """Every command: an optional `seq` (the connection's command order)."""

    seq: Seq | None | UnsetType = UNSET  # null: no order asked for (as absent)


class Input(Base, tag="input"):
    """Literal text typed into the pane (byte-exact, as hex)."""

    text: Text
    pane: PaneId | UnsetType = UNSET


class SendKeys(Base, tag="keys"):
    """tmux key names sent with send-keys."""

    keys: KeyList
    pane: PaneId | UnsetType = UNSET


class Paste(Base, tag="paste"):
    """Text pasted through a private tmux buffer (bracketed if asked for)."""

    text: Text
    pane: PaneId | UnsetType = UNSET


ConnectionId = Annotated[str, Meta(pattern=r"^[0-9a-f]{16}" + _END, description="a connection_id from connection-info")]


class Resize(Base, tag="resize"):
    """Claim the session's window size for this connection's screen ("Fit
    to this screen", tmux/claim.py); watching alone never resizes. With
    `renew`: only if the claim in force is that (earlier) connection's."""

    cols: Size
    rows: Size
    renew: ConnectionId | UnsetType = UNSET


class ReleaseSize(Base, tag="release-size"):
    """Give this connection's size claim back (leaving does it too)."""


class SelectPane(Base, tag="select-pane"):
    pane: PaneId
    direction: Literal["left", "right", "up", "down", "next", "previous"] | UnsetType = UNSET


class SelectWindow(Base, tag="select-window"):
    window: WindowId


class Split(Base, tag="split"):
    """horizontal: side by side; vertical: stacked."""

    pane: PaneId
    direction: Literal["horizontal", "vertical"]
    cwd: Here | None | UnsetType = UNSET  # null: as absent


class KillPane(Base, tag="kill-pane"):
    pane: PaneId


class NewWindow(Base, tag="new-window"):
    name: Name | UnsetType = UNSET
    cwd: Here | None | UnsetType = UNSET  # null: as absent


class KillWindow(Base, tag="kill-window"):
    window: WindowId


class RenameWindow(Base, tag="rename-window"):
    window: WindowId
    name: Name


class Zoom(Base, tag="zoom"):
    pane: PaneId


class ResizePane(Base, tag="resize-pane"):
    pane: PaneId
    direction: Direction
    cells: Cells = 1


class NextWindow(Base, tag="next-window"):
    pass


class PreviousWindow(Base, tag="previous-window"):
    pass


class LastWindow(Base, tag="last-window"):
    pass


class LastPane(Base, tag="last-pane"):
    window: WindowId


class CopyMode(Base, tag="copy-mode"):
    pane: PaneId
    page_up: bool = False


class SendPrefix(Base, tag="send-prefix"):
    pane: PaneId
    secondary: bool = False


class PasteBuffer(Base, tag="paste-buffer"):
    pane: PaneId


class CopyPrompt(Base, tag="copy-prompt"):
    """The answer to a copy-mode prompt (modekeys.Ask); modekeys.check_answer
    adds the per-command rules (one character for a jump, digits for goto-line)."""

    pane: PaneId
    command: Prompted
    text: PromptText


class RotateWindow(Base, tag="rotate-window"):
    window: WindowId
    reverse: bool = False


class SwapPane(Base, tag="swap-pane"):
    pane: PaneId
    direction: Literal["up", "down"]


class SelectLayout(Base, tag="select-layout"):
    window: WindowId
    layout: Layouts


class Binding(Base, tag="binding"):
    """A key the user's tmux binds: resolved into one of the commands above."""

    key: Key
    table: Literal["prefix", "root"] = "prefix"
    pane: PaneId | UnsetType = UNSET
    confirmed: bool = False


class Answer(Base, tag="answer"):
    """One of the choices of the prompt a waiting pane shows (states.py):
    refused with 409 unless `screen` is still the screen's hash."""

    pane: PaneId
    choice: Annotated[int, Meta(ge=0, lt=64, description="a choice's index, from 0")]
    screen: Annotated[str, Meta(pattern=r"^[0-9a-f]{1,64}" + _END, description="a screen hash from the pane's state")]


class Seen(Base, tag="seen"):
    """The person has looked at the pane (any scope, read included)."""

    pane: PaneId


Command = (
    Input | SendKeys | Paste | Resize | ReleaseSize | SelectPane | SelectWindow | Split | KillPane | NewWindow | KillWindow
    | RenameWindow | Zoom | ResizePane | NextWindow | PreviousWindow | LastWindow | LastPane | CopyMode
    | SendPrefix | PasteBuffer | CopyPrompt | RotateWindow | SwapPane | SelectLayout | Binding
    | Answer | Seen
)
COMMANDS: tuple[type[Base], ...] = get_args(Command)
BY_TYPE: dict[str, type[Base]] = {str(c.__struct_config__.tag): c for c in COMMANDS}

_decoder: msgspec.json.Decoder[Command] = msgspec.json.Decoder(Command)


def kind(command: Base) -> str:
    """A command's `type` (its tag)."""
    return str(command.__struct_config__.tag)


def decode(body: bytes) -> Command:
    """The one check of a `POST /commands` body: a typed command, or
    BadRequest with a message naming the field."""
    try:
        return _decoder.decode(body)
    except msgspec.ValidationError as err:  # (a subclass of DecodeError)
        raise BadRequest(explain(str(err), _type_of(body))) from None
    except msgspec.DecodeError:
        raise _undecodable(body) from None


def convert(data: dict[str, Any]) -> Command:
    """A command given as a dict (a key binding's translation, bindings.py),
    checked by the same types as a body."""
    try:
        return cast(Command, msgspec.convert(data, Command))
    except msgspec.ValidationError as err:
        raise BadRequest(explain(str(err), data.get("type"))) from None


def _undecodable(body: bytes) -> BadRequest:
    # msgspec refuses a lone surrogate (\ud800) as malformed; Python's json
    # takes it, so say what is really wrong.
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return BadRequest("malformed JSON")
    return BadRequest("the body is not valid Unicode (a lone surrogate?)")


def _type_of(body: bytes) -> object:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data.get("type") if isinstance(data, dict) else None


_AT = re.compile(r" - at `\$(.*)`$")
_QUOTED = re.compile(r"`([^`]*)`")


def explain(message: str, kind: object) -> str:
    """msgspec's ValidationError as today's messages, naming the field."""
    at = _AT.search(message)
    path = at.group(1) if at else ""
    head = message[: at.start()] if at else message
    if path == "" and head.startswith("Expected `object`"):
        return "the body must be a JSON object"
    if path == ".type" or head == "Object missing required field `type`":
        return f"unknown command type {kind!r}"[:120]
    quoted = _QUOTED.search(head)
    field = quoted.group(1) if quoted else ""
    if head.startswith("Object contains unknown field"):
        return f"unknown field {field!r} for {kind}"[:120]
    if head.startswith("Object missing required field"):
        return f"{kind} needs {field!r}"[:120]
    name = path.lstrip(".").split(".", 1)[0]
    if "[" in name:  # an item of a list: keys[2]
        return f"{name} must be {_describe(kind, name.split('[', 1)[0] + '[]')}"[:200]
    return f"{name} must be {_describe(kind, name)}"[:200]


def _describe(kind: object, name: str) -> str:
    cls = BY_TYPE.get(kind) if isinstance(kind, str) else None
    hints = _field_hints(cls) if cls is not None else {}
    return hints.get(name, "valid")


_HINTS: dict[type[Base], dict[str, str]] = {}


def _field_hints(cls: type[Base]) -> dict[str, str]:
    """field → what it must be, from its declared type (cached per class)."""
    if cls not in _HINTS:
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        hints = {f.encode_name: _hint(f.type) for f in info.fields}
        for f in info.fields:
            t = f.type.type if isinstance(f.type, msgspec.inspect.Metadata) else f.type
            if isinstance(t, msgspec.inspect.ListType):
                hints[f.encode_name + "[]"] = _hint(t.item_type)
        _HINTS[cls] = hints
    return _HINTS[cls]


def _hint(t: msgspec.inspect.Type) -> str:
    if isinstance(t, msgspec.inspect.UnionType):
        # null, where allowed, means absent: not worth a mention
        parts = [p for p in t.types if not isinstance(p, msgspec.inspect.NoneType)]
        if len(parts) == 1:
            return _hint(parts[0])
    if isinstance(t, msgspec.inspect.Metadata):
        described = (t.extra_json_schema or {}).get("description")
        return str(described) if described else _hint(t.type)
    if isinstance(t, msgspec.inspect.LiteralType):
        values = [str(v) for v in t.values]
        return ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else values[0]
    if isinstance(t, msgspec.inspect.BoolType):
        return "true or false"
    if isinstance(t, msgspec.inspect.StrType):
        return "a string"
    if isinstance(t, msgspec.inspect.IntType):
        return "an integer"
    return "valid"


# -- events (GET /events): the `data` of each SSE event, by event name -------
#
# The server builds these as dicts (tmux/snapshot.py, tmux/hub.py, stream.py)
# and encodes each once for every watcher; these declarations are what they
# must match: the schema says so to other clients, and the test suite decodes
# every event it receives through them, unknown fields refused
# (tests/helpers.py), so a payload that drifts from its type fails the tests.


class Shape(Struct, forbid_unknown_fields=True, kw_only=True):
    """A part of an event: every field required, none unknown."""


class SessionRef(Shape):
    id: str
    name: str


class LayoutPane(Shape, tag_field="type", tag="pane"):
    pane: str
    x: int
    y: int
    width: int
    height: int


class LayoutRow(Shape, tag_field="type", tag="row"):
    """Children side by side (tmux `{…}`)."""

    x: int
    y: int
    width: int
    height: int
    children: list[Layout]


class LayoutColumn(Shape, tag_field="type", tag="column"):
    """Children stacked (tmux `[…]`)."""

    x: int
    y: int
    width: int
    height: int
    children: list[Layout]


Layout = LayoutPane | LayoutRow | LayoutColumn


class Window(Shape):
    id: str
    index: int
    name: str
    active: bool
    zoomed: bool
    activity: bool
    bell: bool
    width: int
    height: int
    layout: Layout | None  # the visible layout (the zoomed pane alone while zoomed)
    active_pane: str | None


class PaneGeometry(Shape):
    id: str
    x: int
    y: int
    width: int
    height: int
    active: bool


class Cursor(Shape):
    x: int
    y: int
    visible: bool


class Pane(PaneGeometry):
    title: str
    current_command: str
    current_path: str
    in_mode: bool
    dead: bool
    window: str
    index: int
    alternate_on: bool
    cursor: Cursor
    content: str  # written into a fresh terminal of width x height, reproduces the pane


class ConnectionInfo(Shape):
    connection_id: str
    session_token: str
    session: SessionRef
    protocol: int
    prefix: list[str]
    capabilities: list[str]
    resumed: bool
    scope: Literal["read", "write", "owner"]


class SizeClaim(Shape):
    """The size claim in force: whose (a connection_id) and its size."""

    connection: str
    cols: int
    rows: int


class State(Shape):
    session: SessionRef
    active_window: str | None
    windows: list[Window]
    panes: list[Pane]
    size_claim: SizeClaim | None


class SizeClaimed(Shape):
    """The size claim changed; null: nobody claims, tmux sizes as it would."""

    claim: SizeClaim | None


class Output(Shape):
    pane: str
    data: str


class PaneReset(Shape):
    pane: Pane


class WindowAdded(Shape):
    window: Window


class WindowClosed(Shape):
    window: str


class WindowRenamed(Shape):
    window: str
    name: str


class WindowFlags(Shape):
    window: str
    activity: bool
    bell: bool


class WindowSelected(Shape):
    window: str


class LayoutChanged(Shape):
    window: str
    layout: Layout | None
    zoomed: bool
    width: int
    height: int
    panes: list[PaneGeometry]


class PaneAdded(Shape):
    pane: Pane


class PaneClosed(Shape):
    pane: str


class PaneSelected(Shape):
    window: str
    pane: str | None


class PaneChanged(Shape):
    pane: str
    title: str
    current_command: str
    current_path: str
    in_mode: bool
    dead: bool


class SessionRenamed(Shape):
    name: str


class Exit(Shape):
    reason: str


class Notification(Shape):
    """A pane needs the person (notify.py): once per transition into one of
    these states that lasted the debounce; title and body follow
    --notify-content (no screen text by default). `tag` is per pane: a
    newer notification of the pane replaces the older."""

    id: str
    pane: str
    session: str
    state: Literal["waiting", "done", "bell", "exited"]
    title: str
    body: str
    at: float  # unix seconds
    tag: str


class NotificationCleared(Shape):
    """The pane has been looked at (`seen`): close its notification."""

    pane: str
    tag: str


class PromptChoice(Shape):
    label: str  # (its keys stay on the server)


class PanePrompt(Shape):
    rule: str
    tool: str
    question: str
    choices: list[PromptChoice]


class PaneState(Shape):
    """What a pane is doing (states.py): event `pane-state`, and the items
    of GET /api/states."""

    pane: str
    session: str
    session_name: str
    window: str
    window_index: int
    state: Literal["working", "waiting", "done", "idle", "bell", "exited"]
    since: float  # unix seconds
    title: str
    command: str
    lines: list[str]  # the last non-empty screen lines at the last read (at most 8)
    prompt: PanePrompt | None
    screen: str  # the hash of the screen `prompt` was read from ("" if none)
    exit_status: int | None
    gone: bool
    version: int  # tracker-wide, grows with every change


class PaneStates(Shape):
    """GET /api/states: every pane's state, who needs attention first."""

    now: float
    panes: list[PaneState]


EVENTS: dict[str, type[Shape]] = {
    "connection-info": ConnectionInfo,
    "state": State,
    "output": Output,
    "pane-reset": PaneReset,
    "window-added": WindowAdded,
    "window-closed": WindowClosed,
    "window-renamed": WindowRenamed,
    "window-flags": WindowFlags,
    "window-selected": WindowSelected,
    "layout": LayoutChanged,
    "pane-added": PaneAdded,
    "pane-closed": PaneClosed,
    "pane-selected": PaneSelected,
    "pane-changed": PaneChanged,
    "session-renamed": SessionRenamed,
    "size-claim": SizeClaimed,
    "exit": Exit,
    "notification": Notification,
    "notification-cleared": NotificationCleared,
    "pane-state": PaneState,
}

_event_decoders = {name: msgspec.json.Decoder(t) for name, t in EVENTS.items()}

# -- the shared stream of a browser's tabs (mux.py) ------------------------------

SubId = Annotated[
    str, Meta(pattern=r"^[A-Za-z0-9_-]{1,32}" + _END, description="1 to 32 letters, digits, '-' or '_'")
]
EventId = Annotated[str, Meta(max_length=64, description="an event id of at most 64 characters")]


class MuxAttach(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /mux/attach`: one tab's watcher joins the shared stream."""

    sub: SubId  # chosen by the client, so no frame of it can come before the answer
    session: Name | None = None  # None: the server's default session, as GET /events
    last_event_id: EventId | None = None  # resume, as GET /events' Last-Event-ID


class MuxDetach(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /mux/detach`: a tab's watcher leaves the shared stream."""

    sub: SubId


class MuxInfo(Shape):
    """First on `GET /mux`, never with an id: the secret that attaches to it."""

    mux_token: str


class Detached(Shape):
    """A watcher of the shared stream ended without its own `exit` (an
    error): the client attaches it again, resuming."""

    reason: str


MUX_EVENTS: dict[str, type[Shape]] = {"mux-info": MuxInfo, "detached": Detached}
_mux_event_decoders = {name: msgspec.json.Decoder(t) for name, t in MUX_EVENTS.items()}
_mux_decoders: dict[type[Struct], msgspec.json.Decoder[Any]] = {
    MuxAttach: msgspec.json.Decoder(MuxAttach),
    MuxDetach: msgspec.json.Decoder(MuxDetach),
}


def decode_mux(kind: type[MuxAttach] | type[MuxDetach], body: bytes) -> Any:
    """A `/mux/attach` or `/mux/detach` body, or BadRequest naming the field."""
    try:
        return _mux_decoders[kind].decode(body)
    except msgspec.ValidationError as err:
        raise BadRequest(str(err)[:200]) from None
    except msgspec.DecodeError:
        raise BadRequest("malformed JSON") from None



def check_event(name: str, data: bytes) -> Shape:
    """An event's `data` decoded as its declared type; for tests and other
    clients' conformance checks (the server itself never decodes events)."""
    return (_event_decoders.get(name) or _mux_event_decoders[name]).decode(data)


def schema() -> dict[str, Any]:
    """The JSON Schema of the protocol, generated from the types above
    (checked in as PROTOCOL.schema.json, served at GET /api/schema). The
    root validates a command body; `$defs/events` maps each event name to
    the schema of its `data`."""
    names, mux_names = list(EVENTS), list(MUX_EVENTS)
    (command, *payloads), defs = msgspec.json.schema_components(
        [Command, *EVENTS.values(), *MUX_EVENTS.values(), MuxAttach, MuxDetach], ref_template="#/$defs/{name}"
    )
    payloads, mux_payloads = payloads[: len(names)], payloads[len(names) : len(names) + len(mux_names)]
    defs["Command"] = command
    defs["events"] = {
        "description": "The data of each Server-Sent Event of GET /events, by event name.",
        "type": "object",
        "properties": dict(zip(names, payloads)),
    }
    defs["mux-events"] = {
        "description": "The shared stream's own events (GET /mux); the others carry a watcher's events.",
        "type": "object",
        "properties": dict(zip(mux_names, mux_payloads)),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tmuxweb wire protocol",
        "description": "A POST /commands body (the root); the events of GET /events in $defs/events. "
        "Generated from tmuxweb/messages.py: python -m tmuxweb.messages > PROTOCOL.schema.json",
        "$ref": "#/$defs/Command",
        "$defs": dict(sorted(defs.items())),
    }


@functools.cache
def schema_json() -> bytes:
    """The schema as the checked-in file holds it (stable: sorted, indented)."""
    return (json.dumps(schema(), indent=2, ensure_ascii=False) + "\n").encode()


if __name__ == "__main__":
    import sys

    sys.stdout.buffer.write(schema_json())
