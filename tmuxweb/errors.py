"""The exceptions tmuxweb raises, and the one place they become HTTP statuses.

Hierarchy::

    TmuxWebError                 base; never raised itself
    ├── BadRequest          400  malformed JSON, unknown command, bad target or name
    ├── Unauthorized        401  missing or wrong access token or ticket
    ├── Forbidden           403  Host/Origin not allowed; bad, expired or foreign session token
    ├── NotFound            404  unknown session, window, pane or route
    ├── MethodNotAllowed    405  a method the route does not serve (with Allow)
    ├── Timeout             408  a request body that arrives too slowly
    ├── Conflict            409  a repeated command number; an upload's name is taken;
    │                            tmux answered a command with %error (message is tmux's)
    │   └── StaleAnswer     409  an answer to a prompt that is no longer on the screen
    │                            (its body carries the pane's fresh state)
    ├── PayloadTooLarge     413  request body over the limit
    ├── UnsupportedMedia    415  a request body that is not JSON
    ├── RangeNotSatisfiable 416  a file Range outside the file (with Content-Range)
    ├── TooManyRequests     429  too many streams, or too many failed logins
    └── ServiceUnavailable  503  tmux is not reachable: server gone, control client
                                 exited or missed the reply deadline (client replaced)

Handlers raise these; `app.py` maps them to `{"error": message}` responses
with `status` below, so no traceback and no foreign exception ever reaches a
client. The tmux layer raises its own errors (tmux/errors.py), which know
nothing of HTTP: `TMUX_ERRORS` below is where they get their statuses.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from tmuxweb.tmux.errors import (
    InvalidArgument,
    SessionExists,
    SessionNotFound,
    TmuxError,
    TmuxRefused,
    TmuxUnavailable,
)


class TmuxWebError(Exception):
    """Base of every error tmuxweb reports to a client."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        """Headers the error response must carry (most carry none)."""
        return {}

    def body(self) -> dict[str, Any]:
        """The JSON body of the response: `{"error": message}`, and for a
        few errors what the client needs to recover."""
        return {"error": self.message}


class BadRequest(TmuxWebError):
    """Raised when a request is malformed: JSON, command type, target or name."""

    status = 400


class Unauthorized(TmuxWebError):
    """Raised when the access token or ticket is missing or wrong."""

    status = 401


class Forbidden(TmuxWebError):
    """Raised for a disallowed Host/Origin or a bad session token."""

    status = 403


class NotFound(TmuxWebError):
    """Raised when a session, window, pane or route does not exist."""

    status = 404


class MethodNotAllowed(TmuxWebError):
    """Raised for a method a route does not serve (`HEAD /events`)."""

    status = 405

    def __init__(self, allowed: str) -> None:
        super().__init__("method not allowed")
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": self.allowed}


class Timeout(TmuxWebError):
    """Raised when a request body does not arrive in time."""

    status = 408


class Conflict(TmuxWebError):
    """Raised when a command's number was already used, or an upload's
    target exists (without overwrite) or is not a regular file; the status
    of tmux's %error (TmuxRefused)."""

    status = 409


class StaleAnswer(Conflict):
    """Raised when an `answer` no longer fits the pane: it is not waiting,
    its screen changed since the state the answer was based on, or the
    choice is not one of the prompt's. Carries the fresh PaneState."""

    def __init__(self, message: str, state: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.state = state

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "state": self.state}


class PayloadTooLarge(TmuxWebError):
    """Raised when a request body exceeds the configured limit."""

    status = 413


class UnsupportedMedia(TmuxWebError):
    """Raised when a request body is not application/json."""

    status = 415


class RangeNotSatisfiable(TmuxWebError):
    """Raised when a Range selects nothing of a file."""

    status = 416

    def __init__(self, size: int) -> None:
        super().__init__("the requested range is outside the file")
        self.size = size

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


class TooManyRequests(TmuxWebError):
    """Raised when a stream limit is reached."""

    status = 429


class ServiceUnavailable(TmuxWebError):
    """The status of TmuxUnavailable (and TmuxStalled): tmux cannot be
    reached, or its control client missed the reply deadline."""

    status = 503


# The tmux layer's errors and what each becomes, most general last: the
# first class of an error's MRO found here decides.
TMUX_ERRORS: dict[type[TmuxError], type[TmuxWebError]] = {
    InvalidArgument: BadRequest,
    SessionNotFound: NotFound,
    SessionExists: BadRequest,
    TmuxRefused: Conflict,
    TmuxUnavailable: ServiceUnavailable,
}


def from_tmux(err: TmuxError) -> TmuxWebError:
    """The client-facing error for an error of the tmux layer (same message)."""
    kind = next((TMUX_ERRORS[c] for c in type(err).__mro__ if c in TMUX_ERRORS), TmuxWebError)
    return kind(err.message)


def error_body(message: str) -> bytes:
    """The JSON body of every error response, shared by routes and middleware."""
    return json.dumps({"error": message}).encode()
