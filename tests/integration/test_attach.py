"""Attachments (attach.py) against the real server and tmux: stored in the
attach directory 0600 with unique clean names, and the returned quoted path
typed into a pane through the `input` command reaches the shell intact."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helpers import RunningServer, Session, TmuxServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def attach_dir(tmp_path: Path) -> Path:
    return tmp_path.resolve() / "inbox" / "attachments"  # missing: created on first use


@pytest.fixture
def server(make_server: Callable[..., RunningServer], attach_dir: Path) -> RunningServer:
    return make_server(attach_dir=attach_dir, attach_max_size=64 * 1024)


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def attach(client: httpx.Client, name: str, body: bytes = PNG) -> httpx.Response:
    return client.put("/api/attach", params={"name": name}, content=body)


def test_attachment_is_stored_0600_in_a_new_0700_directory(client: httpx.Client, attach_dir: Path) -> None:
    r = attach(client, "screenshot.png")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {"path": str(attach_dir / "screenshot.png"), "quoted": str(attach_dir / "screenshot.png"), "size": len(PNG)}
    assert stat.S_IMODE(attach_dir.stat().st_mode) == 0o700
    stored = attach_dir / "screenshot.png"
    assert stored.read_bytes() == PNG
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_same_name_twice_never_overwrites(client: httpx.Client, attach_dir: Path) -> None:
    first = attach(client, "image.png", b"first").json()["path"]
    second = attach(client, "image.png", b"second").json()["path"]
    third = attach(client, "image.png", b"third").json()["path"]
    assert [Path(p).name for p in (first, second, third)] == ["image.png", "image-2.png", "image-3.png"]
    assert [Path(p).read_bytes() for p in (first, second, third)] == [b"first", b"second", b"third"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (".bashrc", "bashrc"),
        ("-rf.png", "rf.png"),
        ("a\x1b[31mb.png", "a_[31mb.png"),
        ("\u202egnp.exe", "gnp.exe"),
        ("", "attachment"),
        ("x" * 400 + ".jpeg", "x" * 115 + ".jpeg"),
    ],
)
def test_names_are_cleaned_keeping_the_extension(client: httpx.Client, attach_dir: Path, sent: str, stored: str) -> None:
    r = attach(client, sent)
    assert r.status_code == 201, r.text
    assert os.listdir(attach_dir) == [stored]


def test_the_size_cap_is_enforced_and_leaves_nothing(client: httpx.Client, attach_dir: Path) -> None:
    r = attach(client, "big.bin", b"x" * (64 * 1024 + 1))
    assert r.status_code == 413 and "error" in r.json()
    assert not attach_dir.exists() or os.listdir(attach_dir) == []


def test_disabled_unless_configured(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as c:
        r = attach(c, "x.png")
    assert r.status_code == 404


def test_quoted_path_typed_into_the_pane_reaches_the_shell(server: RunningServer, tmux_server: TmuxServer, attach_dir: Path) -> None:
    tmux_server.wait_for_prompt()
    session = Session(server, server.stream())
    try:
        r = attach(session.client, "my shot $(touch pwned).png")
        quoted = r.json()["quoted"]
        assert quoted.startswith("'") and quoted.endswith("'")
        session.command(type="input", pane="%0", text=f"stat -c %s-%a {quoted}\r")
        tmux_server.wait_for_text("%0", f"{len(PNG)}-600")
        assert sorted(os.listdir(attach_dir)) == ["my shot $(touch pwned).png"]
    finally:
        session.close()
