"""How hub events go on the wire: Server-Sent Events frames.

The hub numbers and fans out tmux's events; it does not know this format.
The stream side gives it `encode_event` (TmuxServer → SessionHub), so each
event is still JSON- and SSE-encoded exactly once, in the reader, and every
watcher's stream writes the same bytes. The stream's own events (`state`,
`connection-info`, `exit`) are framed here too.
"""

from __future__ import annotations

import json
from typing import Any

from tmuxweb.tmux.hub import LAST, HubEvent


def encode_event(name: str, payload: Any, event_id: str | None) -> tuple[bytes, bytes]:
    """(JSON data, complete SSE frame). JSON never contains a raw newline.
    A payload given as bytes is JSON already (encoded once for every hub)."""
    if isinstance(payload, bytes):
        data = payload
    else:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    head = b"event: " + name.encode() + b"\n"
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\n"
    return data, head + b"data: " + data + b"\n\n"


def without_id(event: HubEvent) -> bytes:
    """The event's frame with no `id:` line (older than a snapshot's id)."""
    return b"event: " + event.name.encode() + b"\ndata: " + event.data + b"\n\n"


def farewell(reason: str) -> HubEvent:
    """An `exit` event for one watcher that the server ends."""
    data, wire = encode_event("exit", {"reason": reason}, None)
    return HubEvent(LAST, "exit", None, data, wire)
