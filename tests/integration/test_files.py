"""The file endpoints against the real server: listing, serving, ranges,
uploads, scopes, the audit log. Attacks on the path rules are in
tests/security/test_file_attacks.py."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import RunningServer, wait_until
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201b1b1a3a60000000049454e44ae426082"
)


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """A read-only root with some files and a writable, empty one."""
    docs = (tmp_path / "docs").resolve()
    (docs / "sub").mkdir(parents=True)
    (docs / "notes.txt").write_text("hello\n")
    (docs / "README.md").write_text("# Title\n")
    (docs / "pixel.png").write_bytes(PNG)
    (docs / "page.html").write_text("<script>alert(1)</script>")
    (docs / "pic.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (docs / "sub" / "deep.log").write_text("line 1\n")
    (docs / "empty").write_bytes(b"")
    inbox = (tmp_path / "inbox").resolve()
    inbox.mkdir()
    return docs, inbox


@pytest.fixture
def audit(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def server(make_server: Callable[..., RunningServer], roots: tuple[Path, Path], audit: Path) -> RunningServer:
    docs, inbox = roots
    return make_server(file_roots=((docs, False), (inbox, True)), audit_log=audit, file_max_size=1024 * 1024)


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def add_token(server: RunningServer, name: str, scope: str) -> str:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create(name, scope, None, secret)
    return secret


def audit_records(path: Path, event: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["event"] == event]


# -- deny by default ----------------------------------------------------------------


def test_without_roots_every_file_route_is_404_like_an_unknown_route(tmuxweb_server: RunningServer) -> None:
    with tmuxweb_server.client() as c:
        unknown = c.get("/api/no-such-route")
        answers = [
            c.get("/api/files"),
            c.get("/api/directory", params={"path": "/"}),
            c.get("/api/file", params={"path": "/etc/passwd"}),
            c.put("/api/file", params={"path": "/tmp/x"}, content=b"x"),
        ]
    assert unknown.status_code == 404
    for r in answers:
        assert (r.status_code, r.json()) == (404, unknown.json())


def test_file_routes_need_the_token(server: RunningServer, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    with httpx.Client(base_url=server.base_url) as c:
        for r in [
            c.get("/api/files"),
            c.get("/api/directory", params={"path": str(docs)}),
            c.get("/api/file", params={"path": str(docs / "notes.txt")}),
            c.put("/api/file", params={"path": str(docs / "x")}, content=b"x"),
        ]:
            assert r.status_code == 401


# -- roots and listing --------------------------------------------------------------


def test_roots_are_listed_with_their_permissions(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, inbox = roots
    r = client.get("/api/files")
    assert r.status_code == 200
    assert r.json() == {
        "roots": [
            {"path": str(docs), "name": "docs", "writable": False},
            {"path": str(inbox), "name": "inbox", "writable": True},
        ],
        "max_size": 1024 * 1024,
        "show_hidden": False,
        "upload": True,
    }
    assert r.headers["cache-control"] == "no-store"


def test_read_token_and_readonly_server_see_no_upload(
    server: RunningServer, make_server: Callable[..., RunningServer], roots: tuple[Path, Path]
) -> None:
    token = add_token(server, "viewer", "read")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/api/files").json()["upload"] is False
    readonly = make_server(file_roots=((roots[1], True),), readonly=True)
    with readonly.client() as c:
        assert c.get("/api/files").json()["upload"] is False


def test_directory_listing_has_name_type_size_mtime(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    r = client.get("/api/directory", params={"path": str(docs)})
    assert r.status_code == 200
    listing = r.json()
    assert [e["name"] for e in listing["entries"]] == ["sub", "empty", "notes.txt", "page.html", "pic.svg", "pixel.png", "README.md"]
    notes = next(e for e in listing["entries"] if e["name"] == "notes.txt")
    assert notes["type"] == "file" and notes["size"] == 6 and notes["link"] is False
    assert abs(notes["mtime"] - (docs / "notes.txt").stat().st_mtime) < 0.01
    assert listing["entries"][0] == {**listing["entries"][0], "type": "directory", "size": None}
    assert listing["path"] == str(docs) and listing["root"] == str(docs) and listing["writable"] is False
    assert listing["total"] == 7 and listing["truncated"] is False


def test_large_directory_is_paginated(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    _, inbox = roots
    for i in range(57):
        (inbox / f"f{i:03}.txt").write_text(str(i))
    names: list[str] = []
    offset = 0
    while True:
        page = client.get("/api/directory", params={"path": str(inbox), "offset": str(offset), "limit": "10"}).json()
        assert page["total"] == 57
        names += [e["name"] for e in page["entries"]]
        offset += 10
        if offset >= page["total"]:
            break
    assert names == [f"f{i:03}.txt" for i in range(57)]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"path": "/x", "offset": "-1"},
        {"path": "/x", "limit": "0"},
        {"path": "/x", "limit": "99999"},
        {"path": "/x", "limit": "ten"},
        {"path": "/x", "sort": "size"},
    ],
)
def test_directory_parameters_are_validated(client: httpx.Client, params: dict[str, str]) -> None:
    assert client.get("/api/directory", params=params).status_code == 400


def test_path_given_twice_is_refused(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    r = client.get("/api/file", params=[("path", str(docs / "notes.txt")), ("path", "/etc/passwd")])
    assert r.status_code == 400 and "twice" in r.json()["error"]


def test_listing_a_subdirectory_and_a_file_as_directory(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    r = client.get("/api/directory", params={"path": f"{docs}/sub/"})
    assert [e["name"] for e in r.json()["entries"]] == ["deep.log"]
    assert r.json()["path"] == f"{docs}/sub"
    assert client.get("/api/directory", params={"path": f"{docs}/notes.txt"}).status_code == 404
    assert client.get("/api/directory", params={"path": f"{docs}/missing"}).status_code == 404


# -- serving files ------------------------------------------------------------------


def test_text_file_is_served_inline_with_type_and_nosniff(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    r = client.get("/api/file", params={"path": str(docs / "notes.txt")})
    assert r.status_code == 200
    assert r.content == b"hello\n"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-disposition"] == "inline; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-length"] == "6"
    assert r.headers["cache-control"] == "no-store"
    assert "default-src 'none'; sandbox" in r.headers.get_list("content-security-policy")


def test_image_and_markdown_types(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    png = client.get("/api/file", params={"path": str(docs / "pixel.png")})
    assert png.content == PNG and png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith("inline;")
    md = client.get("/api/file", params={"path": str(docs / "README.md")})
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"


@pytest.mark.parametrize("name, kind", [("page.html", "text/html"), ("pic.svg", "image/svg+xml")])
def test_html_and_svg_are_attachments_never_inline(client: httpx.Client, roots: tuple[Path, Path], name: str, kind: str) -> None:
    docs, _ = roots
    r = client.get("/api/file", params={"path": str(docs / name)})
    assert r.status_code == 200
    assert r.headers["content-type"] == kind
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers.get_list("content-security-policy")
    assert "default-src 'none'; sandbox" in csp


def test_unicode_file_name_gets_rfc6266_filename_star(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    (docs / "résumé 1.txt").write_text("x")
    r = client.get("/api/file", params={"path": str(docs / "résumé 1.txt")})
    assert r.headers["content-disposition"] == (
        "inline; filename=\"r_sum_ 1.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.txt"
    )


def test_empty_file_and_head(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    r = client.get("/api/file", params={"path": str(docs / "empty")})
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "0")
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;")
    head = client.head("/api/file", params={"path": str(docs / "notes.txt")})
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "6")


def test_large_file_streams_whole(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    data = os.urandom(1024 * 1024)  # exactly the cap
    (docs / "big.bin").write_bytes(data)
    r = client.get("/api/file", params={"path": str(docs / "big.bin")})
    assert r.status_code == 200 and r.content == data


def test_ranges_206_and_416(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    (docs / "digits.txt").write_text("0123456789")
    path = {"path": str(docs / "digits.txt")}

    def get(range_: str, **headers: str) -> httpx.Response:
        return client.get("/api/file", params=path, headers={"Range": range_, **headers})

    r = get("bytes=2-4")
    assert (r.status_code, r.content, r.headers["content-range"], r.headers["content-length"]) == (206, b"234", "bytes 2-4/10", "3")
    assert get("bytes=7-").content == b"789"
    assert get("bytes=-3").content == b"789"
    assert get("bytes=8-100").content == b"89"
    gone = get("bytes=10-")
    assert gone.status_code == 416 and gone.headers["content-range"] == "bytes */10"
    # Several ranges, or nonsense: ignored, the whole file.
    assert get("bytes=0-1,3-4").status_code == 200
    assert get("lines=1-2").content == b"0123456789"
    # If-Range with a stale validator: the whole (changed) file.
    etag = get("bytes=0-0").headers["etag"]
    assert get("bytes=0-0", **{"If-Range": etag}).status_code == 206
    assert get("bytes=0-0", **{"If-Range": '"stale"'}).status_code == 200


def test_file_over_the_cap_is_413_but_a_range_under_it_is_served(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    data = os.urandom(1024 * 1024 + 10)
    (docs / "huge.log").write_bytes(data)
    path = {"path": str(docs / "huge.log")}
    r = client.get("/api/file", params=path)
    assert r.status_code == 413 and "Range" in r.json()["error"]
    tail = client.get("/api/file", params=path, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    assert client.get("/api/file", params=path, headers={"Range": "bytes=0-"}).status_code == 413


def test_following_a_growing_log_with_ranges(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    log = docs / "sub" / "deep.log"
    path = {"path": str(log)}
    first = client.get("/api/file", params=path)
    offset = len(first.content)
    nothing_new = client.get("/api/file", params=path, headers={"Range": f"bytes={offset}-"})
    assert nothing_new.status_code == 416 and nothing_new.headers["content-range"] == f"bytes */{offset}"
    with log.open("a") as f:
        f.write("line 2\n")
    more = client.get("/api/file", params=path, headers={"Range": f"bytes={offset}-"})
    assert more.status_code == 206 and more.content == b"line 2\n"
    log.write_text("")  # rotated: the size went below our offset
    rotated = client.get("/api/file", params=path, headers={"Range": f"bytes={offset}-"})
    assert rotated.status_code == 416 and rotated.headers["content-range"] == "bytes */0"


def test_a_client_leaving_mid_download_closes_the_file(make_server: Callable[..., RunningServer], roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    big = docs / "big.bin"
    with big.open("wb") as f:
        f.truncate(256 * 1024 * 1024)  # far more than socket buffers hold: the server must wait for us
    server = make_server(file_roots=((docs, False),), file_max_size=512 * 1024 * 1024)

    def open_on_big() -> list[str]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == str(big):
                    found.append(fd)
            except OSError:
                pass
        return found

    with server.client() as c, c.stream("GET", "/api/file", params={"path": str(big)}) as r:
        assert r.status_code == 200
        chunks = r.iter_raw(1024)  # kept: a dropped generator would hang up at once
        next(chunks)
        assert open_on_big()
    wait_until(lambda: not open_on_big(), what="the served file to be closed")


def test_a_directory_is_not_a_file(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    r = client.get("/api/file", params={"path": str(docs / "sub")})
    assert r.status_code == 400 and "directory" in r.json()["error"]


# -- uploads -------------------------------------------------------------------------


def test_upload_creates_the_file_and_never_overwrites_unless_asked(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    _, inbox = roots
    path = str(inbox / "report.txt")
    r = client.put("/api/file", params={"path": path}, content=b"first")
    assert r.status_code == 201 and r.json() == {"path": path, "size": 5}
    assert (inbox / "report.txt").read_bytes() == b"first"
    again = client.put("/api/file", params={"path": path}, content=b"second")
    assert again.status_code == 409 and "overwrite=1" in again.json()["error"]
    assert (inbox / "report.txt").read_bytes() == b"first"
    replaced = client.put("/api/file", params={"path": path, "overwrite": "1"}, content=b"second")
    assert replaced.status_code == 200
    assert (inbox / "report.txt").read_bytes() == b"second"
    assert sorted(os.listdir(inbox)) == ["report.txt"]  # no temporary file left


def test_upload_into_a_subdirectory_and_a_missing_one(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    _, inbox = roots
    (inbox / "sub").mkdir()
    assert client.put("/api/file", params={"path": f"{inbox}/sub/a.bin"}, content=os.urandom(100)).status_code == 201
    assert client.put("/api/file", params={"path": f"{inbox}/nope/a.bin"}, content=b"x").status_code == 404
    assert client.put("/api/file", params={"path": str(inbox)}, content=b"x").status_code == 400
    assert client.put("/api/file", params={"path": f"{inbox}/sub"}, content=b"x", ).status_code == 409


def test_upload_streams_a_chunked_body(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    _, inbox = roots
    parts = [os.urandom(100_000) for _ in range(5)]
    r = client.put("/api/file", params={"path": str(inbox / "chunked.bin")}, content=iter(parts))
    assert r.status_code == 201
    assert (inbox / "chunked.bin").read_bytes() == b"".join(parts)


@pytest.mark.parametrize("chunked", [False, True])
def test_upload_over_the_cap_is_413_and_leaves_nothing(client: httpx.Client, roots: tuple[Path, Path], chunked: bool) -> None:
    _, inbox = roots
    body = os.urandom(1024 * 1024 + 1)
    content: Any = iter([body[:500_000], body[500_000:]]) if chunked else body
    r = client.put("/api/file", params={"path": str(inbox / "big.bin")}, content=content)
    assert r.status_code == 413
    assert os.listdir(inbox) == []


def test_upload_into_a_read_only_root_is_403(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    r = client.put("/api/file", params={"path": str(docs / "new.txt")}, content=b"x")
    assert r.status_code == 403 and "read-only" in r.json()["error"]
    assert not (docs / "new.txt").exists()


def test_read_token_may_view_but_not_upload(server: RunningServer, roots: tuple[Path, Path]) -> None:
    docs, inbox = roots
    token = add_token(server, "viewer", "read")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/api/file", params={"path": str(docs / "notes.txt")}).content == b"hello\n"
        assert c.get("/api/directory", params={"path": str(inbox)}).status_code == 200
        r = c.put("/api/file", params={"path": str(inbox / "x.txt")}, content=b"x")
        assert r.status_code == 403
    assert os.listdir(inbox) == []


def test_write_token_may_upload(server: RunningServer, roots: tuple[Path, Path]) -> None:
    _, inbox = roots
    token = add_token(server, "typist", "write")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.put("/api/file", params={"path": str(inbox / "x.txt")}, content=b"x").status_code == 201


def test_readonly_server_refuses_uploads(make_server: Callable[..., RunningServer], roots: tuple[Path, Path]) -> None:
    _, inbox = roots
    server = make_server(file_roots=((inbox, True),), readonly=True)
    with server.client() as c:
        r = c.put("/api/file", params={"path": str(inbox / "x.txt")}, content=b"x")
    assert r.status_code == 403
    assert os.listdir(inbox) == []


def test_upload_overwrite_parameter_is_validated(client: httpx.Client, roots: tuple[Path, Path]) -> None:
    _, inbox = roots
    r = client.put("/api/file", params={"path": str(inbox / "x"), "overwrite": "yes"}, content=b"x")
    assert r.status_code == 400


# -- audit log -------------------------------------------------------------------------


def test_every_file_access_is_audited_with_token_path_and_result(server: RunningServer, roots: tuple[Path, Path], audit: Path) -> None:
    docs, inbox = roots
    token = add_token(server, "viewer", "read")
    with server.client() as owner:
        owner.get("/api/directory", params={"path": str(docs)})
        owner.get("/api/file", params={"path": str(docs / "sub" / "deep.log")}, headers={"Range": "bytes=0-3"})
        owner.put("/api/file", params={"path": str(inbox / "up.txt")}, content=b"abc")
        owner.get("/api/file", params={"path": "/etc/passwd"})
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as viewer:
        viewer.put("/api/file", params={"path": str(inbox / "no.txt")}, content=b"x")
    wait_until(lambda: len(audit_records(audit, "file-upload")) == 2, what="audit lines")
    (listing,) = audit_records(audit, "file-list")
    assert listing["token"] == "owner" and listing["root"] == str(docs) and listing["path"] == "." and listing["result"] == "ok"
    read_ok, read_refused = audit_records(audit, "file-read")
    assert read_ok["path"] == "sub/deep.log" and read_ok["range"] == "0-3" and read_ok["bytes"] == 4
    assert read_ok["result"] == "ok" and read_ok["client"] == "127.0.0.1"
    assert read_refused["result"].startswith("refused (404)") and read_refused["requested"] == "/etc/passwd"
    assert "path" not in read_refused
    upload_ok, upload_refused = audit_records(audit, "file-upload")
    assert upload_ok["path"] == "up.txt" and upload_ok["root"] == str(inbox) and upload_ok["bytes"] == 3
    assert upload_refused["token"] == "viewer" and upload_refused["result"].startswith("refused (403)")
    assert token not in audit.read_text() and server.token not in audit.read_text()


def test_concurrent_reads_are_independent(client: httpx.Client, server: RunningServer, roots: tuple[Path, Path]) -> None:
    docs, _ = roots
    blobs = {f"b{i}.bin": os.urandom(200_000 + i) for i in range(6)}
    for name, data in blobs.items():
        (docs / name).write_bytes(data)
    results: dict[str, bytes] = {}

    def fetch(name: str) -> None:
        with server.client() as c:
            results[name] = c.get("/api/file", params={"path": str(docs / name)}).content

    threads = [threading.Thread(target=fetch, args=(n,)) for n in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == blobs
