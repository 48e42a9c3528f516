"""tmuxweb behind the real nginx and Caddy, each run from the file shipped
in deploy/, with TLS, on the sub-path /tmux/: the stream, typing, output
without buffering delay, heartbeats, and forwarding headers that nobody
but the proxy can set."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from helpers import TmuxServer, wait_until
from realservers import (
    PREFIX,
    PUBLIC_NAME,
    Child,
    Site,
    TimedStream,
    Tmuxweb,
    Watcher,
    free_port,
    nginx_site_conf,
    openssl_certificate,
    raw_request,
    start_caddy,
    start_nginx,
    start_tmuxweb,
)

# Through a proxy the first byte of an `output` event must follow the
# pane's print by well under this (buffering would hold it for good).
UNBUFFERED_BOUND = 1.0


@dataclass
class Deployment:
    kind: str  # "nginx" or "caddy"
    site: Site  # the browser's view: https://tmux.example.com:PORT/tmux/
    tmuxweb: Tmuxweb
    proxy: Child

    def stop(self) -> None:
        self.proxy.stop()
        self.tmuxweb.stop()


# As deploy/README.md starts tmuxweb behind a proxy.
BEHIND_PROXY = ("--root-path", PREFIX, "--trusted-proxy", "127.0.0.1", "--allowed-host", PUBLIC_NAME)


def nginx_deployment(tmux: TmuxServer, tmp: Path, sso_port: int | None = None, proxy_bind: bool = False) -> Deployment:
    port = free_port()
    cert, key = openssl_certificate(tmp, PUBLIC_NAME)
    site = Site("https", port, PUBLIC_NAME, PREFIX, ca=cert)
    # nginx forwards the name without the port ($host): on a port other
    # than 443 the page's origin is allowed explicitly, as the README says.
    options = [*BEHIND_PROXY, "--allowed-origin", site.origin]
    if proxy_bind:
        options[options.index("127.0.0.1")] = "127.0.0.3"
    tmuxweb = start_tmuxweb(tmux, tmp, *options)
    try:
        proxy = start_nginx(tmp, nginx_site_conf(port, tmuxweb.port, cert, key, sso_port, proxy_bind))
    except BaseException:
        tmuxweb.stop()
        raise
    return Deployment("nginx", site, tmuxweb, proxy)


def caddy_deployment(tmux: TmuxServer, tmp: Path) -> Deployment:
    # Caddy forwards the Host with its port: no --allowed-origin needed.
    tmuxweb = start_tmuxweb(tmux, tmp, *BEHIND_PROXY)
    try:
        proxy, port, ca = start_caddy(tmp, tmuxweb.port)
    except BaseException:
        tmuxweb.stop()
        raise
    return Deployment("caddy", Site("https", port, PUBLIC_NAME, PREFIX, ca=ca), tmuxweb, proxy)


@pytest.fixture(params=["nginx", "caddy"])
def deployment(request: pytest.FixtureRequest, tmux_server: TmuxServer, tmp_path: Path) -> Iterator[Deployment]:
    start = nginx_deployment if request.param == "nginx" else caddy_deployment
    deployed = start(tmux_server, tmp_path)
    try:
        deployed.site.ready(deployed.proxy)
        yield deployed
    finally:
        deployed.stop()


@pytest.mark.parametrize("ticket", [True, False], ids=["ticket", "bearer"])
def test_typing_echoes_through_the_proxy_without_buffering(deployment: Deployment, tmux_server: TmuxServer, ticket: bool) -> None:
    tmux_server.wait_for_prompt()
    with Watcher(deployment.site, deployment.tmuxweb.token, ticket=ticket) as tab:
        headers = tab.stream.response_headers
        assert headers is not None
        assert headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in headers  # asked for gzip, got none
        assert tab.info["session"]["name"] == "main"
        shown, delay = tab.type_timed_line()
        assert "printf 'T=%s" in shown  # the echo of what was typed
        assert delay < UNBUFFERED_BOUND, f"output arrived {delay:.3f}s after the pane printed it"
        beat = tab.stream.comment(timeout=5)
        assert beat.text == ": ping"


def test_the_stream_the_tabs_share_passes_the_proxy_unbuffered(deployment: Deployment, tmux_server: TmuxServer) -> None:
    """GET /mux (the UI's one stream per browser) goes the way /events does:
    not compressed, not held back, attached to through the proxy."""
    site = deployment.site
    auth = {"Authorization": f"Bearer {deployment.tmuxweb.token}"}
    stream = TimedStream(site, {}, {**auth, "Accept-Encoding": "gzip, deflate"}, path="/mux").open()
    try:
        assert stream.status == 200, stream.body
        assert stream.response_headers is not None and "content-encoding" not in stream.response_headers
        mux_token = stream.named("mux-info").data["mux_token"]
        with site.client(headers={"Origin": site.origin}) as client:
            body = {"sub": "tab", "session": "main"}
            r = site.request(client, "POST", "/mux/attach", json=body, headers={**auth, "X-Mux-Token": mux_token})
            assert r.status_code == 200, r.text
        assert stream.named("connection-info").data["session"]["name"] == "main"
        stream.named("state")
    finally:
        stream.close()


def test_the_rest_of_the_site_is_compressed_but_never_the_stream(deployment: Deployment) -> None:
    """The premise of the check above: compression is on for the site
    (Caddy's `encode`, the test's nginx http block), just not the stream."""
    with deployment.site.client(headers={"Accept-Encoding": "gzip"}) as client:
        r = deployment.site.request(client, "GET", "/static/main.js")
        assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"


def test_the_bare_prefix_redirects_to_the_page(deployment: Deployment) -> None:
    site = deployment.site
    with site.client() as client:
        r = client.get(f"{site.scheme}://{site.connect}:{site.port}{PREFIX}", extensions=site.extensions)
        assert r.status_code == 308 and r.headers["location"].endswith("/tmux/")
        page = site.request(client, "GET", "/")
        assert page.status_code == 200 and "./static/" in page.text


def test_forwarding_headers_from_the_browser_do_not_pass_the_proxy(deployment: Deployment) -> None:
    site, auth = deployment.site, {"Authorization": f"Bearer {deployment.tmuxweb.token}"}
    with site.client() as client:
        # The proxy replaces them with what it saw: the request still counts
        # as one for tmux.example.com, not for the forged name.
        for forged in (
            {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
            {"Forwarded": 'for=203.0.113.7;proto=http;host="evil.example"'},
        ):
            r = site.request(client, "GET", "/api/sessions", headers={**auth, **forged})
            assert r.status_code == 200, (forged, r.text)
        # Another name (DNS rebinding through the proxy): nginx passes it
        # to its only server, and tmuxweb refuses it; Caddy serves names it
        # has no site for an empty page itself.
        r = site.request(client, "GET", "/api/sessions", headers={**auth, "Host": f"evil.example:{site.port}"})
        if deployment.kind == "nginx":
            assert r.status_code == 403 and "host not allowed" in r.text
        else:
            assert r.text == "" and "content-security-policy" not in r.headers  # tmuxweb never saw it
        # A foreign page may not open the stream or type.
        r = site.request(client, "POST", "/api/ticket", headers={**auth, "Origin": "https://evil.example"})
        assert r.status_code == 403 and "origin not allowed" in r.text


def test_forged_forwarded_host_from_a_non_proxy_address_is_refused(deployment: Deployment) -> None:
    """Straight to tmuxweb, around the proxy: the headers the proxy would
    send count from the proxy's address only."""
    port = deployment.tmuxweb.port
    forged = {
        "Host": "evil.example",
        "X-Forwarded-Host": PUBLIC_NAME,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "203.0.113.7",
        "Authorization": f"Bearer {deployment.tmuxweb.token}",
    }
    status, body = raw_request(port, f"{PREFIX}/api/sessions", forged, source="127.0.0.2")
    assert status == 403 and b"host not allowed" in body
    status, body = raw_request(port, f"{PREFIX}/events?session=main", forged, source="127.0.0.2")
    assert status == 403 and b"host not allowed" in body
    # The same headers from the proxy's address are believed.
    status, _ = raw_request(port, f"{PREFIX}/api/sessions", forged, source="127.0.0.1")
    assert status == 200


class _SingleSignOn(BaseHTTPRequestHandler):
    """Stands in for oauth2-proxy: /oauth2/auth says yes to its cookie."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        signed_in = "_oauth2_proxy=valid" in (self.headers.get("Cookie") or "")
        if self.path.startswith("/oauth2/auth"):
            self.send_response(202 if signed_in else 401)
            body = b""
        else:
            self.send_response(401)
            body = b"please sign in"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_nginx_single_sign_on_in_front_guards_page_api_and_stream(tmux_server: TmuxServer, tmp_path: Path) -> None:
    sso = ThreadingHTTPServer(("127.0.0.1", 0), _SingleSignOn)
    thread = threading.Thread(target=sso.serve_forever, daemon=True)
    thread.start()
    try:
        deployed = nginx_deployment(tmux_server, tmp_path, sso_port=sso.server_address[1])
    except BaseException:
        sso.shutdown()
        sso.server_close()
        raise
    site, token = deployed.site, deployed.tmuxweb.token
    try:
        with site.client() as client:
            wait_until(lambda: deployed.proxy.check() and _answers(site), timeout=20, what="nginx")
            for path in ("/", "/api/sessions", "/events"):
                r = site.request(client, "GET", path, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401 and r.text == "please sign in", path
        signed_in = dataclasses.replace(site, cookies={"_oauth2_proxy": "valid"})
        with Watcher(signed_in, token, ticket=True) as tab:
            shown, _ = tab.type_timed_line()
            assert "printf 'T=%s" in shown
    finally:
        deployed.stop()
        sso.shutdown()
        sso.server_close()
        thread.join(5)


def _answers(site: Site) -> bool:
    try:
        with site.client() as client:
            return site.request(client, "GET", "/healthz").status_code in (200, 401)
    except (httpx.TransportError, OSError):
        return False


def test_static_files_through_the_proxy_are_revalidated_not_refetched(deployment: Deployment) -> None:
    # nginx passes the prefix on, Caddy takes it off: both must be cacheable.
    with deployment.site.client() as client:
        r = deployment.site.request(client, "GET", "/static/main.js")
        assert r.status_code == 200
        assert r.headers.get_list("cache-control") == ["no-cache"]


def test_nginx_from_its_own_loopback_address_keeps_forged_headers_out_of_tunnels_too(tmux_server: TmuxServer, tmp_path: Path) -> None:
    """The optional `proxy_bind 127.0.0.3` with --trusted-proxy 127.0.0.3:
    connections from 127.0.0.1 (local browsers, SSH tunnels) can then not
    forward anything either."""
    deployed = nginx_deployment(tmux_server, tmp_path, proxy_bind=True)
    try:
        deployed.site.ready(deployed.proxy)
        with Watcher(deployed.site, deployed.tmuxweb.token, ticket=True) as tab:
            shown, _ = tab.type_timed_line()
            assert "printf 'T=%s" in shown
        forged = {"Host": "evil.example", "X-Forwarded-Host": PUBLIC_NAME, "Authorization": f"Bearer {deployed.tmuxweb.token}"}
        status, body = raw_request(deployed.tmuxweb.port, f"{PREFIX}/api/sessions", forged, source="127.0.0.1")
        assert status == 403 and b"host not allowed" in body
    finally:
        deployed.stop()
