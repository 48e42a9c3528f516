"""Which commands a request may run: deny by default.

Only the typed commands of the API exist (there is no raw tmux command
passthrough at all, so `run-shell`, `if-shell`, `source-file`, `pipe-pane`,
`load-buffer`, `save-buffer`, `display-popup` and the like cannot be reached
by any request or binding). On top of that:

* a `read` token may run nothing (watching only) but `seen`, which only
  says the person has looked at a pane (commands.py, `_state_command`);
* a `write` token may type and move around, but not administer: no
  splitting, killing, creating, renaming, zooming or re-laying-out;
* `--readonly` makes every token `read` for commands;
* `--no-destroy` refuses kill-pane and kill-window to everyone;
* only the owner on a writable server creates sessions, the default one
  included (a stream without `?session=` finds it missing: 404 to others).

A key binding is checked twice: `binding` itself, then the typed command it
resolves to.
"""

from __future__ import annotations

from tmuxweb.config import Config
from tmuxweb.errors import Forbidden
from tmuxweb.tokens import Principal

# Typing and moving focus: what a `write` token may do.
WRITE_COMMANDS = frozenset(
    {
        "input",
        "keys",
        "paste",
        "resize",
        "release-size",
        "select-pane",
        "select-window",
        "next-window",
        "previous-window",
        "last-window",
        "last-pane",
        "copy-mode",
        "send-prefix",
        "paste-buffer",
        "copy-prompt",
        "binding",
        "answer",
    }
)
DESTRUCTIVE_COMMANDS = frozenset({"kill-pane", "kill-window"})


def check_command(kind: str, principal: Principal, config: Config) -> None:
    """Raise Forbidden unless `principal` may run a command of this type."""
    if config.readonly or principal.scope == "read":
        raise Forbidden("read-only: commands are refused")
    if kind in DESTRUCTIVE_COMMANDS and config.no_destroy:
        raise Forbidden(f"{kind} is switched off on this server (--no-destroy)")
    if principal.scope == "write" and kind not in WRITE_COMMANDS:
        raise Forbidden(f"{kind} needs the owner token (this token may only type)")


def may_administer(principal: Principal, config: Config) -> bool:
    """Session administration (creating sessions) is the owner's, on a
    writable server."""
    return principal.is_owner() and not config.readonly


def check_admin(principal: Principal, config: Config, what: str) -> None:
    if not may_administer(principal, config):
        raise Forbidden(f"{what} needs the owner token on a writable server")
