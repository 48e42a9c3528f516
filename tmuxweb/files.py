"""File and directory endpoints behind path restrictions.

Every route answers 404, like an unknown route, unless the server has at
least one --file-root:

    GET /api/files             the roots
    GET /api/directory?path=   one directory, sorted, paginated
    GET /api/file?path=        one regular file (Range, size cap)
    PUT /api/file?path=        upload into a writable root

A requested path is first checked as a string (paths.py: malformed,
outside every root, hidden). Then it is walked from a descriptor of its
root: each component is examined with `fstatat(AT_SYMLINK_NOFOLLOW)` and
opened with `O_NOFOLLOW` relative to its parent's descriptor, and symbolic
links are read (`readlinkat`) and resolved here, component by component,
refused the moment they would leave the root. The check and the open are
one operation, so nothing outside a root is ever opened whatever is renamed
or swapped meanwhile. All file system work runs in worker threads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from tmuxweb.config import Config
from tmuxweb.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    TmuxWebError,
)
from tmuxweb.fileheaders import (
    UnsatisfiableRange,
    content_disposition,
    media_type,
    parse_range,
)
from tmuxweb.paths import (
    UPLOAD_PREFIX,
    Root,
    Target,
    check_new_name,
    is_hidden,
    locate,
    roots_of,
    split_path,
    within_root,
)
from tmuxweb.services import principal, services

MAX_SYMLINKS = 40
# A directory listing reads at most this many names (sorted, then paged).
MAX_ENTRIES = 100_000
DEFAULT_PAGE = 500
MAX_PAGE = 5000
CHUNK = 256 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO that was swapped in never blocks; O_NOCTTY: a
# terminal never becomes ours. Neither matters for the regular files that
# are served, and anything else is refused after fstat.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_LEAVES_ROOT = "a symbolic link leads outside the file root"
_HIDDEN = "hidden files are not served (see --file-show-hidden)"
# Served files never run as a document, should a browser ever render one.
_FILE_CSP = "default-src 'none'; sandbox"

T = TypeVar("T")


# -- walking below a root ------------------------------------------------------------


@dataclass
class Place:
    """Where a walk ended: an open directory and an entry in it (None: the
    directory itself), with the entry's lstat."""

    dir_fd: int
    name: str | None
    st: os.stat_result | None


def _fs_error(err: OSError) -> TmuxWebError:
    """An OSError as a client error; never str(err), which holds the path."""
    if isinstance(err, (FileNotFoundError, NotADirectoryError)):
        return NotFound("no such file or directory in the file roots")
    if isinstance(err, PermissionError):
        return Forbidden("permission denied")
    if err.errno == errno.ELOOP:  # a component became a symlink after it was examined
        return Forbidden("the path changed while it was being opened")
    return Forbidden("the file cannot be opened")


def walk(target: Target, show_hidden: bool) -> Place:
    """Resolve `target` below its root without ever following a link in the
    kernel. `..` only comes from link targets; it drops the last directory
    name and walks down again from the root, so it can never climb above
    it. Two descriptors at most are open (the root and the current
    directory), however deep the path."""
    try:
        root_fd = os.open(target.root.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise NotFound("the file root is not available") from err
    current = -1
    below: list[str] = []  # the directories from the root down to `current`
    pending = list(target.parts)
    links = 0
    try:
        current = os.dup(root_fd)
        while pending:
            name = pending.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if not below:
                    raise Forbidden(_LEAVES_ROOT)
                below.pop()
                os.close(current)
                current = -1
                current = _descend(root_fd, below)
                continue
            if is_hidden(name) and not show_hidden:
                raise Forbidden(_HIDDEN)
            st = os.stat(name, dir_fd=current, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise Forbidden("too many levels of symbolic links")
                link = os.readlink(name, dir_fd=current)
                if link.startswith("/"):
                    # An absolute target must lie lexically inside the same
                    # root; the walk goes on from the root.
                    inside = within_root(link, target.root)
                    if inside is None:
                        raise Forbidden(_LEAVES_ROOT)
                    os.close(current)
                    current = -1
                    current = os.dup(root_fd)
                    below = []
                    pending[:0] = inside
                else:
                    pending[:0] = link.split("/")
                continue
            if not pending:
                place, current = Place(current, name, st), -1
                return place
            if not stat.S_ISDIR(st.st_mode):
                raise NotFound("no such file or directory in the file roots")
            child = os.open(name, _DIR_FLAGS, dir_fd=current)
            os.close(current)
            current = child
            below.append(name)
        place, current = Place(current, None, None), -1
        return place
    except OSError as err:
        raise _fs_error(err) from None
    finally:
        if current >= 0:
            os.close(current)
        os.close(root_fd)


def _descend(root_fd: int, names: list[str]) -> int:
    """The directory at `names` below the root, opened one no-follow step at a time."""
    fd = os.dup(root_fd)
    for name in names:
        try:
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


def _open_dir(place: Place) -> int:
    """The directory a walk ended on, as a descriptor (consumes `place`)."""
    try:
        if place.name is None:
            return os.dup(place.dir_fd)
        assert place.st is not None
        if not stat.S_ISDIR(place.st.st_mode):
            raise NotFound("not a directory")
        return os.open(place.name, _DIR_FLAGS, dir_fd=place.dir_fd)
    except OSError as err:
        raise _fs_error(err) from None
    finally:
        os.close(place.dir_fd)


def open_directory(target: Target, show_hidden: bool) -> int:
    return _open_dir(walk(target, show_hidden))


def open_file(target: Target, show_hidden: bool) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file at `target`, and its fstat."""
    place = walk(target, show_hidden)
    try:
        if place.name is None or (place.st is not None and stat.S_ISDIR(place.st.st_mode)):
            raise BadRequest("that is a directory (list it with /api/directory)")
        assert place.st is not None
        if not stat.S_ISREG(place.st.st_mode):
            raise Forbidden("only regular files are served (not FIFOs, sockets or devices)")
        try:
            fd = os.open(place.name, _FILE_FLAGS, dir_fd=place.dir_fd)
        except OSError as err:
            raise _fs_error(err) from None
    finally:
        os.close(place.dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # swapped between the lstat and the open
        os.close(fd)
        raise Forbidden("only regular files are served (not FIFOs, sockets or devices)")
    return fd, st


# -- listing ------------------------------------------------------------------------


def _addressable(name: str) -> bool:
    """Only names a client can ask for again are listed (not undecodable
    bytes, control characters, backslashes, encoded traversal)."""
    try:
        name.encode("utf-8")
        split_path("/" + name)
    except (UnicodeEncodeError, BadRequest):
        return False
    return not name.startswith(UPLOAD_PREFIX)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _entry(dir_fd: int, name: str, target: Target, show_hidden: bool) -> dict[str, Any] | None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None  # gone since it was listed
    link = stat.S_ISLNK(st.st_mode)
    kind = _kind(st.st_mode)
    if link:
        # A link is described by what it leads to, when that is inside the
        # root and visible; otherwise it is a dead end for this API.
        kind = "symlink"
        try:
            place = walk(Target(target.root, target.parts + (name,)), show_hidden)
        except TmuxWebError:
            pass
        else:
            os.close(place.dir_fd)
            if place.st is not None:
                st, kind = place.st, _kind(place.st.st_mode)
            else:
                kind = "directory"
    size = st.st_size if kind == "file" else None
    return {"name": name, "type": kind, "size": size, "mtime": round(st.st_mtime, 3), "link": link}


def list_directory(target: Target, show_hidden: bool, offset: int, limit: int) -> dict[str, Any]:
    fd = open_directory(target, show_hidden)
    try:
        keys: list[tuple[bool, str, str]] = []
        truncated = False
        with os.scandir(fd) as entries:
            for entry in entries:
                if (is_hidden(entry.name) and not show_hidden) or not _addressable(entry.name):
                    continue
                if len(keys) >= MAX_ENTRIES:
                    truncated = True
                    break
                # Directories first, then by name; d_type, so no stat yet.
                keys.append((not entry.is_dir(follow_symlinks=False), entry.name.casefold(), entry.name))
        keys.sort()
        page = [_entry(fd, name, target, show_hidden) for _, _, name in keys[offset : offset + limit]]
    finally:
        os.close(fd)
    return {
        "path": target.absolute,
        "root": str(target.root.path),
        "writable": target.root.writable,
        "entries": [e for e in page if e is not None],
        "offset": offset,
        "limit": limit,
        "total": len(keys),
        "truncated": truncated,
    }


# -- request plumbing --------------------------------------------------------------


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    # Shielded: a cancelled request must still receive (and then close)
    # any descriptor the thread opened.
    with anyio.CancelScope(shield=True):
        result = await anyio.to_thread.run_sync(func, *args)
    return result


def _roots(config: Config) -> tuple[Root, ...]:
    """Deny by default: without roots these routes do not exist."""
    if not config.file_roots:
        raise HTTPException(404)
    return roots_of(config.file_roots)


def _params(request: Request, allowed: set[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise BadRequest(f"unknown query parameter: {key[:40]!r}")
        if key in params:
            raise BadRequest(f"query parameter {key!r} given twice")
        params[key] = value
    if "path" not in params:
        raise BadRequest("the query parameter 'path' is required")
    return params


def _number(params: dict[str, str], key: str, default: int, low: int, high: int) -> int:
    text = params.get(key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not low <= int(text) <= high:
        raise BadRequest(f"{key} must be a whole number from {low} to {high}")
    return int(text)


@contextlib.contextmanager
def _audited(request: Request, event: str) -> Iterator[dict[str, Any]]:
    """One audit-log line per file access, with its result, whatever happens."""
    client = request.client.host if request.client else "-"
    record: dict[str, Any] = {"token": principal(request).name, "client": client, "method": request.method}
    try:
        yield record
    except TmuxWebError as err:
        record["result"] = f"refused ({err.status}): {err.message}"
        raise
    except BaseException:
        record["result"] = "error"
        raise
    else:
        record.setdefault("result", "ok")
    finally:
        services(request).audit.write(event, **record)


def _target(params: dict[str, str], roots: tuple[Root, ...], config: Config, record: dict[str, Any]) -> Target:
    raw = params["path"]
    try:
        target = locate(raw, roots, config.file_show_hidden)
    except TmuxWebError:
        record["requested"] = raw[:512]
        raise
    record["root"] = str(target.root.path)
    record["path"] = target.relative
    return target


# -- routes --------------------------------------------------------------------------


async def get_roots(request: Request) -> Response:
    config = services(request).config
    roots = _roots(config)
    can_upload = not config.readonly and principal(request).can_write()
    return JSONResponse(
        {
            "roots": [{"path": str(r.path), "name": r.path.name or "/", "writable": r.writable} for r in roots],
            "max_size": config.file_max_size,
            "show_hidden": config.file_show_hidden,
            "upload": can_upload and any(r.writable for r in roots),
        }
    )


async def get_directory(request: Request) -> Response:
    config = services(request).config
    roots = _roots(config)
    with _audited(request, "file-list") as record:
        params = _params(request, {"path", "offset", "limit"})
        offset = _number(params, "offset", 0, 0, MAX_ENTRIES)
        limit = _number(params, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        target = _target(params, roots, config, record)
        listing = await _in_thread(list_directory, target, config.file_show_hidden, offset, limit)
        record["entries"] = len(listing["entries"])
    return JSONResponse(listing)


async def get_file(request: Request) -> Response:
    config = services(request).config
    roots = _roots(config)
    with _audited(request, "file-read") as record:
        target = _target(_params(request, {"path"}), roots, config, record)
        fd, st = await _in_thread(open_file, target, config.file_show_hidden)
        try:
            return _file_response(request, target, fd, st, config.file_max_size, record)
        except BaseException:
            os.close(fd)
            raise


def _file_response(
    request: Request, target: Target, fd: int, st: os.stat_result, cap: int, record: dict[str, Any]
) -> Response:
    size = st.st_size
    etag = f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
    modified = formatdate(st.st_mtime, usegmt=True)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range not in (etag, modified):
        wanted = None  # the file changed: send it whole (RFC 9110 If-Range)
    try:
        span = parse_range(wanted, size)
    except UnsatisfiableRange:
        raise RangeNotSatisfiable(size) from None
    first, last = span if span is not None else (0, size - 1)
    length = last - first + 1
    if length > cap:
        raise PayloadTooLarge(f"the file is {size} bytes, over the {cap}-byte limit; ask for a Range")
    media = media_type(target.parts[-1])
    headers = {
        "Content-Type": media.content_type,
        "Content-Length": str(length),
        "Content-Disposition": content_disposition(target.parts[-1], media.inline),
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": modified,
        "Content-Security-Policy": _FILE_CSP,
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        record["range"] = f"{first}-{last}"
    record["bytes"] = length
    return FileBody(fd, first, length, 206 if span is not None else 200, headers)


class FileBody(Response):
    """An open file sent in chunks read by a worker thread; the descriptor
    is closed when the response ends, the client leaves, or anything fails."""

    def __init__(self, fd: int, offset: int, length: int, status_code: int, headers: dict[str, str]) -> None:
        self.fd = fd
        self.offset = offset
        self.length = length
        super().__init__(status_code=status_code, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            async with anyio.create_task_group() as group:

                async def hang_up() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(hang_up)
                await self._send_body(send)
                group.cancel_scope.cancel()
        finally:
            os.close(self.fd)

    async def _send_body(self, send: Send) -> None:
        offset, remaining = self.offset, self.length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(os.pread, self.fd, min(CHUNK, remaining), offset)
            if not chunk:
                # Truncated while being sent: end the connection rather than
                # send fewer bytes than Content-Length promised.
                raise OSError("the file shrank while it was being sent")
            offset += len(chunk)
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if self.length == 0:
            await send({"type": "http.response.body", "body": b""})


# -- upload -------------------------------------------------------------------------


def _open_parent(target: Target, show_hidden: bool) -> int:
    return open_directory(Target(target.root, target.parts[:-1]), show_hidden)


def _check_existing(dir_fd: int, name: str, overwrite: bool) -> bool:
    """Whether `name` exists (and may be replaced)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if not overwrite:
        raise Conflict("a file of that name exists (overwrite=1 replaces it)")
    if not stat.S_ISREG(st.st_mode):
        raise Conflict("only a regular file can be replaced")
    return True


def _create(dir_fd: int, name: str, mode: int = 0o644) -> int:
    try:
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as err:
        raise _fs_error(err) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _finish(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(dir_fd: int, temp: str, name: str, overwrite: bool) -> None:
    """Move the complete upload into place atomically. Without overwrite a
    hard link, which fails if the name exists by then; with it rename(2),
    which replaces a name (even a symlink) and never writes through it."""
    try:
        if overwrite:
            os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return
        os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise Conflict("a file of that name exists (overwrite=1 replaces it)") from None
    except IsADirectoryError:
        raise Conflict("only a regular file can be replaced") from None
    os.unlink(temp, dir_fd=dir_fd)


async def put_file(request: Request) -> Response:
    config = services(request).config
    roots = _roots(config)
    with _audited(request, "file-upload") as record:
        params = _params(request, {"path", "overwrite"})
        overwrite = {"0": False, "1": True}.get(params.get("overwrite", "0"))
        if overwrite is None:
            raise BadRequest("overwrite must be 0 or 1")
        target = _target(params, roots, config, record)
        if config.readonly or not principal(request).can_write():
            raise Forbidden("read-only: uploads are refused")
        if not target.root.writable:
            raise Forbidden("this file root is read-only")
        if not target.parts:
            raise BadRequest("the path must name a file inside the root")
        name = check_new_name(target.parts[-1], config.file_show_hidden)
        dir_fd = await _in_thread(_open_parent, target, config.file_show_hidden)
        try:
            existed = await _in_thread(_check_existing, dir_fd, name, overwrite)
            size = await _receive_into(request, dir_fd, name, overwrite, config.file_max_size)
        finally:
            os.close(dir_fd)
        record["bytes"] = size
        record["replaced"] = existed
    return JSONResponse({"path": target.absolute, "size": size}, status_code=200 if existed else 201)


async def _receive_into(request: Request, dir_fd: int, name: str, overwrite: bool, cap: int) -> int:
    size, _ = await receive_upload(request, dir_fd, cap, 0o644, lambda temp: _place(dir_fd, temp, name, overwrite))
    return size


async def receive_upload(
    request: Request, dir_fd: int, cap: int, mode: int, place: Callable[[str], T]
) -> tuple[int, T]:
    """Stream the body into a temporary file in `dir_fd`, then `place(temp)`
    (in a worker thread) moves it to its name; the temporary file is removed
    on any failure (too large, too slow, client gone, name taken meanwhile).
    The one upload implementation: PUT /api/file and attach.py use it."""
    temp = f"{UPLOAD_PREFIX}{secrets.token_hex(8)}.part"
    fd: int | None = await _in_thread(_create, dir_fd, temp, mode)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise PayloadTooLarge(f"request body over {cap} bytes")
            assert fd is not None
            await _in_thread(_write_all, fd, chunk)
        assert fd is not None
        fd, closing = None, fd
        await _in_thread(_finish, closing)
        placed = await _in_thread(place, temp)
    except ClientDisconnect:
        _discard(fd, dir_fd, temp)
        raise BadRequest("the upload was interrupted") from None
    except BaseException:
        _discard(fd, dir_fd, temp)
        raise
    return size, placed


def _discard(fd: int | None, dir_fd: int, temp: str) -> None:
    if fd is not None:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(temp, dir_fd=dir_fd)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/files", get_roots, methods=["GET"]),
        Route("/api/directory", get_directory, methods=["GET"]),
        Route("/api/file", get_file, methods=["GET"]),
        Route("/api/file", put_file, methods=["PUT"]),
    ]
