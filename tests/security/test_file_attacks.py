"""Attacks on the file endpoints, against the real server. Each test names
the attack; every one of them also checks that nothing outside the root
was read or written and that no error names a path outside the root."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helpers import RunningServer, wait_until
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

SECRET = "TOPSECRET-outside-the-root"


class Tree:
    """root/ (read-only), inbox/ (writable), root2/ (a sibling that shares
    root's name as a prefix), outside/ with the secret."""

    def __init__(self, base: Path) -> None:
        base = base.resolve()
        self.root = base / "root"
        self.inbox = base / "inbox"
        self.root2 = base / "root2"
        self.outside = base / "outside"
        for d in (self.root / "sub", self.inbox, self.root2, self.outside / "dir"):
            d.mkdir(parents=True)
        (self.outside / "secret.txt").write_text(SECRET)
        (self.outside / "dir" / "secret.txt").write_text(SECRET)
        (self.root2 / "secret.txt").write_text(SECRET)
        (self.root / "ok.txt").write_text("fine")
        (self.root / "sub" / "ok.txt").write_text("fine too")

    def secrets_untouched(self) -> None:
        assert sorted(os.listdir(self.outside)) == ["dir", "secret.txt"]
        assert sorted(os.listdir(self.outside / "dir")) == ["secret.txt"]
        assert (self.outside / "secret.txt").read_text() == SECRET


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Tree]:
    tree = Tree(tmp_path)
    yield tree
    tree.secrets_untouched()


@pytest.fixture
def server(make_server: Callable[..., RunningServer], tree: Tree) -> RunningServer:
    return make_server(file_roots=((tree.root, False), (tree.inbox, True)), file_max_size=64 * 1024)


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def leaks(r: httpx.Response, tree: Tree) -> bool:
    """Whether a response shows the secret or names a path outside the root."""
    text = r.text
    return SECRET in text or str(tree.outside) in text or str(tree.root2) in text or "/etc" in text


def get_raw(client: httpx.Client, route: str, raw_query: str) -> httpx.Response:
    """A query string sent exactly as written (percent-escapes untouched)."""
    return client.get(f"{route}?{raw_query}")


# -- traversal -------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/api/file", "/api/directory"])
@pytest.mark.parametrize("suffix", ["/../outside/secret.txt", "/sub/../../outside/secret.txt", "/..", "/sub/.."])
def test_dot_dot_traversal_is_400(client: httpx.Client, tree: Tree, route: str, suffix: str) -> None:
    r = client.get(route, params={"path": f"{tree.root}{suffix}"})
    assert r.status_code == 400 and not leaks(r, tree)


@pytest.mark.parametrize(
    "encoded",
    [
        "%2e%2e/outside/secret.txt",  # decoded once by the server: ../outside
        "%2e%2e%2foutside%2fsecret.txt",
        "..%2foutside%2fsecret.txt",
        "%252e%252e/outside/secret.txt",  # double-encoded: arrives as %2e%2e
        "%252e%252e%252foutside%252fsecret.txt",
        "%25252e%25252e/outside/secret.txt",  # triple
        "sub%252f..%252f..%252foutside%252fsecret.txt",
        "%c0%ae%c0%ae/outside/secret.txt",  # overlong UTF-8 dots
    ],
)
def test_percent_and_double_encoded_traversal_is_refused(client: httpx.Client, tree: Tree, encoded: str) -> None:
    r = get_raw(client, "/api/file", f"path={tree.root}/{encoded}")
    assert r.status_code in (400, 404) and not leaks(r, tree)
    if "%25" in encoded or "%2e" in encoded.lower():
        assert r.status_code == 400


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ", "/", "/root/.ssh/id_rsa"])
def test_absolute_paths_outside_every_root_are_404(client: httpx.Client, tree: Tree, path: str) -> None:
    for route in ("/api/file", "/api/directory"):
        r = client.get(route, params={"path": path})
        assert r.status_code == 404 and not leaks(r, tree)


def test_outside_paths_are_no_oracle_for_existence(client: httpx.Client, tree: Tree) -> None:
    exists = client.get("/api/file", params={"path": str(tree.outside / "secret.txt")})
    missing = client.get("/api/file", params={"path": str(tree.outside / "no-such-file")})
    assert (exists.status_code, exists.json()) == (missing.status_code, missing.json()) == (404, exists.json())


def test_sibling_directory_sharing_the_root_as_prefix_is_outside(client: httpx.Client, tree: Tree) -> None:
    # /x/root2 starts with the string /x/root but is not inside it.
    for route in ("/api/file", "/api/directory"):
        target = tree.root2 / "secret.txt" if route == "/api/file" else tree.root2
        r = client.get(route, params={"path": str(target)})
        assert r.status_code == 404 and not leaks(r, tree)
    r = get_raw(client, "/api/file", f"path={tree.root}2/secret.txt")
    assert r.status_code == 404 and not leaks(r, tree)


@pytest.mark.parametrize("query", ["path={root}/ok.txt%00", "path={root}/ok.txt%00.png", "path={root}%00/../outside"])
def test_nul_byte_is_400(client: httpx.Client, tree: Tree, query: str) -> None:
    r = get_raw(client, "/api/file", query.format(root=tree.root))
    assert r.status_code == 400 and not leaks(r, tree)


@pytest.mark.parametrize("suffix", ["\\..\\outside\\secret.txt", "/sub\\..\\..\\outside\\secret.txt", "/ok.txt\\"])
def test_backslashes_are_400(client: httpx.Client, tree: Tree, suffix: str) -> None:
    r = client.get("/api/file", params={"path": f"{tree.root}{suffix}"})
    assert r.status_code == 400 and "backslash" in r.json()["error"]


@pytest.mark.parametrize("path", ["ok.txt", "root/ok.txt", "./ok.txt", "~/ok.txt", ""])
def test_relative_paths_are_400(client: httpx.Client, tree: Tree, path: str) -> None:
    assert client.get("/api/file", params={"path": path}).status_code == 400


def test_overlong_names_and_paths_are_400(client: httpx.Client, tree: Tree) -> None:
    long_name = client.get("/api/file", params={"path": f"{tree.root}/{'a' * 256}"})
    assert long_name.status_code == 400 and "255" in long_name.json()["error"]
    long_path = client.get("/api/file", params={"path": f"{tree.root}/" + "a/" * 2100})
    assert long_path.status_code == 400 and "4096" in long_path.json()["error"]


# -- symbolic links ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "link, target, request_suffix",
    [
        ("abs", "{outside}/secret.txt", "abs"),
        ("rel", "../outside/secret.txt", "rel"),
        ("dir", "{outside}/dir", "dir/secret.txt"),
        ("sub/climb", "../../outside/secret.txt", "sub/climb"),
        ("etc", "/etc/passwd", "etc"),
        ("prefix", "{root}2/secret.txt", "prefix"),  # the sibling root2
        ("self-escape", "{root}/../outside/secret.txt", "self-escape"),
    ],
)
def test_symlink_inside_the_root_pointing_outside_is_refused(
    client: httpx.Client, tree: Tree, link: str, target: str, request_suffix: str
) -> None:
    (tree.root / link).symlink_to(target.format(outside=tree.outside, root=tree.root))
    r = client.get("/api/file", params={"path": f"{tree.root}/{request_suffix}"})
    assert r.status_code == 403 and "outside the file root" in r.json()["error"]
    assert not leaks(r, tree)


def test_listing_through_a_symlink_to_an_outside_directory_is_refused(client: httpx.Client, tree: Tree) -> None:
    (tree.root / "out").symlink_to(tree.outside)
    r = client.get("/api/directory", params={"path": f"{tree.root}/out"})
    assert r.status_code == 403 and not leaks(r, tree)
    listing = client.get("/api/directory", params={"path": str(tree.root)}).json()
    out = next(e for e in listing["entries"] if e["name"] == "out")
    assert out == {**out, "type": "symlink", "size": None}  # nothing about the target


def test_symlinks_that_stay_inside_work(client: httpx.Client, tree: Tree) -> None:
    (tree.root / "latest").symlink_to("sub/ok.txt")
    (tree.root / "sub" / "back").symlink_to(f"{tree.root}/ok.txt")
    assert client.get("/api/file", params={"path": f"{tree.root}/latest"}).text == "fine too"
    assert client.get("/api/file", params={"path": f"{tree.root}/sub/back"}).text == "fine"


def test_symlink_loop_is_refused(client: httpx.Client, tree: Tree) -> None:
    (tree.root / "a").symlink_to("b")
    (tree.root / "b").symlink_to("a")
    r = client.get("/api/file", params={"path": f"{tree.root}/a"})
    assert r.status_code == 403 and "too many levels" in r.json()["error"]


def test_check_then_open_race_never_serves_the_outside(client: httpx.Client, tree: Tree) -> None:
    """A thread atomically swaps `swap` between a link to a directory inside
    and one to the outside directory, each holding `secret.txt`, while we
    ask for root/swap/secret.txt: a check-then-open implementation would
    now and then serve the outside file."""
    (tree.root / "inside").mkdir()
    (tree.root / "inside" / "secret.txt").write_text("harmless")
    (tree.root / "swap").symlink_to("inside")
    stop = threading.Event()

    def swapper() -> None:
        i = 0
        while not stop.is_set():
            tmp = tree.root / f"tmp-{i}"
            tmp.symlink_to(str(tree.outside / "dir") if i % 2 else "inside")
            os.replace(tmp, tree.root / "swap")
            i += 1

    thread = threading.Thread(target=swapper)
    thread.start()
    statuses = set()
    try:
        for _ in range(400):
            r = client.get("/api/file", params={"path": f"{tree.root}/swap/secret.txt"})
            assert not leaks(r, tree)
            statuses.add((r.status_code, r.text if r.status_code == 200 else ""))
    finally:
        stop.set()
        thread.join()
    assert (200, "harmless") in statuses
    assert {s for s, _ in statuses} <= {200, 403, 404}


# -- special files -------------------------------------------------------------------------


def test_fifo_is_refused_without_blocking(client: httpx.Client, tree: Tree) -> None:
    os.mkfifo(tree.root / "pipe")
    started = time.monotonic()
    r = client.get("/api/file", params={"path": f"{tree.root}/pipe"})
    assert r.status_code == 403 and "regular files" in r.json()["error"]
    assert time.monotonic() - started < 5  # opening it for reading would have hung


def test_unix_socket_is_refused(client: httpx.Client, tree: Tree) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tree.root / "sock"))
        r = client.get("/api/file", params={"path": f"{tree.root}/sock"})
        assert r.status_code == 403
    finally:
        sock.close()


def test_device_is_refused(client: httpx.Client, tree: Tree) -> None:
    (tree.root / "null-link").symlink_to("/dev/null")
    assert client.get("/api/file", params={"path": f"{tree.root}/null-link"}).status_code == 403
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    os.mknod(tree.root / "zero", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero: endless if read
    r = client.get("/api/file", params={"path": f"{tree.root}/zero"})
    assert r.status_code == 403 and "regular files" in r.json()["error"]


# -- hidden files ---------------------------------------------------------------------------


@pytest.fixture
def dotfiles(tree: Tree) -> Tree:
    (tree.root / ".ssh").mkdir()
    (tree.root / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    (tree.root / ".env").write_text("PASSWORD=x")
    (tree.root / "key").symlink_to(".ssh/id_rsa")
    return tree


@pytest.mark.parametrize("suffix", [".ssh/id_rsa", ".env", "key", "sub/../.env", "%2eenv"])
def test_dotfiles_are_refused_by_default(client: httpx.Client, dotfiles: Tree, suffix: str) -> None:
    r = get_raw(client, "/api/file", f"path={dotfiles.root}/{suffix}")
    assert r.status_code in (400, 403)
    assert "PRIVATE KEY" not in r.text and "PASSWORD" not in r.text


def test_dotfiles_are_not_listed_by_default(client: httpx.Client, dotfiles: Tree) -> None:
    names = [e["name"] for e in client.get("/api/directory", params={"path": str(dotfiles.root)}).json()["entries"]]
    assert ".ssh" not in names and ".env" not in names
    assert client.get("/api/directory", params={"path": f"{dotfiles.root}/.ssh"}).status_code == 403


def test_dotfiles_are_served_with_show_hidden(make_server: Callable[..., RunningServer], dotfiles: Tree) -> None:
    server = make_server(file_roots=((dotfiles.root, False),), file_show_hidden=True)
    with server.client() as c:
        assert c.get("/api/file", params={"path": f"{dotfiles.root}/.env"}).text == "PASSWORD=x"
        assert c.get("/api/file", params={"path": f"{dotfiles.root}/key"}).text == "PRIVATE KEY"
        names = [e["name"] for e in c.get("/api/directory", params={"path": str(dotfiles.root)}).json()["entries"]]
        assert ".ssh" in names


# -- active content ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.html", "x.htm", "x.svg", "x.xhtml", "x.xml", "x.js", "x.pdf"])
def test_active_content_is_never_served_inline(client: httpx.Client, tree: Tree, name: str) -> None:
    (tree.root / name).write_text("<script>alert(document.domain)</script>")
    r = client.get("/api/file", params={"path": f"{tree.root}/{name}"})
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'; sandbox" in r.headers.get_list("content-security-policy")


def test_file_name_cannot_inject_into_content_disposition(client: httpx.Client, tree: Tree) -> None:
    name = 'a"; filename=evil.html; x=".txt'
    (tree.root / name).write_text("x")
    r = client.get("/api/file", params={"path": f"{tree.root}/{name}"})
    disposition = r.headers["content-disposition"]
    # Exactly one quoted fallback and one encoded name: no extra parameter.
    assert re.fullmatch(r"(inline|attachment); filename=\"[^\"\\;]*\"; filename\*=UTF-8''[A-Za-z0-9!#$&+.^_`|~%-]*", disposition)
    assert disposition.endswith("filename*=UTF-8''a%22%3B%20filename%3Devil.html%3B%20x%3D%22.txt")


def test_file_over_the_cap_is_413(client: httpx.Client, tree: Tree) -> None:
    (tree.root / "big.bin").write_bytes(b"x" * (64 * 1024 + 1))
    assert client.get("/api/file", params={"path": f"{tree.root}/big.bin"}).status_code == 413


# -- uploads --------------------------------------------------------------------------------------


def put(client: httpx.Client, path: str, body: bytes = b"payload", overwrite: bool = False) -> httpx.Response:
    return client.put("/api/file", params={"path": path, "overwrite": "1" if overwrite else "0"}, content=body)


@pytest.mark.parametrize(
    "name",
    ["../outside/x", "..", "a\x00b", "a\\..\\b", "a\nb", "a\u202etxt.exe", "-rf", " x", "x ", ".bashrc", "a" * 256, ".tmuxweb-upload-x.part"],
)
def test_upload_names_are_validated(client: httpx.Client, tree: Tree, name: str) -> None:
    r = put(client, f"{tree.inbox}/{name}")
    assert r.status_code in (400, 403), name
    assert os.listdir(tree.inbox) == []


def test_upload_with_encoded_separator_stays_a_refusal(client: httpx.Client, tree: Tree) -> None:
    r = client.put(f"/api/file?path={tree.inbox}/..%252foutside%252fpwned", content=b"x")
    assert r.status_code == 400
    assert os.listdir(tree.inbox) == []


def test_upload_through_a_symlinked_directory_leading_outside_is_refused(client: httpx.Client, tree: Tree) -> None:
    (tree.inbox / "out").symlink_to(tree.outside)
    r = put(client, f"{tree.inbox}/out/pwned.txt")
    assert r.status_code == 403 and not leaks(r, tree)


def test_upload_over_a_symlink_never_writes_through_it(client: httpx.Client, tree: Tree) -> None:
    (tree.inbox / "link.txt").symlink_to(tree.outside / "secret.txt")
    assert put(client, f"{tree.inbox}/link.txt").status_code == 409
    assert put(client, f"{tree.inbox}/link.txt", overwrite=True).status_code == 409
    assert (tree.inbox / "link.txt").is_symlink()


def test_upload_cannot_replace_a_directory(client: httpx.Client, tree: Tree) -> None:
    (tree.inbox / "d").mkdir()
    assert put(client, f"{tree.inbox}/d", overwrite=True).status_code == 409
    assert (tree.inbox / "d").is_dir()


def test_upload_into_the_read_only_root_is_403(client: httpx.Client, tree: Tree) -> None:
    assert put(client, f"{tree.root}/new.txt").status_code == 403
    assert put(client, f"{tree.root}/ok.txt", overwrite=True).status_code == 403
    assert (tree.root / "ok.txt").read_text() == "fine"
    assert not (tree.root / "new.txt").exists()


def test_upload_outside_every_root_is_404(client: httpx.Client, tree: Tree) -> None:
    assert put(client, str(tree.outside / "pwned.txt")).status_code == 404


def test_read_token_upload_escalation_is_403(server: RunningServer, tree: Tree) -> None:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create("viewer", "read", None, secret)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}) as c:
        for overwrite in (False, True):
            assert put(c, f"{tree.inbox}/x.txt", overwrite=overwrite).status_code == 403
    assert os.listdir(tree.inbox) == []


def test_cross_site_upload_is_refused(server: RunningServer, tree: Tree) -> None:
    with server.client(headers={"Origin": "https://evil.example"}) as c:
        r = put(c, f"{tree.inbox}/csrf.txt")
    assert r.status_code == 403
    assert os.listdir(tree.inbox) == []


def test_forged_host_on_file_routes_is_refused(server: RunningServer, tree: Tree) -> None:
    with server.client(headers={"Host": "evil.example"}) as c:
        assert c.get("/api/file", params={"path": f"{tree.root}/ok.txt"}).status_code == 403
        assert c.get("/api/files").status_code == 403


def test_oversized_upload_is_413_declared_or_chunked_and_leaves_nothing(client: httpx.Client, tree: Tree) -> None:
    big = b"x" * (64 * 1024 + 1)
    assert put(client, f"{tree.inbox}/big", big).status_code == 413
    r = client.put("/api/file", params={"path": f"{tree.inbox}/big"}, content=iter([big[:40000], big[40000:]]))
    assert r.status_code == 413
    assert os.listdir(tree.inbox) == []


def test_racing_uploads_of_one_name_have_exactly_one_winner(server: RunningServer, tree: Tree) -> None:
    results: dict[int, int] = {}

    def upload(i: int) -> None:
        with server.client() as c:
            results[i] = put(c, f"{tree.inbox}/race.txt", f"body {i}".encode()).status_code

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, status in results.items() if status == 201]
    assert len(winners) == 1
    assert sorted(results.values()) == [201] + [409] * 11
    assert (tree.inbox / "race.txt").read_text() == f"body {winners[0]}"
    assert os.listdir(tree.inbox) == ["race.txt"]


def test_interrupted_upload_leaves_no_temporary_file(server: RunningServer, tree: Tree) -> None:
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = (
            f"PUT /api/file?path={tree.inbox}/cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Length: 60000\r\n\r\n"
        )
        sock.sendall(head.encode() + b"x" * 20000)
        wait_until(lambda: os.listdir(tree.inbox), what="the temporary file")
    # Hung up with 40000 bytes missing: the partial file goes away.
    wait_until(lambda: os.listdir(tree.inbox) == [], what="the temporary file to be removed")
