"""`POST /commands`: validate a typed command, then hand tmux command lines
to the session's control client in the connection's order.

Everything is checked before anything is written to tmux: the JSON shape,
the command type, each field, and that every target is an id of the stream's
own session. A command that fails a check executes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tmuxweb import bindings, echo, modekeys
from tmuxweb.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TmuxWebError,
    UnsupportedMedia,
)
from tmuxweb.middleware import header
from tmuxweb.policy import check_command
from tmuxweb.services import Services
from tmuxweb.tmux import cmdline
from tmuxweb.tmux.client import Answer, check_answers
from tmuxweb.tmux.errors import TmuxError
from tmuxweb.tmux.hub import SessionHub
from tmuxweb.tokens import Principal
from tmuxweb.watchers import Connection

MAX_SIZE = 1000

Builder = Callable[[dict[str, Any], SessionHub], list[str]]


def _fields(data: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    allowed = {"type", "seq", *required, *optional}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} for {data['type']}"[:120])
    for name in required:
        if name not in data:
            raise BadRequest(f"{data['type']} needs {name!r}")


def _pane(data: dict[str, Any], hub: SessionHub) -> str:
    pane = cmdline.check_pane(data.get("pane"))
    if pane not in hub.structure.panes:
        raise NotFound(f"no pane {pane} in this session")
    return pane


def _window(data: dict[str, Any], hub: SessionHub) -> str:
    window = cmdline.check_window(data.get("window"))
    if window not in hub.structure.windows:
        raise NotFound(f"no window {window} in this session")
    return window


def _size(value: object, what: str) -> int:
    if type(value) is not int or not 2 <= value <= MAX_SIZE:
        raise BadRequest(f"{what} must be an integer from 2 to {MAX_SIZE}")
    return value


def _typing_target(data: dict[str, Any], hub: SessionHub) -> str:
    """The pane to type into: the one named, or else the session itself,
    which tmux resolves to its active pane when the command runs (so keys
    typed right after a binding that switched panes land where tmux is)."""
    return _pane(data, hub) if "pane" in data else hub.session_id


def _input(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("text",), ("pane",))
    raw = cmdline.encode_text(data["text"])
    if not raw:
        raise BadRequest("text must not be empty")
    return cmdline.send_bytes(_typing_target(data, hub), raw)


def _keys(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("keys",), ("pane",))
    keys = cmdline.check_keys(data["keys"])
    return cmdline.send_keys(_typing_target(data, hub), keys)


def _paste(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("text",), ("pane",))
    cmdline.encode_text(data["text"])
    if not data["text"]:
        raise BadRequest("text must not be empty")
    return cmdline.paste(_typing_target(data, hub), data["text"], hub.paste_buffer_name())


def _resize(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("cols", "rows"))
    return cmdline.resize_client(_size(data["cols"], "cols"), _size(data["rows"], "rows"))


_PANE_DIRECTIONS = (*cmdline.RESIZE_FLAGS, "next", "previous")


def _select_pane(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane",), ("direction",))
    pane = _pane(data, hub)
    if "direction" not in data:
        return cmdline.select_pane(pane)
    if data["direction"] not in _PANE_DIRECTIONS:
        raise BadRequest("direction must be left, right, up, down, next or previous")
    return cmdline.select_pane_towards(pane, hub.structure.panes[pane].window, data["direction"])


def _select_window(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("window",))
    return cmdline.select_window(_window(data, hub))


def _here(data: dict[str, Any]) -> bool:
    cwd = data.get("cwd")
    if cwd not in (None, "current"):
        raise BadRequest("cwd must be 'current' (the pane's directory) when given")
    return cwd == "current"


def _split(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane", "direction"), ("cwd",))
    direction = data["direction"]
    if direction not in ("horizontal", "vertical"):
        raise BadRequest("direction must be 'horizontal' or 'vertical'")
    return cmdline.split(_pane(data, hub), direction == "horizontal", _here(data))


def _kill_pane(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane",))
    return cmdline.kill_pane(_pane(data, hub))


def _new_window(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, (), ("name", "cwd"))
    name = cmdline.check_name(data["name"], "window name") if "name" in data else None
    return cmdline.new_window(hub.session_id, name, _here(data))


def _kill_window(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("window",))
    return cmdline.kill_window(_window(data, hub))


def _rename_window(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("window", "name"))
    name = cmdline.check_name(data["name"], "window name")
    return cmdline.rename_window(_window(data, hub), name)


def _resize_pane(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane", "direction"), ("cells",))
    direction = data["direction"]
    if direction not in cmdline.RESIZE_FLAGS:
        raise BadRequest("direction must be left, right, up or down")
    cells = data.get("cells", 1)
    if type(cells) is not int or not 1 <= cells <= MAX_SIZE:
        raise BadRequest(f"cells must be an integer from 1 to {MAX_SIZE}")
    return cmdline.resize_pane(_pane(data, hub), direction, cells)


def _zoom(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane",))
    return cmdline.zoom(_pane(data, hub))


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if type(value) is not bool:
        raise BadRequest(f"{name} must be true or false")
    return value


def _session_step(kind: str) -> Builder:
    def build(data: dict[str, Any], hub: SessionHub) -> list[str]:
        _fields(data, ())
        return cmdline.session_step(kind, hub.session_id)

    return build


def _last_pane(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("window",))
    return cmdline.last_pane(_window(data, hub))


def _copy_mode(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane",), ("page_up",))
    return cmdline.copy_mode(_pane(data, hub), _flag(data, "page_up"))


def _send_prefix(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane",), ("secondary",))
    return cmdline.send_prefix(_pane(data, hub), _flag(data, "secondary"))


def _paste_buffer(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane",))
    return cmdline.paste_top_buffer(_pane(data, hub))


def _copy_prompt(data: dict[str, Any], hub: SessionHub) -> list[str]:
    """The answer to a copy-mode prompt (modekeys.Ask), sent in the
    non-interactive form: tmux's own prompt would never be answered."""
    _fields(data, ("pane", "command", "text"))
    command, text = modekeys.check_answer(data["command"], data["text"])
    return cmdline.copy_mode_command(_pane(data, hub), f"-X {command} {cmdline.quote(text)}")


def _rotate_window(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("window",), ("reverse",))
    return cmdline.rotate_window(_window(data, hub), _flag(data, "reverse"))


def _swap_pane(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("pane", "direction"))
    if data["direction"] not in ("up", "down"):
        raise BadRequest("direction must be up or down")
    return cmdline.swap_pane(_pane(data, hub), data["direction"] == "up")


def _select_layout(data: dict[str, Any], hub: SessionHub) -> list[str]:
    _fields(data, ("window", "layout"))
    if data["layout"] != "next" and data["layout"] not in cmdline.LAYOUTS:
        raise BadRequest("layout must be next or one of " + ", ".join(sorted(cmdline.LAYOUTS)))
    return cmdline.select_layout(_window(data, hub), data["layout"])


BUILDERS: dict[str, Builder] = {
    "input": _input,
    "keys": _keys,
    "paste": _paste,
    "resize": _resize,
    "select-pane": _select_pane,
    "select-window": _select_window,
    "split": _split,
    "kill-pane": _kill_pane,
    "new-window": _new_window,
    "kill-window": _kill_window,
    "rename-window": _rename_window,
    "zoom": _zoom,
    "resize-pane": _resize_pane,
    "next-window": _session_step("next-window"),
    "previous-window": _session_step("previous-window"),
    "last-window": _session_step("last-window"),
    "last-pane": _last_pane,
    "copy-mode": _copy_mode,
    "send-prefix": _send_prefix,
    "paste-buffer": _paste_buffer,
    "copy-prompt": _copy_prompt,
    "rotate-window": _rotate_window,
    "swap-pane": _swap_pane,
    "select-layout": _select_layout,
}
# Commands that type into a pane: their reply waits for the echo.
TYPING = frozenset({"input", "keys", "paste", "paste-buffer", "send-prefix"})
# Typing commands that tmux turns into key lookups when the pane is in a
# mode (paste and paste-buffer write to the pane even then).
KEYED = frozenset({"input", "keys", "send-prefix"})
# Typed commands a binding may not produce (a binding resolves to one of
# the above; "binding" itself is handled in run_command).
COMMAND_TYPES = frozenset(BUILDERS) | {"binding"}


def load_json(body: bytes) -> Any:
    """JSON from a request body; anything unparsable (deep nesting too) is 400."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("malformed JSON") from None


def parse_body(body: bytes) -> dict[str, Any]:
    data = load_json(body)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in COMMAND_TYPES:
        raise BadRequest(f"unknown command type {kind!r}"[:120])
    return data


def parse_seq(data: dict[str, Any]) -> int | None:
    seq = data.get("seq")
    if seq is None:
        return None
    if type(seq) is not int or not 1 <= seq < 2**53:
        raise BadRequest("seq must be a positive integer")
    return seq


def require_json(request: Request) -> None:
    check_media_type(request.headers.get("content-type", ""))


def check_media_type(value: str) -> None:
    if value.split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMedia("the body must be application/json")


class CommandEndpoint:
    """`POST /commands` as a plain ASGI app rather than a Starlette
    function endpoint: this is every keystroke's path, and building a
    Request and a JSONResponse for it cost more than validating and
    writing the command (benchmarks/README.md). It turns its errors into
    responses itself, with app.py's one table (`errors`)."""

    def __init__(self, errors: Callable[[Scope, Exception], Awaitable[Response]]) -> None:
        self._errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            state = scope["state"]
            svc: Services = state["services"]
            who: Principal = state["principal"]
            check_media_type(header(scope, b"content-type") or "")
            body = await _read_body(receive)
            if body is None:
                return  # the client went away; nothing was run
            data = parse_body(body)
            payload = await run_command(svc, who, data, header(scope, b"x-session-token"), _query_session(scope))
        except Exception as exc:
            response = await self._errors(scope, exc)
            await response(scope, receive, send)
            return
        await _send_json(send, payload)


async def run_command(
    svc: Services, who: Principal, data: dict[str, Any], session_token: str | None, session: str | None
) -> bytes:
    """Check and run one command in its connection's order; the JSON reply."""
    seq = parse_seq(data)
    name = session or svc.config.default_session
    conn = svc.connections.find(session_token, cmdline.check_session_name(name))
    if who.name != conn.principal.name:
        raise Forbidden("the session token belongs to another access token")
    hub = conn.hub
    repeat = False
    resolved: dict[str, Any] = {}
    await conn.in_turn(seq, svc.config.seq_wait)
    try:
        check_command(data["type"], who, svc.config)
        if data["type"] == "binding":
            bound = await _resolve_binding(data, hub)
            check_command(bound.command["type"], who, svc.config)
            if bound.confirm is not None and not _flag(data, "confirmed"):
                return json.dumps({"ok": False, "confirm": bound.confirm}, separators=(",", ":")).encode()
            repeat = bound.repeat
            data = bound.command
        lines = BUILDERS[data["type"]](data, hub)
        pane = data.get("pane")
        if data["type"] in KEYED and hub.maybe_in_mode(pane):
            pane, lines, ask = await _mode_keys(data, hub, who.is_owner(), svc.config.no_destroy, resolved)
            if ask is not None:
                reply = {"ok": False, "ask": {**ask.to_json(), "pane": pane}}
                return json.dumps(reply, separators=(",", ":")).encode()
        elif data["type"] == "copy-mode":
            hub.mark_mode(data["pane"])
        # A typing command's replies come after its echo (echo.py).
        replies: asyncio.Future[list[Answer]]
        if not lines:
            replies = asyncio.gather()  # every key was unbound in the pane's mode
        elif data["type"] in TYPING:
            replies = echo.send_typing(hub, lines, pane)
        else:
            replies = asyncio.gather(*hub.send(lines))
    except (TmuxWebError, TmuxError) as err:
        _audit(svc, conn, data, resolved, refused=err.message)
        raise
    finally:
        conn.done(seq)
    _audit(svc, conn, data, resolved)
    check_answers(list(await replies))
    return _OK_REPEAT if repeat else _OK


_OK = b'{"ok":true}'
_OK_REPEAT = b'{"ok":true,"repeat":true}'


def _query_session(scope: Scope) -> str | None:
    # As Starlette's query_params.get: the last one given wins.
    query = scope.get("query_string", b"")
    if query.startswith(b"session=") and not any(c in query for c in b"&;%+"):
        # The UI's one parameter, nothing to decode: what parse_qsl gives.
        return query[8:].decode("latin-1") or None
    found = None
    for key, value in parse_qsl(query.decode("latin-1")):
        if key == "session":
            found = value
    return found or None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body (BodyLimit, further out, bounds it), or None
    if the client disconnected first."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def _send_json(send: Send, body: bytes) -> None:
    length = str(len(body)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", length)],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _audit(
    svc: Services, conn: Connection, data: dict[str, Any], resolved: dict[str, Any], refused: str | None = None
) -> None:
    """Type, target, who; typed text only with --audit-input."""
    if not svc.audit.enabled:
        return  # (every keystroke comes here: build nothing for nobody)
    record: dict[str, Any] = {
        "type": data.get("type"),
        "token": conn.principal.name,
        "session": conn.hub.session_id,
        "connection": conn.id,
        "client": conn.client,
    }
    for key in ("pane", "window", "direction", "name", "cols", "rows", "key", "command"):
        if key in data:
            record[key] = data[key]
    record.update(resolved)  # keys typed into a mode: the commands they ran
    if svc.audit.record_input:
        for key in ("text", "keys"):
            if key in data:
                record[key] = data[key]
    if refused is not None:
        record["refused"] = refused
    svc.audit.write("command", **record)


_MODE_TRIES = 5


async def _mode_keys(
    data: dict[str, Any], hub: SessionHub, owner: bool, no_destroy: bool, audit: dict[str, Any]
) -> tuple[str, list[str], modekeys.Ask | None]:
    """(pane, lines, ask) for keys to a pane that may be in a mode: ask
    tmux which mode, and resolve each key in its table (modekeys.py).

    The mode is read, then the lines are written with no await between the
    check and the write; if a mode mark arrived while we asked (our own
    copy-mode, or %pane-mode-changed), ask again."""
    target = data.get("pane") or hub.session_id
    for _ in range(_MODE_TRIES):
        serial = hub.mode_serial
        (answer,) = await asyncio.gather(*hub.send(cmdline.pane_mode(target)))
        fields = answer.text()[0].split(" ") if answer.reply.ok and answer.text() else []
        if len(fields) != 4:
            raise NotFound(f"no pane {target} in this session")
        pane, in_mode, mode, mode_keys = fields
        if in_mode != "1":
            lines = BUILDERS[data["type"]]({**data, "pane": pane}, hub)
            result: tuple[str, list[str], modekeys.Ask | None] = (pane, lines, None)
        else:
            result = await _resolve_keys(data, hub, pane, mode, mode_keys, owner, no_destroy, audit)
        if hub.mode_serial == serial:
            if result[1] and owner and in_mode == "1":
                hub.mark_mode(pane)  # the owner's binding may enter another mode
            return result
    raise Conflict("the pane's mode keeps changing; type again")


async def _resolve_keys(
    data: dict[str, Any], hub: SessionHub, pane: str, mode: str, mode_keys: str,
    owner: bool, no_destroy: bool, audit: dict[str, Any],
) -> tuple[str, list[str], modekeys.Ask | None]:
    keys = _typed_keys(data, hub)
    table = modekeys.key_table(mode, mode_keys)
    audit["mode"] = mode
    if table is None:
        if not set(keys) <= modekeys.LEAVE_KEYS:
            raise Conflict(f"the pane is in {mode}, which tmuxweb cannot drive; q or Escape leaves it"[:200])
        return pane, cmdline.send_keys(pane, keys), None
    answers = await asyncio.gather(*hub.send([line for k in keys for line in cmdline.list_key(table, k)]))
    decisions = []
    for key, answer in zip(keys, answers):
        binding = _binding_of(key, table, answer)
        try:
            decisions.append(modekeys.decide(key, binding, owner, no_destroy))
        except (TmuxWebError, TmuxError):
            audit["resolved"] = [*(d.resolved for d in decisions), binding or "(unbound)"]
            raise
    audit["resolved"] = [d.resolved for d in decisions]
    asks = [d.ask for d in decisions if d.ask is not None]
    if asks:
        if len(keys) != 1:
            raise Conflict(f"{decisions[0].key if decisions[0].ask else 'a key'} opens a prompt; send it on its own")
        return pane, [], asks[0]
    if owner:
        sent = [d.key for d in decisions if d.send_key]
        return pane, cmdline.send_keys(pane, sent) if sent else [], None
    return pane, [cmdline.copy_mode_command(pane, d.x_args)[0] for d in decisions if d.x_args], None


def _binding_of(key: str, table: str, answer: Answer) -> str | None:
    """The command `key` is bound to in `table` (None: unbound); anything
    unreadable is refused rather than guessed."""
    lines = answer.text()
    if not answer.reply.ok and any(line.startswith("unknown key") for line in lines):
        return None
    parsed = bindings.parse_binding(lines[0]) if answer.reply.ok and len(lines) == 1 else None
    if parsed is None:
        raise Conflict(f"cannot tell what {key} does in {table}; it was not sent"[:200])
    return parsed.command


def _typed_keys(data: dict[str, Any], hub: SessionHub) -> list[str]:
    """The keys a typing command stands for, by name."""
    if data["type"] == "keys":
        return list(data["keys"])
    if data["type"] == "input":
        return modekeys.input_keys(data["text"])
    prefix = hub.prefix[1 if data.get("secondary") else 0 : 2 if data.get("secondary") else 1]
    if not prefix:
        raise Conflict("the prefix key is not known; it was not sent")
    return prefix


async def _resolve_binding(data: dict[str, Any], hub: SessionHub) -> bindings.Resolved:
    """The typed command a key binding stands for (see bindings.py)."""
    _fields(data, ("key",), ("table", "pane", "confirmed"))
    key = data["key"]
    if not isinstance(key, str) or not cmdline.KEY.fullmatch(key):
        raise BadRequest("key must be a tmux key name")
    table = data.get("table", "prefix")
    if table not in ("prefix", "root"):
        raise BadRequest("table must be prefix or root")
    window = hub.structure.active_window
    pane = _pane(data, hub) if "pane" in data else (hub.structure.active_pane(window) if window else None)
    if window is None or pane is None:
        raise NotFound("the session has no active pane")
    window = hub.structure.panes[pane].window
    (answer,) = await asyncio.gather(*hub.send(cmdline.list_key(table, key)))
    lines = answer.text() if answer.reply.ok else []
    parsed = bindings.parse_binding(lines[0]) if lines else None
    if parsed is None:
        raise NotFound(f"{key} is not bound in the {table} table")
    target = bindings.Target(hub.session_id, window, pane)
    resolved = bindings.resolve(parsed.command, target, hub.structure, parsed.repeat)
    if resolved.confirm is not None:
        info = hub.structure.panes[pane]
        prompt = resolved.confirm.replace("#P", str(info.index)).replace("#W", hub.structure.windows[window].name)
        resolved = bindings.Resolved(resolved.command, prompt.replace("#S", hub.name), resolved.repeat)
    return resolved
