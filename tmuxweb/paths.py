"""Pure checks for the file endpoints: no I/O, so every rule is unit-tested.

A requested path is an absolute path string from a query parameter. It is
refused before anything touches the file system when it is malformed (not
absolute, NUL, backslash, control characters, `..`, percent- or
double-encoded traversal, overlong), then matched to a root by path
*components* (so `/srv/root2` is not inside `/srv/root`), then checked for
hidden components. What remains is a root and the names below it; files.py
walks them with no-follow opens relative to the root.

Also here: the names an upload may create, the media type and
`Content-Disposition` of a served file, and `Range` header parsing.
"""

from __future__ import annotations

import mimetypes
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

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


# -- how a file is served ---------------------------------------------------------

# Rendered by a browser as a document that can run script or load things:
# never inline (and every file response is also sandboxed by CSP).
_ACTIVE = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/ecmascript",
        "application/ecmascript",
        "text/css",
        "text/vtt",
        "text/x-component",
        "application/pdf",
        "application/rss+xml",
        "application/atom+xml",
        "application/mathml+xml",
    }
)
_INLINE_IMAGES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon"}
)
# Compressed files are served as what they are, never as their content's type.
_ENCODINGS = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz", "compress": "application/x-compress"}
_TEXT_SUFFIXES = frozenset({".log", ".out", ".err", ".rst", ".toml", ".ini", ".cfg", ".conf", ".yaml", ".yml", ".diff", ".patch", ".rs", ".go", ".ts", ".tsx", ".jsx"})
_MIME = mimetypes.MimeTypes()  # the built-in table only: the same on every machine
_MIME.add_type("text/markdown", ".md", strict=False)
_MIME.add_type("text/markdown", ".markdown", strict=False)


@dataclass(frozen=True, slots=True)
class MediaType:
    content_type: str
    inline: bool


def media_type(name: str) -> MediaType:
    """The Content-Type of a file by its name, and whether it may be shown
    inline: only plain text and raster images; HTML, SVG, XML, scripts and
    anything unknown are attachments."""
    guessed, encoding = _MIME.guess_type(name, strict=False)
    if encoding is not None:
        return MediaType(_ENCODINGS.get(encoding, "application/octet-stream"), False)
    if guessed is None and Path(name).suffix.lower() in _TEXT_SUFFIXES:
        guessed = "text/plain"
    if guessed is None:
        return MediaType("application/octet-stream", False)
    if guessed in _ACTIVE:
        return MediaType(guessed, False)
    if guessed.startswith("text/"):
        return MediaType(f"{guessed}; charset=utf-8", True)
    return MediaType(guessed, guessed in _INLINE_IMAGES or guessed == "application/json")


def content_disposition(name: str, inline: bool) -> str:
    """RFC 6266: an ASCII `filename` fallback with anything that could end or
    bend the header replaced, and the exact name in RFC 8187 `filename*`."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%;' else "_" for c in name) or "file"
    exact = quote(name.encode("utf-8", "replace"), safe="!#$&+-.^_`|~")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


# -- Range ---------------------------------------------------------------------------


class UnsatisfiableRange(Exception):
    """A well-formed Range that selects nothing of a file this size."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One `bytes=` range of a file of `size` bytes → (first, last)
    inclusive; None to send the whole file (no header, or one this server
    ignores as RFC 9110 allows: malformed or several ranges)."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not _digits(first_text, empty=True) or not _digits(last_text, empty=True):
        return None
    if not first_text:  # suffix: the last N bytes
        if not last_text:
            return None
        count = int(last_text)
        if count == 0 or size == 0:
            raise UnsatisfiableRange
        return max(0, size - count), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        raise UnsatisfiableRange
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


def _digits(text: str, empty: bool) -> bool:
    if not text:
        return empty
    return len(text) <= 19 and text.isascii() and text.isdigit()
