"""The path rules, one by one: the pure string checks (paths.py), the
headers of a served file (fileheaders.py) and the
walk below a root (files.py) on real files in a temporary directory."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmuxweb.errors import BadRequest, Forbidden, NotFound
from tmuxweb.fileheaders import (
    UnsatisfiableRange,
    content_disposition,
    media_type,
    parse_range,
)
from tmuxweb.files import list_directory, open_directory, open_file, walk
from tmuxweb.paths import (
    MAX_NAME,
    MAX_PATH,
    Root,
    Target,
    check_new_name,
    locate,
    split_path,
)

# -- split_path: malformed requests --------------------------------------------


def test_plain_absolute_path_splits_into_components() -> None:
    assert split_path("/srv/root/a/b.txt") == ("srv", "root", "a", "b.txt")


def test_empty_and_dot_components_are_dropped() -> None:
    assert split_path("//srv/./root//a/") == ("srv", "root", "a")


@pytest.mark.parametrize("raw", ["/srv/root/../etc/passwd", "/..", "/srv/root/a/..", "/srv/root/../root/a"])
def test_dot_dot_anywhere_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match=r"'\.\.'"):
        split_path(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/srv/root/%2e%2e/etc",  # arrived still encoded: decoded once more would be ..
        "/srv/root/%2E%2E/etc",
        "/srv/root/%252e%252e/etc",  # double-encoded
        "/srv/root/%25252e%25252e/etc",  # triple
        "/srv/root/a%2f..%2f..%2fetc",  # encoded separator
        "/srv/root/a%5c..%5cetc",  # encoded backslash
        "/srv/root/a%00.txt",  # encoded NUL
        "/srv/root/%2e",
    ],
)
def test_percent_and_double_encoded_traversal_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match="encoded traversal"):
        split_path(raw)


def test_a_literal_percent_in_a_name_is_allowed() -> None:
    assert split_path("/srv/root/100%.txt") == ("srv", "root", "100%.txt")
    assert split_path("/srv/root/a%20b") == ("srv", "root", "a%20b")


def test_nul_byte_is_refused() -> None:
    with pytest.raises(BadRequest, match="NUL"):
        split_path("/srv/root/a\x00.txt")


@pytest.mark.parametrize("raw", ["/srv/root/..\\..\\etc\\passwd", "\\srv\\root", "/srv/root/a\\b"])
def test_backslash_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match="backslash"):
        split_path(raw)


@pytest.mark.parametrize("raw", ["/srv/root/a\nb", "/srv/root/\x1b[31m", "/srv/root/a\x7f"])
def test_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match="control"):
        split_path(raw)


@pytest.mark.parametrize("raw", ["srv/root/a", "a.txt", "", "./a", "~/a", "../etc"])
def test_relative_paths_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest):
        split_path(raw)


def test_overlong_name_is_refused() -> None:
    assert split_path("/r/" + "a" * MAX_NAME) == ("r", "a" * MAX_NAME)
    with pytest.raises(BadRequest, match="component is longer"):
        split_path("/r/" + "a" * (MAX_NAME + 1))
    # Bytes, not characters: 128 two-byte characters are 256 bytes.
    with pytest.raises(BadRequest, match="component is longer"):
        split_path("/r/" + "é" * 128)


def test_overlong_path_is_refused() -> None:
    with pytest.raises(BadRequest, match="path is longer"):
        split_path("/r" + "/abcdefg" * (MAX_PATH // 8 + 1))


# -- locate: roots compared by components ----------------------------------------

ROOTS = (Root(Path("/srv/root"), False), Root(Path("/srv/root/up"), True))


def test_path_inside_a_root_is_located() -> None:
    target = locate("/srv/root/logs/a.log", ROOTS, False)
    assert target.root.path == Path("/srv/root")
    assert target.parts == ("logs", "a.log")
    assert target.relative == "logs/a.log"
    assert target.absolute == "/srv/root/logs/a.log"


def test_the_root_itself_is_located() -> None:
    target = locate("/srv/root/", ROOTS, False)
    assert target.parts == ()
    assert target.relative == "."


def test_nested_roots_pick_the_deepest() -> None:
    target = locate("/srv/root/up/x", ROOTS, False)
    assert target.root.writable and target.parts == ("x",)


@pytest.mark.parametrize("raw", ["/srv/root2/a", "/srv/roo", "/srv/rootx/a", "/srv", "/", "/etc/passwd", "/srv/other/root/a"])
def test_sibling_prefix_and_absolute_paths_outside_are_not_found(raw: str) -> None:
    with pytest.raises(NotFound) as caught:
        locate(raw, ROOTS, False)
    assert "/" not in caught.value.message  # no path in the error


@pytest.mark.parametrize("raw", ["/srv/root/.ssh/id_rsa", "/srv/root/.env", "/srv/root/a/.git/config"])
def test_hidden_components_are_refused_unless_shown(raw: str) -> None:
    with pytest.raises(Forbidden, match="hidden"):
        locate(raw, ROOTS, False)
    assert locate(raw, ROOTS, True).parts[0] in (".ssh", ".env", "a")


def test_hidden_directories_above_the_root_do_not_count() -> None:
    roots = (Root(Path("/home/u/.local/share/logs"), False),)
    assert locate("/home/u/.local/share/logs/a.log", roots, False).parts == ("a.log",)


def test_fullwidth_dots_are_just_a_name() -> None:
    target = locate("/srv/root/\uff0e\uff0e/etc", ROOTS, False)
    assert target.parts == ("\uff0e\uff0e", "etc")


# -- upload names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["report.txt", "été 2024.md", "a b.log", "x-y_z.tar.gz"])
def test_ordinary_upload_names_pass(name: str) -> None:
    assert check_new_name(name, False) == name


@pytest.mark.parametrize(
    "name",
    [
        "a\u202etxt.exe",  # right-to-left override
        "a\u200bb",  # zero-width space
        "a\u2028b",  # line separator
        "-rf",
        " leading",
        "trailing ",
        ".tmuxweb-upload-1234.part",
        "",
    ],
)
def test_bad_upload_names_are_refused(name: str) -> None:
    with pytest.raises(BadRequest):
        check_new_name(name, True)


def test_dotfile_upload_needs_show_hidden() -> None:
    with pytest.raises(Forbidden):
        check_new_name(".bashrc", False)
    assert check_new_name(".bashrc", True) == ".bashrc"


# -- how files are served ---------------------------------------------------------


@pytest.mark.parametrize("name", ["a.html", "a.htm", "a.svg", "a.xhtml", "a.xml", "a.js", "a.pdf", "a.css"])
def test_active_content_is_never_inline(name: str) -> None:
    media = media_type(name)
    assert not media.inline


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.log", "text/plain; charset=utf-8"),
        ("README.md", "text/markdown; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
    ],
)
def test_passive_content_is_inline(name: str, expected: str) -> None:
    assert media_type(name).content_type == expected
    assert media_type(name).inline


def test_compressed_and_unknown_files_are_downloads() -> None:
    assert media_type("a.log.gz").content_type == "application/gzip"
    assert media_type("a.html.gz").content_type == "application/gzip"
    assert media_type("blob").content_type == "application/octet-stream"
    assert not media_type("a.log.gz").inline and not media_type("blob").inline


def test_content_disposition_has_an_ascii_fallback_and_the_exact_name() -> None:
    header = content_disposition("rapport été.txt", True)
    assert header == "inline; filename=\"rapport _t_.txt\"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9.txt"


@pytest.mark.parametrize("name", ['a"; filename="evil.html', "a\r\nSet-Cookie: x=1", "a\\b;c%d", "\x00"])
def test_content_disposition_cannot_be_bent(name: str) -> None:
    header = content_disposition(name, False)
    assert header.startswith("attachment; filename=\"")
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert not set(fallback) & set('"\\;%')
    exact = header.split("filename*=UTF-8''", 1)[1]
    assert not set(exact) & set(" \";\\\r\n'")


# -- Range ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        (" bytes = 5 - 9 ", (5, 9)),
        ("bytes=0-1,5-9", None),  # several ranges: ignored
        ("items=0-9", None),
        ("bytes=9-5", None),
        ("bytes=a-b", None),
        ("bytes=-", None),
        ("bytes=0x10-", None),
        ("bytes=" + "9" * 30 + "-", None),
    ],
)
def test_range_parsing(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header, size", [("bytes=1000-", 1000), ("bytes=5000-6000", 1000), ("bytes=-0", 1000), ("bytes=0-", 0), ("bytes=-5", 0)])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(UnsatisfiableRange):
        parse_range(header, size)


# -- the walk below a root, on real files --------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Root, Path]]:
    """root/ with files, a subdirectory, links inside and out; outside/ with a secret."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "sub" / "deep").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("TOPSECRET")
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.txt").write_text("beta")
    (root / "sub" / "deep" / "c.txt").write_text("gamma")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "h.txt").write_text("hidden")
    (root / "link-in").symlink_to("sub/b.txt")
    (root / "link-abs-in").symlink_to(root / "sub" / "deep" / "c.txt")
    (root / "link-dir").symlink_to("sub/deep")
    (root / "sub" / "up").symlink_to("../a.txt")
    (root / "link-out").symlink_to(outside / "secret.txt")
    (root / "link-out-rel").symlink_to("../outside/secret.txt")
    (root / "link-out-dir").symlink_to(outside)
    (root / "sub" / "climb").symlink_to("../../outside/secret.txt")
    (root / "link-hidden").symlink_to(".hidden/h.txt")
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "dangling").symlink_to("nothing-here")
    yield Root(root.resolve(), False), outside


def read(root: Root, *parts: str, show_hidden: bool = False) -> str:
    fd, _ = open_file(Target(root, parts), show_hidden)
    try:
        return os.read(fd, 1000).decode()
    finally:
        os.close(fd)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_regular_files_and_links_inside_the_root_open(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    assert read(root, "a.txt") == "alpha"
    assert read(root, "sub", "deep", "c.txt") == "gamma"
    assert read(root, "link-in") == "beta"
    assert read(root, "link-abs-in") == "gamma"
    assert read(root, "link-dir", "c.txt") == "gamma"
    assert read(root, "sub", "up") == "alpha"


@pytest.mark.parametrize(
    "parts", [("link-out",), ("link-out-rel",), ("link-out-dir", "secret.txt"), ("sub", "climb")]
)
def test_symlinks_pointing_outside_are_refused(tree: tuple[Root, Path], parts: tuple[str, ...]) -> None:
    root, outside = tree
    with pytest.raises(Forbidden, match="outside the file root") as caught:
        read(root, *parts)
    assert str(outside) not in caught.value.message


def test_symlink_to_a_hidden_file_is_refused(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    with pytest.raises(Forbidden, match="hidden"):
        read(root, "link-hidden")
    assert read(root, "link-hidden", show_hidden=True) == "hidden"


def test_symlink_loops_end(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    with pytest.raises(Forbidden, match="too many levels"):
        read(root, "loop1")


def test_missing_and_dangling_are_not_found(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    for parts in [("nope.txt",), ("dangling",), ("a.txt", "x"), ("nope", "x")]:
        with pytest.raises(NotFound):
            read(root, *parts)


def test_a_directory_is_not_a_file(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    with pytest.raises(BadRequest, match="directory"):
        read(root, "sub")
    with pytest.raises(BadRequest, match="directory"):
        read(root)


def test_fifo_socket_and_device_are_refused_without_opening(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    os.mkfifo(root.path / "fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root.path / "sock"))
    try:
        # A FIFO opened for reading would block forever without a writer:
        # the walk refuses it from its lstat, and this returns at once.
        for name in ("fifo", "sock"):
            with pytest.raises(Forbidden, match="regular files"):
                read(root, name)
        if os.geteuid() == 0:
            os.mknod(root.path / "null", 0o600 | 0o020000, os.makedev(1, 3))
            with pytest.raises(Forbidden, match="regular files"):
                read(root, "null")
    finally:
        server.close()


def test_the_walk_leaks_no_descriptors(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    before = open_fds()
    for parts in [("a.txt",), ("link-dir", "c.txt"), ("link-out",), ("loop1",), ("nope",), ("sub",)]:
        try:
            read(root, *parts)
        except (Forbidden, NotFound, BadRequest):
            pass
    os.close(open_directory(Target(root, ("sub",)), False))
    assert open_fds() == before


def test_a_vanished_root_is_not_found(tmp_path: Path) -> None:
    root = Root(tmp_path / "gone", False)
    with pytest.raises(NotFound):
        walk(Target(root, ("a",)), False)


def test_swapping_a_directory_for_an_outside_link_never_leaks(tree: tuple[Root, Path]) -> None:
    """The check-then-open race: a thread keeps replacing `sub` (atomically)
    between a link to a directory inside and a link to the outside
    directory, each holding `secret.txt`; no open ever reads the outside."""
    root, outside = tree
    (root.path / "inside").mkdir()
    (root.path / "inside" / "secret.txt").write_text("harmless")
    (root.path / "swap").symlink_to("inside")
    stop = threading.Event()

    def swapper() -> None:
        targets = [str(outside), "inside"]
        i = 0
        while not stop.is_set():
            tmp = root.path / f"tmp-{i}"
            tmp.symlink_to(targets[i % 2])
            os.replace(tmp, root.path / "swap")
            i += 1

    thread = threading.Thread(target=swapper)
    thread.start()
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    try:
        # Until both sides of the swap were met (and at least 2000 tries).
        for tries in itertools.count():
            if (tries >= 2000 and len(seen) >= 2) or time.monotonic() > deadline:
                break
            try:
                seen.add(read(root, "swap", "secret.txt"))
            except (Forbidden, NotFound):
                seen.add("refused")
    finally:
        stop.set()
        thread.join()
    assert "TOPSECRET" not in seen
    assert seen == {"harmless", "refused"}


# -- listing ---------------------------------------------------------------------------


def test_listing_is_sorted_directories_first_and_hides_dotfiles(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    listing = list_directory(Target(root, ()), False, 0, 100)
    names = [e["name"] for e in listing["entries"]]
    assert names[0] == "sub"
    assert ".hidden" not in names
    assert names[1:] == sorted(names[1:], key=str.casefold)
    by_name = {e["name"]: e for e in listing["entries"]}
    assert by_name["a.txt"] == {"name": "a.txt", "type": "file", "size": 5, "mtime": by_name["a.txt"]["mtime"], "link": False}
    assert by_name["link-dir"]["type"] == "directory" and by_name["link-dir"]["link"]
    assert by_name["link-in"]["type"] == "file" and by_name["link-in"]["size"] == 4
    for name in ("link-out", "link-out-dir", "loop1", "dangling", "link-hidden"):
        assert by_name[name]["type"] == "symlink" and by_name[name]["size"] is None
    assert listing["path"] == str(root.path)
    assert listing["total"] == len(names)


def test_listing_pages(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    whole = [e["name"] for e in list_directory(Target(root, ()), True, 0, 1000)["entries"]]
    pages = []
    for offset in range(0, len(whole), 3):
        pages += [e["name"] for e in list_directory(Target(root, ()), True, offset, 3)["entries"]]
    assert pages == whole
    assert ".hidden" in whole


def test_listing_leaves_out_names_the_api_cannot_address(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    for name in [b"ok.txt", b"bad\xff.txt", b"new\nline", b"back\\slash", b"%2e%2e"]:
        with open(os.path.join(bytes(root), name), "w"):
            pass
    listing = list_directory(Target(Root(root, False), ()), False, 0, 100)
    assert [e["name"] for e in listing["entries"]] == ["ok.txt"]


def test_listing_a_file_or_an_outside_link_is_refused(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    with pytest.raises(NotFound):
        list_directory(Target(root, ("a.txt",)), False, 0, 10)
    with pytest.raises(Forbidden):
        list_directory(Target(root, ("link-out-dir",)), False, 0, 10)


def test_links_climbing_several_levels_inside_the_root_work(tree: tuple[Root, Path]) -> None:
    root, _ = tree
    (root.path / "sub" / "deep" / "top").symlink_to("../../a.txt")
    (root.path / "sub" / "deep" / "via").symlink_to("../../link-dir/../deep/c.txt")
    assert read(root, "sub", "deep", "top") == "alpha"
    assert read(root, "sub", "deep", "via") == "gamma"


def test_a_deep_path_holds_two_descriptors_not_one_per_level(tmp_path: Path) -> None:
    """With 40 descriptors allowed, a file 300 directories down (reached
    through a link that climbs 150 of them back) still opens."""
    root = tmp_path / "r"
    deep = root.joinpath(*["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("bottom")
    (deep / "climb").symlink_to("/".join([".."] * 150) + "/" + "/".join(["d"] * 150) + "/f.txt")
    script = (
        "import resource, os, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))\n"
        "from pathlib import Path\n"
        "from tmuxweb.files import open_file\n"
        "from tmuxweb.paths import Root, Target\n"
        "root = Root(Path(sys.argv[1]), False)\n"
        "for name in ('f.txt', 'climb'):\n"
        "    fd, _ = open_file(Target(root, ('d',) * 300 + (name,)), False)\n"
        "    print(os.read(fd, 100).decode()); os.close(fd)\n"
    )
    checkout = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script, str(root.resolve())], capture_output=True, text=True, timeout=60, cwd=checkout
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["bottom", "bottom"]
