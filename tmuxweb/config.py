"""The one settings object, built once (by the CLI or a test) and passed down."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
# The browsers' push services (Chrome/Edge through FCM, Firefox, Safari,
# Windows): the only hosts a Web Push subscription may point at unless
# --push-service adds one (webpush.check_endpoint: an endpoint is a URL
# the server will POST to, so an open list would be an SSRF vector).
PUSH_SERVICES: tuple[str, ...] = (
    "fcm.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)
NotifyContent = Literal["none", "title", "prompt"]


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the server needs to know, validated by the CLI."""

    token: Secret
    host: str = "127.0.0.1"
    port: int = 7280
    socket_name: str | None = None
    socket_path: str | None = None
    default_session: str = "main"
    token_file: Path | None = None
    # A token file tmuxweb generated for this run: removed when it stops.
    generated_token_file: Path | None = None
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    tmux_bin: str = "tmux"
    # Request bodies above this are refused with 413 before they are parsed.
    max_body: int = 64 * 1024
    # SSE comment interval; below common proxy idle timeouts (nginx: 60 s).
    heartbeat: float = 15.0
    # Lines of scrollback in a snapshot. A full-history capture freezes tmux
    # for ~170 ms per 50k lines, so it is bounded.
    history_lines: int = 1000
    # Per-watcher queue bound. A watcher whose backlog grows past it is
    # resynchronised from a fresh snapshot instead of growing memory.
    watcher_queue_bytes: int = 2 * 1024 * 1024
    # Recent events kept per session (for resuming streams and for the
    # output that arrives between two captures of one pane).
    recent_bytes: int = 4 * 1024 * 1024
    # A stream whose socket accepts nothing for this long is closed.
    send_timeout: float = 30.0
    # Keep the control client this long after the last watcher leaves, so a
    # page reload or a phone's dropped connection does not re-attach, and can
    # resume from Last-Event-ID (which needs the same control client).
    linger: float = 10.0
    # A size claim outlives its stream this long, so a page that reconnects
    # (a dropped phone connection) renews it without the windows changing
    # size twice (tmux/claim.py).
    claim_grace: float = 5.0
    # tmux pauses a pane whose output the control client is this many
    # seconds behind on (refresh-client -f pause-after), bounding tmux's
    # memory; we then resume it and re-capture the pane.
    pause_after: int = 2
    ticket_ttl: float = 60.0
    # How long a command waits for its predecessor's sequence number.
    seq_wait: float = 5.0
    # A command that tmux has not answered after this long means the
    # control client is stuck (a prompt waiting for input it can never
    # get): it is replaced and the waiting requests get 503.
    reply_deadline: float = 10.0
    # How long a typing command's reply waits for the pane's echo, which
    # goes out first (echo.send_typing); without one, the reply.
    echo_wait: float = 0.005
    # Access control (see SECURITY.md).
    readonly: bool = False
    no_destroy: bool = False
    tokens_file: Path | None = None
    audit_log: Path | None = None
    audit_input: bool = False
    max_streams: int = 64
    max_streams_per_token: int = 16
    # Failed authentications: a burst per client address, refilled per second;
    # and the same for all addresses together.
    auth_burst: int = 10
    auth_rate: float = 1.0
    auth_global_burst: int = 100
    auth_global_rate: float = 10.0
    # A request body that takes longer than this to arrive is refused (408).
    body_timeout: float = 10.0
    # A connection that has not sent a complete request head this long
    # after it opened (or after the head began, on a kept-alive one) is
    # closed, with 408 if part of a head came (httpproto.py).
    head_timeout: float = 10.0
    # Open TCP connections overall and per peer address (admission.py);
    # a full server drops connections that do no work before refusing one.
    max_connections: int = 512
    max_connections_per_address: int = 32
    # Behind a reverse proxy: the URL prefix, and the proxies whose
    # forwarding headers are believed.
    root_path: str = ""
    trusted_proxies: tuple[str, ...] = ()
    # Files (see files.py): roots as (resolved directory, writable).
    file_roots: tuple[tuple[Path, bool], ...] = ()
    file_max_size: int = 16 * 1024 * 1024
    file_show_hidden: bool = False
    # Attachments (attach.py): the directory they are stored in (None: the
    # feature is off) and the largest one accepted.
    attach_dir: Path | None = None
    attach_max_size: int = 32 * 1024 * 1024
    # Pane states (states.py): a pane's screen is read once its output has
    # been quiet `settle` seconds; `idle_after` seconds of quiet with no
    # rule matching is `idle`. `rules_files` are tried before the shipped
    # rules. `states` off: no tracker, no control client on unwatched
    # sessions (which tmux counts as attached).
    states: bool = True
    settle: float = 0.5
    idle_after: float = 30.0
    rules_files: tuple[Path, ...] = ()
    certfile: Path | None = None
    keyfile: Path | None = None
    client_ca: Path | None = None
    # Notifications (notify.py, webpush.py; DATA-FLOW.md "Notifications").
    # A state must last `notify_debounce` seconds to be notified; the same
    # state of one pane again within `notify_collapse` seconds of its last
    # notification (not yet seen) is not notified again.
    notify_debounce: float = 2.0
    notify_collapse: float = 60.0
    notify_content: NotifyContent = "none"
    notify_command: tuple[str, ...] = ()
    notify_command_timeout: float = 10.0
    notify_command_concurrency: int = 4
    # The VAPID `sub` claim: how a push service reaches whoever runs this.
    push_subject: str = "mailto:tmuxweb@localhost"
    push_services: tuple[str, ...] = PUSH_SERVICES
    # For tests only, never set by the CLI: also accept http:// endpoints on
    # a loopback address (tests/pushservice.py, the loopback push service).
    push_loopback_http: bool = False
    push_timeout: float = 10.0
    push_queue: int = 64
    push_concurrency: int = 4

    def tmux_socket_args(self) -> list[str]:
        """The flags that select the tmux server, exactly as tmux takes them."""
        if self.socket_path:
            return ["-S", self.socket_path]
        if self.socket_name:
            return ["-L", self.socket_name]
        return []

    def host_allowed(self, host: str) -> bool:
        """Host header check: loopback names on any port, plus allowed names."""
        name = strip_port(host).lower()
        if name in LOOPBACK_HOSTS or name in (bracket_ipv6(h.lower()) for h in self.allowed_hosts):
            return True
        # The address we are bound to, when it is an explicit IP literal:
        # a rebinding attacker cannot make a browser send that as the Host of
        # their own origin, so it is as safe as the loopback names.
        bound = bracket_ipv6(self.host)
        return _is_ip_literal(self.host) and not _is_wildcard(self.host) and name == bound.lower()


def strip_port(host: str) -> str:
    """`example.com:8080` → `example.com`; `[::1]:80` → `[::1]`."""
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def bracket_ipv6(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_wildcard(host: str) -> bool:
    return _is_ip_literal(host) and ipaddress.ip_address(host.strip("[]")).is_unspecified


def is_loopback(host: str) -> bool:
    """True when binding `host` exposes the server to this machine only."""
    if host.lower() == "localhost":
        return True
    return _is_ip_literal(host) and ipaddress.ip_address(host.strip("[]")).is_loopback
