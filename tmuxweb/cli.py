"""`tmuxweb [serve] [options]`: parse and validate options, prepare the
token, bind, print the link, run uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import socket
import ssl
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import uvicorn

from tmuxweb import __version__
from tmuxweb.auth import new_secret
from tmuxweb.config import PUSH_SERVICES, Config, Secret, bracket_ipv6, is_loopback
from tmuxweb.rules import RulesError, load_rules
from tmuxweb.tmux.cmdline import check_session_name
from tmuxweb.tmux.errors import InvalidArgument
from tmuxweb.tokens import TokenError, TokenStore, default_store_path, parse_duration

DEFAULT_PORT = 7280
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{22,256}")


class UsageError(Exception):
    """A misused option: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="tmuxweb",
        description="Serve your tmux sessions to a browser. Prints one link to open.",
    )
    p.add_argument("--version", action="version", version=f"tmuxweb {__version__}")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", default=DEFAULT_PORT, type=_port, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-L", "--socket-name", help="tmux server socket name, as tmux -L")
    where.add_argument("-S", "--socket-path", help="tmux server socket path, as tmux -S")
    p.add_argument("--session", default="main", help="session for clients that name none (created if missing; default main)")
    p.add_argument("--token-file", type=Path, help="read the access token from this file, or create it (mode 0600)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME", help="also accept this Host header name (repeatable)")
    p.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN", help="also accept this Origin, e.g. https://example.com (repeatable)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--heartbeat", type=_seconds, default=15.0, metavar="SECONDS", help="SSE comment interval (default 15; keep it below your proxy's idle timeout)")
    proxy = p.add_argument_group("behind a reverse proxy")
    proxy.add_argument("--root-path", default="", metavar="PREFIX", help="serve under this URL prefix, e.g. /tmux")
    proxy.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR", help="believe Forwarded/X-Forwarded-* headers from this proxy address (repeatable)")
    access = p.add_argument_group("access control")
    access.add_argument("--readonly", action="store_true", help="refuse every command: watch only")
    access.add_argument("--no-destroy", action="store_true", help="refuse kill-pane and kill-window (also through key bindings)")
    access.add_argument("--tokens-file", type=Path, help=f"scoped tokens (default {default_store_path()})")
    access.add_argument("--audit-log", type=Path, metavar="PATH", help="append JSON lines of who did what (mode 0600)")
    access.add_argument("--audit-input", action="store_true", help="also record typed text in the audit log")
    access.add_argument("--max-streams", type=_positive, default=64, help="open streams, all tokens together (default 64)")
    access.add_argument("--max-streams-per-token", type=_positive, default=16, help="open streams per token (default 16)")
    access.add_argument("--max-connections", type=_positive, default=512, help="open TCP connections overall (default 512)")
    access.add_argument(
        "--max-connections-per-address",
        type=_positive,
        default=32,
        help="open TCP connections per client address (default 32; loopback and trusted proxies: half of --max-connections)",
    )
    files = p.add_argument_group("files (off unless a root is given)")
    files.add_argument("--file-root", action="append", default=[], type=Path, metavar="DIR", help="serve files below DIR, read-only (repeatable)")
    files.add_argument("--writable-file-root", action="append", default=[], type=Path, metavar="DIR", help="serve files below DIR and accept uploads into it (repeatable)")
    files.add_argument("--file-max-size", type=_size, default=16 * 1024 * 1024, metavar="BYTES", help="largest file served or uploaded (default 16 MiB; suffixes K, M, G)")
    files.add_argument("--file-show-hidden", action="store_true", help="also serve dotfiles")
    files.add_argument("--attach-dir", type=Path, metavar="DIR", help="accept attachments (pasted or picked files) into DIR, created 0700, and type their paths into the pane (off unless given)")
    files.add_argument("--attach-max-size", type=_size, default=32 * 1024 * 1024, metavar="BYTES", help="largest attachment (default 32 MiB; suffixes K, M, G)")
    notify = p.add_argument_group("notifications (pane states: waiting, done, bell, exited)")
    notify.add_argument("--notify-debounce", type=_seconds, default=2.0, metavar="SECONDS", help="a state must last this long to be notified (default 2)")
    notify.add_argument("--notify-collapse", type=_seconds, default=60.0, metavar="SECONDS", help="a pane's same state again within this long of its unseen notification is not notified again (default 60)")
    notify.add_argument("--notify-content", choices=["none", "title", "prompt"], default="none", help="what notifications carry: none (no screen text, the default), title (pane title and command), prompt (also the question and its choices)")
    notify.add_argument("--notify-command", metavar="CMD", help="run CMD (split like a shell line, run without one) for each notification, the event as JSON on stdin")
    notify.add_argument("--push-subject", default="mailto:tmuxweb@localhost", metavar="URI", help="Web Push contact (VAPID sub): mailto: or https: URI (default mailto:tmuxweb@localhost)")
    notify.add_argument("--push-service", action="append", default=[], metavar="HOST", help="also accept Web Push subscriptions on this push service host and its subdomains (repeatable)")
    states = p.add_argument_group("pane states")
    states.add_argument("--settle", type=_settle, default=0.5, metavar="SECONDS", help="read a pane's screen once its output has been quiet this long (default 0.5)")
    states.add_argument("--idle-after", type=_seconds, default=30.0, metavar="SECONDS", help="a pane quiet this long with no rule matching is idle (default 30)")
    states.add_argument("--rules", action="append", default=[], type=Path, metavar="FILE", help="more pane-state rules (TOML), tried before the shipped ones (repeatable)")
    states.add_argument(
        "--no-states",
        action="store_true",
        help="no pane states: attach to watched sessions only (tmux then counts unwatched sessions as unattached)",
    )
    tls = p.add_argument_group("TLS")
    tls.add_argument("--certfile", type=Path, help="serve HTTPS with this certificate (PEM)")
    tls.add_argument("--keyfile", type=Path, help="the certificate's private key (PEM)")
    tls.add_argument("--client-ca", type=Path, help="require client certificates signed by this CA (PEM)")
    tls.add_argument(
        "--insecure-http",
        action="store_true",
        help="allow plain HTTP on a non-loopback address (only where a VPN already encrypts)",
    )
    return p


def _size(text: str) -> int:
    m = re.fullmatch(r"([0-9]{1,12})([KMG]?)", text.strip().upper())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a size such as 512K or 16M: {text!r}")
    return int(m.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[m.group(2)]


def _file_roots(read_only: list[Path], writable: list[Path]) -> tuple[tuple[Path, bool], ...]:
    roots = []
    for path, can_write in [(p, False) for p in read_only] + [(p, True) for p in writable]:
        if not path.is_dir():
            raise UsageError(f"file root is not a directory: {path}")
        roots.append((path.resolve(strict=True), can_write))
    return tuple(roots)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0.1 to 3600: {text!r}")
    return value


def _settle(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0.05 <= value <= 60:
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0.05 to 60: {text!r}")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def _check_host(host: str) -> str:
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in bare else socket.AF_INET, bare)
        return bare
    except OSError:
        pass
    if ":" in bare or not _HOSTNAME.fullmatch(bare):
        raise UsageError(f"--host: not an address or host name: {host!r}")
    return bare


def parse_config(argv: Sequence[str]) -> tuple[Config, argparse.Namespace]:
    args = build_parser().parse_args(list(argv))
    host = _check_host(args.host)
    for name in args.allowed_host:
        if not _HOSTNAME.fullmatch(name.strip("[]")) and ":" not in name:
            raise UsageError(f"--allowed-host: not a host name: {name!r}")
    for origin in args.allowed_origin:
        if not _ORIGIN.fullmatch(origin.rstrip("/")):
            raise UsageError(f"--allowed-origin: not an origin like https://host[:port]: {origin!r}")
    if args.socket_name is not None and (not args.socket_name or "/" in args.socket_name):
        raise UsageError("-L/--socket-name: a name, not a path (use -S for a path)")
    try:
        check_session_name(args.session)
    except InvalidArgument as err:
        raise UsageError(f"--session: {err.message}") from None
    if args.root_path and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+/?", args.root_path):
        raise UsageError(f"--root-path: a path like /tmux: {args.root_path!r}")
    for proxy in args.trusted_proxy:
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in proxy else socket.AF_INET, proxy)
        except OSError:
            raise UsageError(f"--trusted-proxy: not an IP address: {proxy!r}") from None
    if args.max_connections_per_address > args.max_connections:
        raise UsageError("--max-connections-per-address: above --max-connections")
    notify_command = _notify_command(args.notify_command)
    for name in args.push_service:
        if not _HOSTNAME.fullmatch(name) or "." not in name:
            raise UsageError(f"--push-service: not a host name: {name!r}")
    if not re.fullmatch(r"(mailto:[^\s@]+@[^\s@]+|https://[^\s/]+\S*)", args.push_subject):
        raise UsageError(f"--push-subject: a mailto: or https: URI: {args.push_subject!r}")
    if (args.certfile is None) != (args.keyfile is None):
        raise UsageError("--certfile and --keyfile go together")
    if args.client_ca is not None and args.certfile is None:
        raise UsageError("--client-ca needs --certfile and --keyfile")
    for option, path in (("--certfile", args.certfile), ("--keyfile", args.keyfile), ("--client-ca", args.client_ca)):
        if path is not None and not path.is_file():
            raise UsageError(f"{option}: no such file: {path}")
    if not is_loopback(host) and args.certfile is None and not args.insecure_http:
        raise UsageError(
            f"refusing plain HTTP on {host}, which other machines can reach: the token and your "
            "terminal would cross the network unencrypted. Use --certfile/--keyfile for HTTPS, "
            "or keep the default 127.0.0.1 and use an SSH tunnel or a reverse proxy with TLS; "
            "if a VPN already encrypts this network, add --insecure-http"
        )
    if not args.no_states:
        try:
            load_rules(args.rules)
        except (RulesError, OSError) as err:
            raise UsageError(f"--rules: {err}") from None
    config = Config(
        token=Secret(""),  # replaced once the port is known (see main)
        host=host,
        port=args.port,
        socket_name=args.socket_name,
        socket_path=args.socket_path,
        default_session=args.session,
        token_file=args.token_file,
        allowed_hosts=tuple(bracket_ipv6(h.lower()) for h in args.allowed_host),
        allowed_origins=tuple(args.allowed_origin),
        heartbeat=args.heartbeat,
        readonly=args.readonly,
        no_destroy=args.no_destroy,
        tokens_file=args.tokens_file,
        audit_log=args.audit_log,
        audit_input=args.audit_input,
        max_streams=args.max_streams,
        max_streams_per_token=args.max_streams_per_token,
        max_connections=args.max_connections,
        max_connections_per_address=args.max_connections_per_address,
        certfile=args.certfile,
        keyfile=args.keyfile,
        client_ca=args.client_ca,
        root_path=args.root_path.rstrip("/"),
        trusted_proxies=tuple(args.trusted_proxy),
        file_roots=_file_roots(args.file_root, args.writable_file_root),
        file_max_size=args.file_max_size,
        file_show_hidden=args.file_show_hidden,
        attach_dir=args.attach_dir.expanduser().resolve() if args.attach_dir else None,
        attach_max_size=args.attach_max_size,
        notify_debounce=args.notify_debounce,
        notify_collapse=args.notify_collapse,
        notify_content=args.notify_content,
        notify_command=notify_command,
        push_subject=args.push_subject,
        push_services=(*PUSH_SERVICES, *(h.lower().rstrip(".") for h in args.push_service)),
        states=not args.no_states,
        settle=args.settle,
        idle_after=args.idle_after,
        rules_files=tuple(args.rules),
    )
    return config, args


def _notify_command(text: str | None) -> tuple[str, ...]:
    """argv of --notify-command: split as a shell would, run without one."""
    if text is None:
        return ()
    try:
        argv = tuple(shlex.split(text))
    except ValueError as err:
        raise UsageError(f"--notify-command: {err}") from None
    if not argv:
        raise UsageError("--notify-command: empty")
    return argv


# -- the token -------------------------------------------------------------------


def load_or_create_token(path: Path) -> str:
    """The token in `path`; the file is created (0600) when it does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    except OSError as err:
        raise UsageError(f"--token-file: cannot create {path}: {err.strerror}") from None
    token = new_secret()
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def _read_token(path: Path) -> str:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"--token-file: {path} is not a regular file")
        if info.st_mode & 0o077:
            raise UsageError(
                f"--token-file: {path} is readable by group or others; run: chmod 600 {path}"
            )
        token = path.read_text().strip()
    except OSError as err:
        raise UsageError(f"--token-file: cannot read {path}: {err.strerror}") from None
    if not _TOKEN.fullmatch(token):
        raise UsageError(f"--token-file: {path} does not hold a token of at least 22 URL-safe characters")
    return token


def runtime_dir() -> Path:
    """Per-user directory for the generated token file."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        return Path(base) / "tmuxweb"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "tmuxweb"


def write_fresh_token(port: int) -> tuple[str, Path]:
    directory = runtime_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"token-{port}"
    path.unlink(missing_ok=True)
    token = new_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, path


# -- binding and running -----------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise UsageError(f"--host: cannot resolve {host!r}: {err.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise UsageError(f"cannot listen on {host} port {port}: {err.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def link_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return bracket_ipv6(host)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["token"]:
        return token_main(argv[1:])
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    try:
        config, args = parse_config(argv)
        token_path = config.token_file
        token = load_or_create_token(token_path) if token_path is not None else None
        sock = bind(config.host, config.port)
    except UsageError as err:
        print(f"tmuxweb: error: {err}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    generated: Path | None = None
    if token is None:
        token, generated = write_fresh_token(port)
    config = replace(config, port=port, token=Secret(token), generated_token_file=generated)
    _configure_logging(args.log_level)
    if not is_loopback(config.host):
        clear = " and, without TLS, the token and your terminal travel in clear text" if config.certfile is None else ""
        print(
            f"tmuxweb: warning: listening on {config.host}, reachable from other machines: "
            f"anyone who can reach this port can try tokens{clear}. Prefer binding to 127.0.0.1 "
            "and using an SSH tunnel (ssh -L), a VPN, or a reverse proxy with TLS (see SECURITY.md).",
            file=sys.stderr,
        )
    print(f"tmuxweb {__version__}: serving tmux {_describe_socket(config)} on {link_host(config.host)}:{port}", file=sys.stderr)
    print(f"token file: {generated or token_path}", file=sys.stderr)
    # The one place the token is shown: in the URL fragment, which browsers
    # never send to a server.
    scheme = "https" if config.certfile else "http"
    print(f"{scheme}://{link_host(config.host)}:{port}/#token={token}", flush=True)
    try:
        _serve(config, sock)
    except KeyboardInterrupt:
        # uvicorn re-raises SIGINT once it has shut down cleanly.
        return 130
    return 0


def _describe_socket(config: Config) -> str:
    if config.socket_path:
        return f"socket {config.socket_path}"
    return f"server {config.socket_name or 'default'}"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # These libraries log whole messages at DEBUG: sse-starlette every chunk
    # it sends (session tokens, terminal output), the HTTP clients their
    # headers. Never below INFO, whatever --log-level says.
    for name in ("sse_starlette", "httpx", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))


def uvicorn_config(config: Config) -> uvicorn.Config:
    """The one uvicorn configuration, used by the command and the tests."""
    from tmuxweb.admission import ConnectionGate, Limits
    from tmuxweb.app import create_app
    from tmuxweb.httpproto import BoundedHttpTools, Wire
    from tmuxweb.middleware import SECURITY_HEADERS

    # One gate per server: every connection of this uvicorn passes it.
    wire = Wire(
        head_timeout=config.head_timeout,
        send_timeout=2 * config.send_timeout,  # after stream.py's own (see Wire)
        gate=ConnectionGate(Limits.from_config(config)),
        headers=tuple(SECURITY_HEADERS),
    )
    return uvicorn.Config(
        create_app(config),
        log_config=None,
        access_log=False,  # ours leaves out query strings
        server_header=False,
        proxy_headers=False,  # ours (ForwardedHeaders) decide whom to believe
        timeout_graceful_shutdown=3,
        timeout_keep_alive=5,
        # httptools with bounded request heads and connections (see
        # httpproto.py and admission.py). Not uvicorn's limit_concurrency:
        # it answered 503 to everyone once a stranger held enough idle sockets.
        http=BoundedHttpTools.configured(wire),
        # No WebSocket: an upgrade would leave our protocol and its bounds.
        ws="none",
        lifespan="on",
        # The control clients' parent-death signal and child reaping are
        # verified on asyncio's own loop; never pick up uvloop by chance.
        loop="asyncio",
        ssl_certfile=str(config.certfile) if config.certfile else None,
        ssl_keyfile=str(config.keyfile) if config.keyfile else None,
        ssl_ca_certs=str(config.client_ca) if config.client_ca else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if config.client_ca else ssl.CERT_NONE,
    )


def _serve(config: Config, sock: socket.socket) -> None:
    uvicorn.Server(uvicorn_config(config)).run(sockets=[sock])


# -- `tmuxweb token …` ---------------------------------------------------------------


def build_token_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tmuxweb token", description="Manage scoped access tokens (the server picks changes up at once).")
    p.add_argument("--tokens-file", type=Path, help=f"default {default_store_path()}")
    sub = p.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="make a token and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", required=True, choices=["read", "write"])
    create.add_argument("--expires", help="lifetime such as 30m, 12h, 7d (default: never)")
    sub.add_parser("list", help="names, scopes and expiry (never the tokens)")
    revoke = sub.add_parser("revoke", help="revoke a token: its streams close within a second")
    revoke.add_argument("name")
    for parser in (create, *sub.choices.values()):
        parser.error = p.error  # type: ignore[method-assign]
    return p


def token_main(argv: list[str]) -> int:
    try:
        args = build_token_parser().parse_args(argv)
        store = TokenStore(args.tokens_file or default_store_path())
        if args.action == "create":
            ttl = parse_duration(args.expires) if args.expires else None
            secret = new_secret()
            token = store.create(args.name, args.scope, ttl, secret)
            until = f", expires {_when(token.expires)}" if token.expires else ""
            print(f"token {token.name!r} ({token.scope}{until}); shown once, store it safely:", file=sys.stderr)
            print(secret)
        elif args.action == "list":
            store.load()
            for token in store.tokens():
                expires = _when(token.expires) if token.expires else "never"
                print(f"{token.name}\t{token.scope}\tcreated {_when(token.created)}\texpires {expires}")
        else:
            store.revoke(args.name)
            print(f"revoked {args.name!r}", file=sys.stderr)
    except (UsageError, TokenError) as err:
        print(f"tmuxweb token: error: {err}", file=sys.stderr)
        return 2
    return 0


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
