"""`POST /commands`: validate a typed command, then hand tmux command lines
to the session's control client in the connection's order.

Everything is checked before anything is written to tmux: the JSON shape,
the command type and each field by its declared type (`messages.decode`),
then here that every target is an id of the stream's own session. A command
that fails a check executes nothing.
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

import msgspec
from msgspec import UNSET, UnsetType

from tmuxweb import bindings, echo, modekeys
from tmuxweb import messages as m
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

Builder = Callable[[Any, SessionHub], list[str]]


def _pane(pane: str, hub: SessionHub) -> str:
    if pane not in hub.structure.panes:
        raise NotFound(f"no pane {pane} in this session"[:120])
    return pane


def _window(window: str, hub: SessionHub) -> str:
    if window not in hub.structure.windows:
        raise NotFound(f"no window {window} in this session"[:120])
    return window


def _typing_target(pane: str | UnsetType, hub: SessionHub) -> str:
    """The pane to type into: the one named, or else the session itself,
    which tmux resolves to its active pane when the command runs (so keys
    typed right after a binding that switched panes land where tmux is)."""
    return hub.session_id if pane is UNSET else _pane(pane, hub)


def _input(cmd: m.Input, hub: SessionHub) -> list[str]:
    return cmdline.send_bytes(_typing_target(cmd.pane, hub), cmdline.encode_text(cmd.text))


def _keys(cmd: m.SendKeys, hub: SessionHub) -> list[str]:
    return cmdline.send_keys(_typing_target(cmd.pane, hub), cmd.keys)


def _paste(cmd: m.Paste, hub: SessionHub) -> list[str]:
    return cmdline.paste(_typing_target(cmd.pane, hub), cmd.text, hub.paste_buffer_name())


def _no_lines(cmd: m.Resize | m.ReleaseSize, hub: SessionHub) -> list[str]:
    # A size claim is not a command of the session's control client, which
    # never takes a size (tmux/claim.py; run_command hands it over).
    return []


def _select_pane(cmd: m.SelectPane, hub: SessionHub) -> list[str]:
    pane = _pane(cmd.pane, hub)
    if cmd.direction is UNSET:
        return cmdline.select_pane(pane)
    return cmdline.select_pane_towards(pane, hub.structure.panes[pane].window, cmd.direction)


def _select_window(cmd: m.SelectWindow, hub: SessionHub) -> list[str]:
    return cmdline.select_window(_window(cmd.window, hub))


def _split(cmd: m.Split, hub: SessionHub) -> list[str]:
    return cmdline.split(_pane(cmd.pane, hub), cmd.direction == "horizontal", cmd.cwd == "current")


def _kill_pane(cmd: m.KillPane, hub: SessionHub) -> list[str]:
    return cmdline.kill_pane(_pane(cmd.pane, hub))


def _new_window(cmd: m.NewWindow, hub: SessionHub) -> list[str]:
    name = None if cmd.name is UNSET else cmd.name
    return cmdline.new_window(hub.session_id, name, cmd.cwd == "current")


def _kill_window(cmd: m.KillWindow, hub: SessionHub) -> list[str]:
    return cmdline.kill_window(_window(cmd.window, hub))


def _rename_window(cmd: m.RenameWindow, hub: SessionHub) -> list[str]:
    return cmdline.rename_window(_window(cmd.window, hub), cmd.name)


def _resize_pane(cmd: m.ResizePane, hub: SessionHub) -> list[str]:
    return cmdline.resize_pane(_pane(cmd.pane, hub), cmd.direction, cmd.cells)


def _zoom(cmd: m.Zoom, hub: SessionHub) -> list[str]:
    return cmdline.zoom(_pane(cmd.pane, hub))


def _session_step(cmd: m.NextWindow | m.PreviousWindow | m.LastWindow, hub: SessionHub) -> list[str]:
    return cmdline.session_step(m.kind(cmd), hub.session_id)


def _last_pane(cmd: m.LastPane, hub: SessionHub) -> list[str]:
    return cmdline.last_pane(_window(cmd.window, hub))


def _copy_mode(cmd: m.CopyMode, hub: SessionHub) -> list[str]:
    return cmdline.copy_mode(_pane(cmd.pane, hub), cmd.page_up)


def _send_prefix(cmd: m.SendPrefix, hub: SessionHub) -> list[str]:
    return cmdline.send_prefix(_pane(cmd.pane, hub), cmd.secondary)


def _paste_buffer(cmd: m.PasteBuffer, hub: SessionHub) -> list[str]:
    return cmdline.paste_top_buffer(_pane(cmd.pane, hub))


def _copy_prompt(cmd: m.CopyPrompt, hub: SessionHub) -> list[str]:
    """The answer to a copy-mode prompt (modekeys.Ask), sent in the
    non-interactive form: tmux's own prompt would never be answered."""
    command, text = modekeys.check_answer(cmd.command, cmd.text)
    return cmdline.copy_mode_command(_pane(cmd.pane, hub), f"-X {command} {cmdline.quote(text)}")


def _rotate_window(cmd: m.RotateWindow, hub: SessionHub) -> list[str]:
    return cmdline.rotate_window(_window(cmd.window, hub), cmd.reverse)


def _swap_pane(cmd: m.SwapPane, hub: SessionHub) -> list[str]:
    return cmdline.swap_pane(_pane(cmd.pane, hub), cmd.direction == "up")


def _select_layout(cmd: m.SelectLayout, hub: SessionHub) -> list[str]:
    return cmdline.select_layout(_window(cmd.window, hub), cmd.layout)


# Each command type's builder; its argument is of that type (messages.py
# checked every field), so a builder only checks what a type cannot say:
# that a target belongs to this session.
BUILDERS: dict[type[m.Base], Builder] = {
    m.Input: _input,
    m.SendKeys: _keys,
    m.Paste: _paste,
    m.Resize: _no_lines,
    m.ReleaseSize: _no_lines,
    m.SelectPane: _select_pane,
    m.SelectWindow: _select_window,
    m.Split: _split,
    m.KillPane: _kill_pane,
    m.NewWindow: _new_window,
    m.KillWindow: _kill_window,
    m.RenameWindow: _rename_window,
    m.Zoom: _zoom,
    m.ResizePane: _resize_pane,
    m.NextWindow: _session_step,
    m.PreviousWindow: _session_step,
    m.LastWindow: _session_step,
    m.LastPane: _last_pane,
    m.CopyMode: _copy_mode,
    m.SendPrefix: _send_prefix,
    m.PasteBuffer: _paste_buffer,
    m.CopyPrompt: _copy_prompt,
    m.RotateWindow: _rotate_window,
    m.SwapPane: _swap_pane,
    m.SelectLayout: _select_layout,
}
# Commands after which the size claim's holder sees another window.
SWITCHING = (m.SelectWindow, m.NextWindow, m.PreviousWindow, m.LastWindow, m.NewWindow, m.KillWindow)
# Commands that type into a pane: their reply waits for the echo.
TYPING = (m.Input, m.SendKeys, m.Paste, m.PasteBuffer, m.SendPrefix)
# Typing commands that tmux turns into key lookups when the pane is in a
# mode (paste and paste-buffer write to the pane even then).
KEYED = (m.Input, m.SendKeys, m.SendPrefix)


def load_json(body: bytes) -> Any:
    """JSON from a request body; anything unparsable (deep nesting too) is 400."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("malformed JSON") from None


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
            payload = await run_command(svc, who, m.decode(body), header(scope, b"x-session-token"), _query_session(scope))
        except Exception as exc:
            response = await self._errors(scope, exc)
            await response(scope, receive, send)
            return
        await _send_json(send, payload)


async def run_command(
    svc: Services, who: Principal, cmd: m.Command, session_token: str | None, session: str | None
) -> bytes:
    """Run one checked command in its connection's order; the JSON reply."""
    seq = None if cmd.seq is UNSET else cmd.seq
    name = session or svc.config.default_session
    conn = svc.connections.find(session_token, cmdline.check_session_name(name))
    if who.name != conn.principal.name:
        raise Forbidden("the session token belongs to another access token")
    hub = conn.hub
    repeat = False
    resolved: dict[str, Any] = {}
    await conn.in_turn(seq, svc.config.seq_wait)
    if isinstance(cmd, (m.Answer, m.Seen)):
        return await _state_command(svc, who, conn, cmd, seq)
    try:
        check_command(m.kind(cmd), who, svc.config)
        if isinstance(cmd, m.Binding):
            bound = await _resolve_binding(cmd, hub)
            check_command(bound.command["type"], who, svc.config)
            if bound.confirm is not None and not cmd.confirmed:
                return json.dumps({"ok": False, "confirm": bound.confirm}, separators=(",", ":")).encode()
            repeat = bound.repeat
            cmd = m.convert(bound.command)
            if isinstance(cmd, m.Binding):
                raise BadRequest("a binding cannot stand for another binding")
        lines = BUILDERS[type(cmd)](cmd, hub)
        pane: str | None = getattr(cmd, "pane", None) or None
        if isinstance(cmd, KEYED) and hub.maybe_in_mode(pane):
            pane, lines, ask = await _mode_keys(cmd, hub, who.is_owner(), svc.config.no_destroy, resolved)
            if ask is not None:
                reply = {"ok": False, "ask": {**ask.to_json(), "pane": pane}}
                return json.dumps(reply, separators=(",", ":")).encode()
        elif isinstance(cmd, m.CopyMode):
            hub.mark_mode(cmd.pane)
        # A typing command's replies come after its echo (echo.py).
        replies: asyncio.Future[list[Answer]]
        if isinstance(cmd, m.Resize | m.ReleaseSize):
            replies = asyncio.ensure_future(_claim_size(cmd, hub, conn, svc))
        elif not lines:
            replies = asyncio.gather()  # every key was unbound in the pane's mode
        elif isinstance(cmd, TYPING):
            replies = echo.send_typing(hub, lines, pane)
        else:
            replies = asyncio.gather(*hub.send(lines))
        if isinstance(cmd, SWITCHING) and hub.claim.holder == conn.id:
            replies.add_done_callback(lambda _: hub.follow_claim())
    except (TmuxWebError, TmuxError) as err:
        _audit(svc, conn, cmd, resolved, refused=err.message)
        raise
    finally:
        conn.done(seq)
    _audit(svc, conn, cmd, resolved)
    check_answers(list(await replies))
    return _OK_REPEAT if repeat else _OK


async def _claim_size(cmd: m.Resize | m.ReleaseSize, hub: SessionHub, conn: Connection, svc: Services) -> list[Answer]:
    if isinstance(cmd, m.Resize):
        renew = None if cmd.renew is UNSET else cmd.renew
        if renew is not None and svc.connections.open_for(lambda c: c.id == renew):
            # Only a stream that has ended passes its claim on: a viewer
            # still here keeps its place under a newer claim.
            raise Conflict("that connection is still open; claim without renew")
        await hub.claim.claim(conn.id, cmd.cols, cmd.rows, conn.principal.name, renew)
    else:
        await hub.claim.release(conn.id)
    return []


_OK = b'{"ok":true}'


async def _state_command(svc: Services, who: Principal, conn: Connection, cmd: m.Answer | m.Seen, seq: int | None) -> bytes:
    """`seen` and `answer` (states.py). They name a pane of any session:
    every stream carries every pane's state, and an access token is not
    bound to a session. `seen` only says the person has looked, so any
    scope may send it; `answer` types into the pane: write scope, audited
    with the rule and the choice's label, refused (409, with the fresh
    state) unless the pane still shows that prompt."""
    resolved: dict[str, Any] = {}
    try:
        tracker = svc.tracker()
        if isinstance(cmd, m.Seen):
            tracker.seen(cmd.pane)
            return _OK
        check_command(m.kind(cmd), who, svc.config)
        answered = await tracker.answer(cmd.pane, cmd.choice, cmd.screen)
        resolved.update(session=answered.hub.session_id, rule=answered.rule, choice=cmd.choice, label=answered.label)
    except (TmuxWebError, TmuxError) as err:
        if isinstance(cmd, m.Answer):
            resolved.update(choice=cmd.choice)
            _audit(svc, conn, cmd, resolved, refused=err.message)
        raise
    finally:
        conn.done(seq)
    _audit(svc, conn, cmd, resolved)
    check_answers(list(await asyncio.gather(*answered.replies)))
    return _OK
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
    svc: Services, conn: Connection, cmd: m.Command, resolved: dict[str, Any], refused: str | None = None
) -> None:
    """Type, target, who; typed text only with --audit-input."""
    if not svc.audit.enabled:
        return  # (every keystroke comes here: build nothing for nobody)
    data = msgspec.structs.asdict(cmd)
    record: dict[str, Any] = {
        "type": m.kind(cmd),
        "token": conn.principal.name,
        "session": conn.hub.session_id,
        "connection": conn.id,
        "client": conn.client,
    }
    for key in ("pane", "window", "direction", "name", "cols", "rows", "key", "command"):
        if data.get(key, UNSET) is not UNSET:
            record[key] = data[key]
    record.update(resolved)  # keys typed into a mode: the commands they ran
    if svc.audit.record_input:
        for key in ("text", "keys"):
            if data.get(key, UNSET) is not UNSET:
                record[key] = data[key]
    if refused is not None:
        record["refused"] = refused
    svc.audit.write("command", **record)


_MODE_TRIES = 5


async def _mode_keys(
    cmd: m.Input | m.SendKeys | m.SendPrefix, hub: SessionHub, owner: bool, no_destroy: bool, audit: dict[str, Any]
) -> tuple[str, list[str], modekeys.Ask | None]:
    """(pane, lines, ask) for keys to a pane that may be in a mode: ask
    tmux which mode, and resolve each key in its table (modekeys.py).

    The mode is read, then the lines are written with no await between the
    check and the write; if a mode mark arrived while we asked (our own
    copy-mode, or %pane-mode-changed), ask again."""
    target = hub.session_id if cmd.pane is UNSET else cmd.pane
    for _ in range(_MODE_TRIES):
        serial = hub.mode_serial
        (answer,) = await asyncio.gather(*hub.send(cmdline.pane_mode(target)))
        fields = answer.text()[0].split(" ") if answer.reply.ok and answer.text() else []
        if len(fields) != 4:
            raise NotFound(f"no pane {target} in this session")
        pane, in_mode, mode, mode_keys = fields
        if in_mode != "1":
            lines = BUILDERS[type(cmd)](msgspec.structs.replace(cmd, pane=pane), hub)
            result: tuple[str, list[str], modekeys.Ask | None] = (pane, lines, None)
        else:
            result = await _resolve_keys(cmd, hub, pane, mode, mode_keys, owner, no_destroy, audit)
        if hub.mode_serial == serial:
            if result[1] and owner and in_mode == "1":
                hub.mark_mode(pane)  # the owner's binding may enter another mode
            return result
    raise Conflict("the pane's mode keeps changing; type again")


async def _resolve_keys(
    cmd: m.Input | m.SendKeys | m.SendPrefix, hub: SessionHub, pane: str, mode: str, mode_keys: str,
    owner: bool, no_destroy: bool, audit: dict[str, Any],
) -> tuple[str, list[str], modekeys.Ask | None]:
    keys = _typed_keys(cmd, hub)
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


def _typed_keys(cmd: m.Input | m.SendKeys | m.SendPrefix, hub: SessionHub) -> list[str]:
    """The keys a typing command stands for, by name."""
    if isinstance(cmd, m.SendKeys):
        return list(cmd.keys)
    if isinstance(cmd, m.Input):
        return modekeys.input_keys(cmd.text)
    prefix = hub.prefix[1 if cmd.secondary else 0 : 2 if cmd.secondary else 1]
    if not prefix:
        raise Conflict("the prefix key is not known; it was not sent")
    return prefix


async def _resolve_binding(cmd: m.Binding, hub: SessionHub) -> bindings.Resolved:
    """The typed command a key binding stands for (see bindings.py)."""
    key, table = cmd.key, cmd.table
    window = hub.structure.active_window
    if cmd.pane is not UNSET:
        pane: str | None = _pane(cmd.pane, hub)
    else:
        pane = hub.structure.active_pane(window) if window else None
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
