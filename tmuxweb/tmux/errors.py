"""The errors of the tmux layer, which knows nothing of HTTP.

Hierarchy::

    TmuxError                 base; never raised itself
    ├── InvalidArgument       a value cannot go into a command line (cmdline.py)
    ├── SessionNotFound       no tmux session by that name, or none to attach
    ├── SessionExists         creating a session whose name is taken
    ├── TmuxRefused           tmux answered a command with %error
    └── TmuxUnavailable       tmux cannot be reached
        ├── TmuxStalled       the control client missed the reply deadline
        └── HubClosing        (hub.py) the hub is detaching; get a new one

`tmuxweb/errors.py` gives each one its HTTP status (`from_tmux`), in the
one table the routes answer from.
"""

from __future__ import annotations


class TmuxError(Exception):
    """Base of the tmux layer's errors; `message` is shown to the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(TmuxError):
    """Raised when a value cannot go into a command line: not a tmux id, a
    name, key or text that breaks the rules of cmdline.py."""


class SessionNotFound(TmuxError):
    """Raised when no tmux session has the name asked for, or the session a
    control client is to attach does not exist."""


class SessionExists(TmuxError):
    """Raised when a session is to be created under a name that is taken."""


class TmuxRefused(TmuxError):
    """Raised when tmux answers a command with %error (the message is tmux's)."""


class TmuxUnavailable(TmuxError):
    """Raised when tmux cannot be reached: the server is gone, the control
    client exited or did not attach."""


class TmuxStalled(TmuxUnavailable):
    """Raised for the commands waiting on a control client that missed the
    reply deadline; it is killed and replaced by a fresh one."""
