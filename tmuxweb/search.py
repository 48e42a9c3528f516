"""Find in scrollback: `GET /api/search?pane=%3&q=TEXT[&case=1]` searches a
pane's whole tmux history and screen, not only what a browser holds.

The pane must belong to a session someone is watching (its hub runs):
the search uses that session's control client, and tmux is asked in
chunks of CHUNK lines, each captured as plain text (no `-e`: cheaper)
into a named buffer that is shown and deleted at once, never
`capture-pane -p` (DATA-FLOW.md "Captures go through named buffers").
Other commands run between chunks, so a 50k-line history freezes tmux
for one chunk's capture at a time, not for the whole search
(benchmarks/search.py). The text is matched here, as a plain
substring (no regular expressions: no catastrophic patterns), newest
lines last; at most MAX_MATCHES matches, and the search stops at
DEADLINE seconds with `truncated`.

Line numbers are tmux's: 0 is the top of the visible screen, -1 the
newest history line, `-history_size` the oldest. A page turns them into
its own rows by counting from the bottom (`rows - 1 - line`), which new
output shifts the same way on both sides.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tmuxweb.errors import BadRequest, Conflict
from tmuxweb.services import services
from tmuxweb.tmux.cmdline import quote
from tmuxweb.tmux.client import check_answers
from tmuxweb.tmux.hub import SessionHub
from tmuxweb.tmux.snapshot import buffer_text

CHUNK = 5000
MAX_MATCHES = 1000
MAX_QUERY = 200
# Characters of a matching line returned, and lines of context each side.
MAX_LINE = 400
CONTEXT = 2
DEADLINE = 10.0
_serial = itertools.count(1)
# One search at a time per session: many pages searching at once queue here
# rather than take turns with everyone's typing in tmux.
_locks: weakref.WeakKeyDictionary[SessionHub, asyncio.Lock] = weakref.WeakKeyDictionary()


def _params(request: Request) -> tuple[str, str, bool]:
    items = request.query_params.multi_items()
    params = dict(items)
    if len(params) != len(items) or set(params) - {"pane", "q", "case"}:
        raise BadRequest("query parameters: pane, q, case (each once)")
    pane, query = params.get("pane", ""), params.get("q", "")
    if not (pane.startswith("%") and pane[1:].isascii() and pane[1:].isdigit() and len(pane) <= 12):
        raise BadRequest("pane must be a pane id like %3")
    if not query or len(query) > MAX_QUERY or any(ord(c) < 0x20 for c in query):
        raise BadRequest(f"q must be 1 to {MAX_QUERY} characters, no control characters")
    case = {"0": False, "1": True}.get(params.get("case", "0"))
    if case is None:
        raise BadRequest("case must be 0 or 1")
    return pane, query, case


def _hub_of(request: Request, pane: str) -> SessionHub:
    for hub in services(request).tmux.hubs():
        if not hub.closed and pane in hub.structure.panes:
            return hub
    raise Conflict("that pane is not in a session being watched")


async def _capture(hub: SessionHub, pane: str, first: int, last: int) -> list[str]:
    name = quote(f"tmuxweb-find-{hub.epoch}-{next(_serial)}")
    target = quote(pane)
    answers = await hub.run(
        [f"capture-pane -S {first} -E {last} -b {name} -t {target}", f"show-buffer -b {name}", f"delete-buffer -b {name}"]
    )
    check_answers(answers[:1])
    shown = answers[1]
    return buffer_text(shown.reply.lines) if shown.reply.ok else []


def find(lines: list[str], first: int, query: str, case: bool) -> list[tuple[int, int]]:
    """(line number, column) of every match in `lines`, numbered from `first`."""
    needle = query if case else query.casefold()
    found = []
    for i, line in enumerate(lines):
        hay = line if case else line.casefold()
        col = hay.find(needle)
        while col != -1:
            found.append((first + i, col))
            col = hay.find(needle, col + max(1, len(needle)))
    return found


async def search_pane(hub: SessionHub, pane: str, query: str, case: bool) -> dict[str, Any]:
    size = await hub.run([f"display-message -p -t {quote(pane)} '#{{history_size}} #{{pane_height}}'"])
    history, rows = (int(v) for v in check_answers(size)[0].text()[0].split())
    started = time.monotonic()
    matches: list[dict[str, Any]] = []
    truncated = False
    searched = 0
    top = -history
    while top < rows:
        bottom = min(top + CHUNK - 1, rows - 1)
        lines = await _capture(hub, pane, top, bottom)
        searched += len(lines)
        for line_no, col in find(lines, top, query, case):
            i = line_no - top
            matches.append(
                {
                    "line": line_no,
                    "col": col,
                    "text": lines[i][:MAX_LINE],
                    "before": [t[:MAX_LINE] for t in lines[max(0, i - CONTEXT) : i]],
                    "after": [t[:MAX_LINE] for t in lines[i + 1 : i + 1 + CONTEXT]],
                }
            )
        if len(matches) > MAX_MATCHES or time.monotonic() - started > DEADLINE:
            truncated = True
            break
        top = bottom + 1
    return {
        "pane": pane,
        "history_size": history,
        "rows": rows,
        "lines_searched": searched,
        "matches": matches[:MAX_MATCHES],
        "truncated": truncated,
    }


async def get_search(request: Request) -> Response:
    pane, query, case = _params(request)
    hub = _hub_of(request, pane)
    lock = _locks.setdefault(hub, asyncio.Lock())
    async with lock:
        result = await search_pane(hub, pane, query, case)
    return JSONResponse(result)


def routes() -> list[BaseRoute]:
    return [Route("/api/search", get_search, methods=["GET"])]
