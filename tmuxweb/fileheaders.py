"""The HTTP side of serving a file: its media type, `Content-Disposition`
and `Range` header parsing. Pure, no I/O, so every rule is unit-tested; the
file endpoints (files.py) use them. Path policy stays in paths.py.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

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
