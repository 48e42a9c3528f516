"""GET /sw.js: the service worker's script at the page's own level (its
scope is its directory), public, with the security headers, revalidated on
every fetch, and under a reverse proxy's prefix too."""

from __future__ import annotations

from typing import Any

import httpx

from helpers import RunningServer
from tmuxweb.app import static_dir
from tmuxweb.middleware import CSP


def check_worker(response: Any) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.text == (static_dir() / "sw.js").read_text()
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    # Never kept for long: a new version must take over at the next visit.
    assert response.headers["cache-control"] == "no-cache"


def test_the_service_worker_is_served_without_a_token(tmuxweb_server: RunningServer) -> None:
    with httpx.Client(base_url=tmuxweb_server.base_url, timeout=15) as client:
        check_worker(client.get("/sw.js"))
        assert client.post("/sw.js", headers={"Content-Type": "application/json"}, content=b"{}").status_code == 405


def test_the_service_worker_is_served_under_the_prefix(make_server: Any) -> None:
    server: RunningServer = make_server(root_path="/tmux")
    with httpx.Client(base_url=server.base_url, timeout=15) as client:
        check_worker(client.get("/tmux/sw.js"))  # the proxy passed the prefix on
        check_worker(client.get("/sw.js"))  # the proxy stripped it
