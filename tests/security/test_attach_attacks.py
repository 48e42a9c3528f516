"""Attacks on PUT /api/attach against the real server: each fails without
the rule it attacks (scope check, name cleaning, O_NOFOLLOW on the
directory, link(2) instead of an open that follows a planted symlink)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helpers import RunningServer
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

SECRET = "TOPSECRET-outside-the-attach-dir"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    base = tmp_path.resolve() / "attack"
    (base / "attach").mkdir(mode=0o700, parents=True)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text(SECRET)
    return base


@pytest.fixture
def server(make_server: Callable[..., RunningServer], base: Path) -> RunningServer:
    return make_server(attach_dir=base / "attach")


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def outside_untouched(base: Path) -> None:
    assert os.listdir(base / "outside") == ["secret.txt"]
    assert (base / "outside" / "secret.txt").read_text() == SECRET
    assert sorted(os.listdir(base)) == ["attach", "outside"]


def test_read_token_cannot_attach(server: RunningServer, base: Path) -> None:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create("viewer", "read", None, secret)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}) as c:
        r = c.put("/api/attach", params={"name": "x.png"}, content=b"data")
    assert r.status_code == 403 and "error" in r.json()
    assert os.listdir(base / "attach") == []


def test_readonly_server_cannot_attach(make_server: Callable[..., RunningServer], base: Path) -> None:
    server = make_server(attach_dir=base / "attach", readonly=True)
    with server.client() as c:
        assert c.put("/api/attach", params={"name": "x.png"}, content=b"data").status_code == 403
    assert os.listdir(base / "attach") == []


@pytest.mark.parametrize(
    "name",
    ["../outside/pwned.txt", "../../pwned.txt", "..\\outside\\pwned.txt", "/%s/outside/pwned.txt", "..", "../outside/secret.txt"],
)
def test_traversal_in_the_name_stays_in_the_attach_dir(client: httpx.Client, base: Path, name: str) -> None:
    r = client.put("/api/attach", params={"name": name.replace("%s", str(base))}, content=b"pwned")
    assert r.status_code == 201, r.text
    stored = Path(r.json()["path"])
    assert stored.parent == base / "attach" and stored.read_bytes() == b"pwned"
    outside_untouched(base)


def test_symlink_planted_under_the_name_is_not_written_through(client: httpx.Client, base: Path) -> None:
    os.symlink(base / "outside" / "secret.txt", base / "attach" / "shot.png")
    os.symlink(base / "outside" / "new.txt", base / "attach" / "dangling.png")
    for name in ("shot.png", "dangling.png"):
        r = client.put("/api/attach", params={"name": name}, content=b"pwned")
        assert r.status_code == 201
        assert Path(r.json()["path"]).name == name.replace(".png", "-2.png")
    outside_untouched(base)


def test_attach_dir_swapped_for_a_symlink_is_refused(client: httpx.Client, base: Path) -> None:
    os.rmdir(base / "attach")
    os.symlink(base / "outside", base / "attach")
    r = client.put("/api/attach", params={"name": "x.png"}, content=b"pwned")
    assert r.status_code == 403 and "error" in r.json()
    assert SECRET not in r.text
    os.unlink(base / "attach")
    os.mkdir(base / "attach")
    outside_untouched(base)


def test_cross_site_attach_is_refused(server: RunningServer, base: Path) -> None:
    with server.client(headers={"Origin": "https://evil.example"}) as c:
        assert c.put("/api/attach", params={"name": "x.png"}, content=b"data").status_code == 403
    assert os.listdir(base / "attach") == []
