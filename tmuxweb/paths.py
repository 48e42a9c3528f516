"""Pure checks for the file endpoints: no I/O, so every rule is unit-tested.

A requested path is an absolute path string from a query parameter. It is
refused before anything touches the file system when it is malformed (not
absolute, NUL, backslash, control characters, `..`, percent- or
double-encoded traversal, overlong), then matched to a root by path
*components* (so `/srv/root2` is not inside `/srv/root`), then checked for
hidden components. What remains is a root and the names below it; files.py
walks them with no-follow opens relative to the root.

Also here: the names an upload may create. How a file goes out over HTTP
(media type, Content-Disposition, Range) is fileheaders.py's.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from tmuxweb.errors import BadRequest, Forbidden, NotFound

# Linux PATH_MAX and NAME_MAX, in bytes of UTF-8.
MAX_PATH = 4096
MAX_NAME = 255
# How many times a component is percent-decoded looking for hidden
# traversal: %2e, %252e, %25252e, ...
_DECODE_ROUNDS = 4
# Our temporary upload files: never a name a client may create.
UPLOAD_PREFIX = ".tmuxweb-upload-"
# Refused in upload names: control and format characters (bidi overrides
# make `gpj.exe` read as `exe.jpg`), surrogates, private use, line breaks.
_BAD_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class Root:
    """One --file-root: a resolved directory, writable or not."""

    path: Path
    writable: bool

    @property
    def parts(self) -> tuple[str, ...]:
        return self.path.parts[1:]


@dataclass(frozen=True, slots=True)
class Target:
    """A requested path matched to its root: the names below the root."""

    root: Root
    parts: tuple[str, ...]

    @property
    def relative(self) -> str:
        """The path relative to its root, as the audit log records it."""
        return "/".join(self.parts) or "."

    @property
    def absolute(self) -> str:
        return "/" + "/".join(self.root.parts + self.parts)


def roots_of(config_roots: tuple[tuple[Path, bool], ...]) -> tuple[Root, ...]:
    return tuple(Root(path, writable) for path, writable in config_roots)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def split_path(raw: str) -> tuple[str, ...]:
    """The components of a requested absolute path; BadRequest when it is
    malformed. `.` and empty components are dropped; `..` is refused, not
    resolved, so nothing can climb out whatever a symlink does."""
    if _utf8_len(raw) > MAX_PATH:
        raise BadRequest(f"the path is longer than {MAX_PATH} bytes")
    if "\x00" in raw:
        raise BadRequest("the path contains a NUL byte")
    if "\\" in raw:
        raise BadRequest("the path contains a backslash")
    if _has_control(raw):
        raise BadRequest("the path contains a control character")
    if not raw.startswith("/"):
        raise BadRequest("the path must be absolute")
    parts = tuple(p for p in raw.split("/") if p not in ("", "."))
    for part in parts:
        if part == "..":
            raise BadRequest("the path contains '..'")
        if _utf8_len(part) > MAX_NAME:
            raise BadRequest(f"a path component is longer than {MAX_NAME} bytes")
        _refuse_encoded_traversal(part)
    return parts


def _refuse_encoded_traversal(part: str) -> None:
    """A component that percent-decodes (once or more) to `.`, `..` or to
    something holding a separator is an attempt to smuggle traversal past a
    decoder somewhere; refuse it rather than treat it as a literal name."""
    decoded = part
    for _ in range(_DECODE_ROUNDS):
        again = unquote(decoded, errors="replace")
        if again == decoded:
            return
        decoded = again
        if decoded in (".", "..") or any(c in decoded for c in "/\\\x00"):
            raise BadRequest("the path contains encoded traversal")


def is_hidden(name: str) -> bool:
    return name.startswith(".") and name not in (".", "..")


def locate(raw: str, roots: tuple[Root, ...], show_hidden: bool) -> Target:
    """Match a requested path to the root that holds it (the deepest one,
    when roots nest), compared by components. Nothing is touched on disk:
    a path outside every root is refused without learning whether it
    exists."""
    parts = split_path(raw)
    best: Root | None = None
    for root in roots:
        n = len(root.parts)
        if parts[:n] == root.parts and (best is None or n > len(best.parts)):
            best = root
    if best is None:
        raise NotFound("no such file or directory in the file roots")
    below = parts[len(best.parts) :]
    if not show_hidden and any(is_hidden(p) for p in below):
        raise Forbidden("hidden files are not served (see --file-show-hidden)")
    return Target(best, below)


def within_root(link_target: str, root: Root) -> tuple[str, ...] | None:
    """An absolute symlink target's components below `root`, or None when
    the target is not lexically inside it."""
    parts = tuple(p for p in link_target.split("/") if p not in ("", "."))
    n = len(root.parts)
    return parts[n:] if parts[:n] == root.parts else None


def check_new_name(name: str, show_hidden: bool) -> str:
    """A name an upload may create (the component already passed
    split_path): no control, format or line-break characters, no leading
    `-` (it reads as an option to the next `rm *`), no surrounding white
    space, no dotfile unless hidden files are shown, never our temp names."""
    if name in ("", ".", ".."):
        raise BadRequest("the upload needs a file name")
    if any(unicodedata.category(c) in _BAD_NAME_CATEGORIES for c in name):
        raise BadRequest("the file name contains a control or formatting character")
    if name.startswith("-"):
        raise BadRequest("the file name may not start with '-'")
    if name != name.strip():
        raise BadRequest("the file name may not start or end with white space")
    if name.startswith(UPLOAD_PREFIX):
        raise BadRequest("the file name is reserved")
    if is_hidden(name) and not show_hidden:
        raise Forbidden("hidden files are not served (see --file-show-hidden)")
    return name


# Attachments (attach.py): the longest name made, in bytes of UTF-8, so a
# `-2` suffix still fits and the path typed into a pane stays readable.
ATTACH_NAME_MAX = 120
_ATTACH_EXT_MAX = 16


def _fit(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, never mid-character."""
    while _utf8_len(text) > limit:
        text = text[:-1]
    return text


def clean_attach_name(raw: str) -> str:
    """The name an attachment is stored under, made from whatever name the
    browser sent (a phone sends `image.png` for every screenshot; a crafted
    request anything): its last path component, without control, format or
    line-break characters, without leading dots, dashes or white space,
    cut to ATTACH_NAME_MAX bytes keeping the extension. Never empty."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if unicodedata.category(c) in _BAD_NAME_CATEGORIES else c for c in name)
    name = name.strip().lstrip(".-_ ").strip()
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or _utf8_len(ext) > _ATTACH_EXT_MAX or not ext.isalnum():
        stem, ext = name, ""
    stem = _fit(stem.rstrip(". "), ATTACH_NAME_MAX - _utf8_len(ext) - 1).rstrip(". ") or "attachment"
    # No leading dot, so never one of our temporary names either.
    return f"{stem}.{ext}" if ext else stem


def numbered(name: str, n: int) -> str:
    """The n-th alternative to a taken name: `shot.png` → `shot-2.png`."""
    if n < 2:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{n}.{ext}" if dot and stem else f"{name}-{n}"
