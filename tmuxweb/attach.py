"""Attachments: a file or screenshot from the browser, stored in the one
directory given with --attach-dir, so its path can be typed into a pane
(how an agent is handed an image).

    GET /api/attach             {"max_size", "upload"}: on, and for this token?
    PUT /api/attach?name=NAME   the body is the file; 201 {"path", "quoted"}

The route answers 404 unless --attach-dir is set, and needs a write token
on a server that is not --readonly. The directory is created 0700 when
missing and opened with O_NOFOLLOW (a symlink swapped in for it is refused,
never followed). The name is only a hint: paths.clean_attach_name keeps
its last component, cleaned; a taken name gets `-2`, `-3`, ... because the
file is put in place with link(2), which never replaces anything, not even
a symlink planted under that name. Files are created 0600. The body is
received by files.receive_upload (the one upload implementation); its size
cap is --attach-max-size, enforced by the body-limit middleware too.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tmuxweb.errors import BadRequest, Conflict, Forbidden
from tmuxweb.files import _audited, _in_thread, receive_upload
from tmuxweb.paths import clean_attach_name, numbered
from tmuxweb.services import principal, services

PATH = "/api/attach"
# Alternatives tried for a taken name before giving up (409).
MAX_TRIES = 1000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_attach_dir(path: Path) -> int:
    """A descriptor of the attach directory, made 0700 if missing. Refused
    when it is a symlink, not a directory, or not ours."""
    try:
        os.makedirs(path, 0o700, exist_ok=True)
    except OSError as err:
        raise Forbidden(f"the attach directory cannot be created: {err.strerror}") from None
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Forbidden("the attach directory is not a directory (a symbolic link?)") from None
        raise Forbidden(f"the attach directory cannot be opened: {err.strerror}") from None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or not stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise Forbidden("the attach directory belongs to another user")
    return fd


def place_unique(dir_fd: int, temp: str, name: str) -> str:
    """Give the finished temporary file `name`, or the first free
    `name-N`; link(2) fails on any existing entry, so nothing is replaced."""
    for n in range(1, MAX_TRIES + 1):
        candidate = numbered(name, n)
        try:
            os.link(temp, candidate, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        except FileExistsError:
            continue
        os.unlink(temp, dir_fd=dir_fd)
        return candidate
    raise Conflict("too many attachments of that name")


async def get_attach(request: Request) -> Response:
    config = services(request).config
    if config.attach_dir is None:
        raise HTTPException(404)
    can = not config.readonly and principal(request).can_write()
    return JSONResponse({"max_size": config.attach_max_size, "upload": can})


async def put_attachment(request: Request) -> Response:
    config = services(request).config
    if config.attach_dir is None:
        raise HTTPException(404)  # disabled: like an unknown route
    with _audited(request, "attach") as record:
        params = dict(request.query_params.multi_items())
        if set(params) - {"name"} or len(request.query_params.multi_items()) != len(params):
            raise BadRequest("the only query parameter is 'name', once")
        if config.readonly or not principal(request).can_write():
            raise Forbidden("read-only: attachments are refused")
        name = clean_attach_name(params.get("name", ""))
        dir_fd = await _in_thread(open_attach_dir, config.attach_dir)
        try:
            size, stored = await receive_upload(
                request, dir_fd, config.attach_max_size, 0o600, lambda temp: place_unique(dir_fd, temp, name)
            )
        finally:
            os.close(dir_fd)
        path = str(config.attach_dir / stored)
        record["path"] = path
        record["bytes"] = size
    return JSONResponse({"path": path, "quoted": shlex.quote(path), "size": size}, status_code=201)


def routes() -> list[BaseRoute]:
    return [Route(PATH, get_attach, methods=["GET"]), Route(PATH, put_attachment, methods=["PUT"])]
