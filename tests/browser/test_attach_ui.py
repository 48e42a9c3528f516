"""Attachments in headless Chromium against a real tmuxweb with an attach
directory: an image pasted from the clipboard (a real paste event carrying
a File) and a picked file (set_input_files) land in the directory with
their bytes and mode 0600, and their paths are typed into the pane."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import RunningServer, TmuxServer, wait_until
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201b1b1a3a60000000049454e44ae426082"
)


@pytest.fixture
def attach_dir(tmp_path: Path) -> Path:
    return (tmp_path / "attachments").resolve()


@pytest.fixture
def tmuxweb_server(make_server: Callable[..., RunningServer], attach_dir: Path) -> RunningServer:
    """Overrides the shared fixture (and so `new_page`'s server): with an attach directory."""
    return make_server(attach_dir=attach_dir)


def open_page(new_page: Any, server: RunningServer, token: str | None = None, **options: Any) -> Any:
    page = new_page(**options)
    page.goto(f"{server.base_url}/#token={token or server.token}")
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null")
    return page


def pane_text(tmux: TmuxServer) -> str:
    """The pane with wrapped lines joined (long paths wrap)."""
    return tmux.run("capture-pane", "-p", "-J", "-t", "%0")


def landed(attach_dir: Path, name: str, data: bytes, tmux: TmuxServer) -> None:
    wait_until(lambda: (attach_dir / name).exists(), what=f"{name} stored")
    path = attach_dir / name
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(attach_dir.stat().st_mode) == 0o700
    wait_until(lambda: str(path) in pane_text(tmux), what="path typed into the pane")


PASTE = """([name, bytes]) => {
  const file = new File([new Uint8Array(bytes)], name, { type: "image/png" });
  const data = new DataTransfer();
  data.items.add(file);
  const target = document.activeElement || document.body;
  target.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def test_pasted_image_is_attached_and_its_path_typed(
    new_page: Any, tmuxweb_server: RunningServer, tmux_server: TmuxServer, attach_dir: Path, screenshot: Any
) -> None:
    tmux_server.wait_for_prompt()
    page = open_page(new_page, tmuxweb_server)
    page.wait_for_selector("#attach-button:not([hidden])")
    page.evaluate(PASTE, ["image.png", list(PNG)])
    landed(attach_dir, "image.png", PNG, tmux_server)
    picked = attach_dir.parent / "picked.bin"
    picked.write_bytes(b"picked")
    page.set_input_files("#attach-input", str(picked))  # the desktop picker
    landed(attach_dir, "picked.bin", b"picked", tmux_server)
    page.evaluate(PASTE, ["image.png", list(PNG)])  # a second screenshot: a new name
    landed(attach_dir, "image-2.png", PNG, tmux_server)
    screenshot(page, "attach-pasted")


def test_picked_file_on_a_phone_is_attached_and_its_path_typed(
    new_page: Any, tmuxweb_server: RunningServer, tmux_server: TmuxServer, attach_dir: Path, tmp_path: Path, devices: dict[str, Any], screenshot: Any
) -> None:
    tmux_server.wait_for_prompt()
    page = open_page(new_page, tmuxweb_server, **devices["Pixel 7"])
    page.wait_for_selector("#attach-button:not([hidden])")
    local = tmp_path / "my photo (1).jpg"
    local.write_bytes(bytes(range(256)) * 8)
    if page.is_visible("#overview-close"):  # a phone opens on the overview
        page.click("#overview-close")
    with page.expect_file_chooser() as chooser:
        page.tap("#attach-button")
    chooser.value.set_files(str(local))
    landed(attach_dir, "my photo (1).jpg", local.read_bytes(), tmux_server)
    assert f"'{attach_dir}/my photo (1).jpg'" in pane_text(tmux_server)  # quoted: it has spaces
    screenshot(page, "attach-picked-phone")


def test_read_token_has_no_attach_button(new_page: Any, tmuxweb_server: RunningServer, attach_dir: Path) -> None:
    secret = new_secret()
    assert tmuxweb_server.config.tokens_file is not None
    TokenStore(tmuxweb_server.config.tokens_file).create("viewer", "read", None, secret)
    page = open_page(new_page, tmuxweb_server, token=secret)
    page.wait_for_function("() => performance.getEntriesByType('resource').some((e) => e.name.includes('/api/attach'))")
    assert page.is_hidden("#attach-button")
    assert not attach_dir.exists() or os.listdir(attach_dir) == []
