"""The real front ends of the deployment tests: nginx, Caddy and sshd, run
as our own child processes on loopback ports chosen at run time, with
configurations derived from the files shipped in deploy/ and written to
the test's temporary directory. Nothing system-wide is read or changed
(the one exception, /run/sshd, is explained in `start_sshd`).

Also a browser's view of a site (where it connects, the name it asks for,
the certificate it trusts) and an SSE reader that timestamps every line as
it arrives, for the "unbuffered" bound.
"""

from __future__ import annotations

import json
import os
import pwd
import queue
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import TmuxServer, tmux_env, wait_until

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PUBLIC_NAME = "tmux.example.com"
PREFIX = "/tmux"
# What the pane prints: the time it printed, to the nanosecond.
TIMED_COMMAND = "printf 'T=%s\\n' \"$(date +%s.%N)\"\r"
PRINTED_AT = re.compile(r"T=(\d+\.\d+)\r?\n")


# -- binaries, ports, templating -------------------------------------------------


def need(binary: str, package: str) -> str:
    """The binary's path; skip (with the reason) only when it is not installed."""
    found = shutil.which(binary) or next(
        (str(p) for d in ("/usr/sbin", "/sbin") if (p := Path(d) / binary).is_file()), None
    )
    if found is None:
        pytest.skip(f"{binary} is not installed (Debian package {package}; `bash tests/run` installs it)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now, for a server we start next."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def substitute(text: str, what: str, replacements: dict[str, str]) -> str:
    """Replace each key; a key missing from the shipped file fails loudly,
    so the test never silently runs something other than what is shipped."""
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{what} no longer contains {old!r}: update tests/deploy with it")
        text = text.replace(old, new)
    return text


def openssl_certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (it is its own CA)."""
    openssl = need("openssl", "openssl")
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


# -- child processes ----------------------------------------------------------------


@dataclass
class Child:
    """A server run in the foreground as our child; output goes to a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def check(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


def start(name: str, argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Child:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True,  # a ^C of pytest does not reach it first
        )
    return Child(name, proc, log)


# -- tmuxweb itself ------------------------------------------------------------------

# The real command line in its own process, as a process manager runs it,
# with a short --heartbeat so a test sees heartbeats pass a proxy quickly.


@dataclass
class Tmuxweb:
    """`tmuxweb` run as a child process; stopped with SIGTERM."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    token: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_tmuxweb(tmux: TmuxServer, tmp: Path, *options: str, heartbeat: float = 0.5) -> Tmuxweb:
    """`tmuxweb -L <socket> --port 0 --token-file … OPTIONS`; waits for the
    link it prints (the port is known then, and it is listening)."""
    name = f"tmuxweb-{len(list(tmp.glob('tmuxweb-*.log')))}"
    log = tmp / f"{name}.log"
    argv = [sys.executable, "-m", "tmuxweb", "--heartbeat", str(heartbeat), "-L", tmux.socket_name, "--port", "0",
            "--token-file", str(tmp / f"{name}.token"), *options]
    env = {**tmux_env(), "XDG_RUNTIME_DIR": str(tmp), "XDG_STATE_HOME": str(tmp / "state"), "PYTHONPATH": str(REPO)}
    with log.open("ab") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env, cwd=REPO)
    try:
        link = _first_line(proc, 20).strip()
        m = re.fullmatch(r"https?://(\S+):(\d+)/#token=(\S+)", link)
        if m is None:
            raise AssertionError(f"tmuxweb printed {link!r}:\n{log.read_text(errors='replace')}")
    except BaseException:
        Tmuxweb(proc, "", 0, "", log).stop()
        raise
    return Tmuxweb(proc, m.group(1), int(m.group(2)), m.group(3), log)


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    data, deadline = b"", time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in data:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                raise AssertionError("tmuxweb printed no link in time")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


# -- nginx ------------------------------------------------------------------------------


def nginx_site_conf(
    port: int, upstream: int, cert: Path, key: Path, sso_port: int | None = None, proxy_bind: bool = False
) -> str:
    """deploy/nginx.conf with only the listen address, the certificate
    and the upstream port changed (and, on request, its optional [sso]
    lines or its optional proxy_bind on)."""
    text = substitute(
        (DEPLOY / "nginx.conf").read_text(),
        "deploy/nginx.conf",
        {
            "listen 443 ssl http2;": f"listen 127.0.0.1:{port} ssl http2;",
            "    listen [::]:443 ssl http2;\n": "",
            f"/etc/letsencrypt/live/{PUBLIC_NAME}/fullchain.pem": str(cert),
            f"/etc/letsencrypt/live/{PUBLIC_NAME}/privkey.pem": str(key),
            "server 127.0.0.1:7280;": f"server 127.0.0.1:{upstream};",
        },
    )
    if sso_port is not None:
        text, count = re.subn(r"(?m)^(\s*)#(.*\S\s+# \[sso\])$", r"\1\2", text)
        assert count >= 10, "deploy/nginx.conf: the [sso] lines are gone"
        text = substitute(text, "deploy/nginx.conf", {"127.0.0.1:4180": f"127.0.0.1:{sso_port}"})
    if proxy_bind:
        text = substitute(text, "deploy/nginx.conf", {"# proxy_bind 127.0.0.3;": "proxy_bind 127.0.0.3;"})
    return text


def start_nginx(tmp: Path, site_conf: str) -> Child:
    """nginx with a minimal main configuration around the shipped server
    block. That main configuration compresses everything, the event stream
    included, like many sites do: the shipped `gzip off` must win."""
    nginx = need("nginx", "nginx")
    root = tmp / "nginx"
    root.mkdir()
    (root / "tmuxweb.conf").write_text(site_conf)
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {root}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
{temp_paths}
    gzip on;
    gzip_types text/event-stream application/json application/javascript text/javascript text/css;
    include {root}/tmuxweb.conf;
}}
"""
    )
    log = root / "error.log"
    return start(
        "nginx",
        [nginx, "-e", str(log), "-p", f"{root}/", "-c", str(root / "nginx.conf"),
         "-g", f"daemon off; pid {root}/nginx.pid; error_log {log} info;"],
        root / "stdout.log",
    )


# -- Caddy -----------------------------------------------------------------------------


def caddy_conf(root: Path, https_port: int, http_port: int, upstream: int) -> str:
    """deploy/Caddyfile with the upstream port changed, after test-only
    global options: Caddy's own local CA instead of ACME (never installed
    in any trust store), loopback ports, no admin endpoint."""
    site = substitute(
        (DEPLOY / "Caddyfile").read_text(), "deploy/Caddyfile", {"reverse_proxy 127.0.0.1:7280": f"reverse_proxy 127.0.0.1:{upstream}"}
    )
    assert not re.search(r"(?m)^\{", site), "deploy/Caddyfile grew a global options block: merge it here"
    return f"""{{
	admin off
	local_certs
	skip_install_trust
	auto_https disable_redirects
	http_port {http_port}
	https_port {https_port}
	default_bind 127.0.0.1
	storage file_system {root}/data
	grace_period 250ms
	servers {{
		protocols h1 h2
	}}
}}

{site}"""


def start_caddy(tmp: Path, upstream: int) -> tuple[Child, int, Path]:
    """Caddy on a fresh port; returns it, the port, and its local CA's root."""
    caddy = need("caddy", "caddy")
    root = tmp / "caddy"
    root.mkdir()
    port = free_port()
    (root / "Caddyfile").write_text(caddy_conf(root, port, free_port(), upstream))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "xdg-data"),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
    }
    child = start(
        "caddy", [caddy, "run", "--config", str(root / "Caddyfile"), "--adapter", "caddyfile"], root / "caddy.log", env, cwd=root
    )
    return child, port, root / "data" / "pki" / "authorities" / "local" / "root.crt"


# -- sshd and the tunnel -----------------------------------------------------------------


def ssh_keygen(path: Path) -> str:
    subprocess.run(
        [need("ssh-keygen", "openssh-client"), "-q", "-t", "ed25519", "-N", "", "-C", "tmuxweb-test", "-f", str(path)],
        check=True, capture_output=True, timeout=30,
    )
    return path.with_suffix(".pub").read_text().strip()


def start_sshd(tmp: Path, port: int, authorized_keys: str) -> tuple[Child, str]:
    """A throwaway sshd for the current user only, on loopback; returns it
    and the known_hosts line for its host key."""
    sshd = need("sshd", "openssh-server")
    root = tmp / "sshd"
    root.mkdir(mode=0o700)
    host_public = ssh_keygen(root / "host_key")
    (root / "authorized_keys").write_text(authorized_keys + "\n")
    (root / "sshd_config").write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
AllowUsers {pwd.getpwuid(os.geteuid()).pw_name}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The temporary directory is not laid out like a home directory.
StrictModes no
AllowTcpForwarding local
X11Forwarding no
LogLevel VERBOSE
"""
    )
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        # sshd started as root insists on its empty privilege-separation
        # directory, which Debian's ssh.service creates (RuntimeDirectory=).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    child = start("sshd", [sshd, "-D", "-e", "-f", str(root / "sshd_config"), "-p", str(port)], root / "sshd.log")
    return child, f"[127.0.0.1]:{port} {host_public}"


# -- a browser's view of a site ------------------------------------------------------


@dataclass
class Site:
    """Where a browser connects, the host name it asks for (Host header
    and TLS server name) and the certificate authority it trusts."""

    scheme: str
    port: int
    name: str
    prefix: str = ""
    ca: Path | None = None
    connect: str = "127.0.0.1"
    cookies: dict[str, str] | None = None  # e.g. a single sign-on's

    @property
    def host(self) -> str:
        return f"{self.name}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.connect}:{self.port}{self.prefix}{path}"

    @property
    def extensions(self) -> dict[str, Any]:
        return {"sni_hostname": self.name} if self.scheme == "https" else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        verify: ssl.SSLContext | bool = True
        if self.ca is not None:
            verify = ssl.create_default_context(cafile=str(self.ca))
        headers = {"Host": self.host, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 15)
        return httpx.Client(verify=verify, headers=headers, cookies=self.cookies, **kwargs)

    def request(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return client.request(method, self.url(path), extensions=self.extensions, **kwargs)

    def ready(self, child: Child | None = None) -> None:
        """Wait until /healthz answers through this site."""

        def healthy() -> bool:
            if child is not None:
                child.check()
            try:
                with self.client() as client:
                    return self.request(client, "GET", "/healthz").status_code == 200
            except (httpx.TransportError, ssl.SSLError, OSError):
                return False

        wait_until(healthy, timeout=20, interval=0.05, what=f"{self.origin}{self.prefix}/healthz")


@dataclass
class Line:
    at: float  # time.time() when the line arrived
    text: str


@dataclass
class Event:
    name: str
    data: Any
    at: float  # arrival of the event's first line


@dataclass
class TimedStream:
    """GET /events through a site; a thread reads lines into a queue, each
    stamped with its arrival time."""

    site: Site
    params: dict[str, str]
    headers: dict[str, str]
    path: str = "/events"  # or /mux, the stream a browser's tabs share
    lines: queue.Queue[Line | BaseException | None] = field(default_factory=queue.Queue)
    status: int = 0
    response_headers: httpx.Headers | None = None
    body: str = ""
    comments: list[Line] = field(default_factory=list)
    _socket: socket.socket | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _closed: bool = False
    _thread: threading.Thread | None = None

    def open(self) -> TimedStream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise AssertionError("the stream did not answer")
        return self

    def _run(self) -> None:
        try:
            with self.site.client(timeout=httpx.Timeout(15, read=None)) as client:
                with client.stream(
                    "GET", self.site.url(self.path), params=self.params, headers=self.headers, extensions=self.site.extensions
                ) as r:
                    self._socket = r.extensions["network_stream"].get_extra_info("socket")
                    self.status, self.response_headers = r.status_code, r.headers
                    if r.status_code != 200:
                        self.body = r.read().decode(errors="replace")
                        return
                    self._ready.set()
                    for text in r.iter_lines():
                        self.lines.put(Line(time.time(), text))
        except BaseException as err:  # noqa: BLE001 - handed to the test
            if not self._closed:
                self.lines.put(err)
        finally:
            self._ready.set()
            self.lines.put(None)

    def _line(self, deadline: float) -> Line:
        try:
            item = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("nothing arrived on the stream in time") from None
        if item is None:
            self.lines.put(None)
            raise EOFError("the stream ended")
        if isinstance(item, BaseException):
            raise item
        return item

    def event(self, predicate: Callable[[Event], bool] = lambda e: True, timeout: float = 10.0) -> Event:
        """The next event that matches (comments are kept in `comments`)."""
        deadline = time.monotonic() + timeout
        name, first = "message", None
        data: list[str] = []
        while True:
            line = self._line(deadline)
            if line.text.startswith(":"):
                self.comments.append(line)
            elif line.text == "":
                if data:
                    # On /mux a watcher's frame names the watcher first.
                    payload = data[1] if len(data) == 2 else "\n".join(data)
                    event = Event(name, json.loads(payload), first.at if first else line.at)
                    if predicate(event):
                        return event
                name, data, first = "message", [], None
            else:
                first = first or line
                key, _, value = line.text.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "event":
                    name = value
                elif key == "data":
                    data.append(value)

    def named(self, name: str, timeout: float = 10.0) -> Event:
        return self.event(lambda e: e.name == name, timeout)

    def comment(self, timeout: float = 10.0) -> Line:
        """The next comment line (a heartbeat), skipping events."""
        deadline = time.monotonic() + timeout
        seen = len(self.comments)
        while len(self.comments) == seen:
            line = self._line(deadline)
            if line.text.startswith(":"):
                self.comments.append(line)
        return self.comments[-1]

    def close(self) -> None:
        """Hang up: shut the socket under the blocked reader thread."""
        self._closed = True
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> TimedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Watcher:
    """A browser tab through a site: the stream, and commands sent with its
    session token, the access token and the page's Origin."""

    def __init__(self, site: Site, token: str, *, ticket: bool, session: str = "main") -> None:
        self.site = site
        self.session = session
        self.auth = {"Authorization": f"Bearer {token}"}
        self.client = site.client(headers={"Origin": site.origin})
        stream: TimedStream | None = None
        params = {"session": session}
        headers = {"Accept-Encoding": "gzip, deflate"}
        try:
            if ticket:  # as the UI does: EventSource cannot send headers
                r = site.request(self.client, "POST", "/api/ticket", headers=self.auth)
                assert r.status_code == 200, r.text
                params["ticket"] = r.json()["ticket"]
            else:
                headers.update(self.auth)
            self.stream = stream = TimedStream(site, params, headers).open()
            assert stream.status == 200, (stream.status, stream.body)
            self.info = self.stream.named("connection-info").data
            self.state = self.stream.named("state").data
        except BaseException:
            if stream is not None:
                stream.close()
            self.client.close()
            raise

    def command(self, **body: Any) -> httpx.Response:
        headers = {**self.auth, "X-Session-Token": self.info["session_token"]}
        return self.site.request(self.client, "POST", "/commands", params={"session": self.session}, json=body, headers=headers)

    def type_timed_line(self, pane: str = "%0") -> tuple[str, float]:
        """Type a command that prints the time; returns what the pane showed
        and how long after the print the output's first byte arrived."""
        r = self.command(type="input", pane=pane, text=TIMED_COMMAND)
        assert r.status_code == 200, r.text
        shown, first_at = "", None
        while (printed := PRINTED_AT.search(shown)) is None:
            event = self.stream.event(lambda e: e.name == "output" and e.data["pane"] == pane)
            shown += event.data["data"]
            if first_at is None and re.search(r"T=\d", shown):
                first_at = event.at
        assert first_at is not None
        return shown, first_at - float(printed.group(1))

    def close(self) -> None:
        self.stream.close()
        self.client.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def raw_request(port: int, path: str, headers: dict[str, str], source: str = "127.0.0.1") -> tuple[int, bytes]:
    """One HTTP/1.1 GET straight to tmuxweb, from a chosen loopback address."""
    with socket.create_connection(("127.0.0.1", port), source_address=(source, 0), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"GET {path} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    return int(head_bytes.split(b" ", 2)[1]), body
