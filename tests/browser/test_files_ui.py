"""The file panel in headless Chromium against a real tmuxweb with file
roots: browsing, viewing text, Markdown and images safely, following a
log, uploads, and file paths in terminal output that open the viewer."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import RunningServer, TmuxServer
from tmuxweb.auth import new_secret
from tmuxweb.tokens import TokenStore

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201b1b1a3a60000000049454e44ae426082"
)
HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>.txt"
APP_PY = '''import os


def main():
    # say hello
    return "hello"
'''
HOSTILE_MD = """# Read me

Some *emphasis*, **strong**, `code <b>` and a [safe link](https://example.com/docs).

<script>window.__pwned = 1</script>
<img src=x onerror="window.__pwned = 1">

[js](javascript:window.__pwned=1) [JS](JaVaScRiPt:alert(1)) [data](data:text/html,<script>x</script>)
[vb](vbscript:msgbox) [tab](java\tscript:alert(1)) [proto](//evil.example/x)

See [the app](src/app.py) and ![a pixel](pixel.png) and ![remote](https://evil.example/track.png).

| col | val |
| --- | --: |
| a | <i>1</i> |

```html
<script>alert(1)</script>
```
"""


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = (tmp_path / "docs").resolve()
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(APP_PY)
    (root / "README.md").write_text(HOSTILE_MD)
    (root / "pixel.png").write_bytes(PNG)
    (root / "pic.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">'
        '<script>parent.__pwned = 1</script><rect width="20" height="20" fill="red"/></svg>'
    )
    (root / "page.html").write_text("<h1>Title</h1><script>window.__pwned = 1</script>")
    (root / HOSTILE_NAME).write_text("<script>window.__pwned = 1</script>")
    (root / "build.log").write_text("start\nWARNING: slow\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / ".secret").write_text("hidden")
    return root


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    root = (tmp_path / "inbox").resolve()
    root.mkdir()
    return root


@pytest.fixture
def file_roots(docs: Path, inbox: Path) -> tuple[tuple[Path, bool], ...]:
    return ((docs, False), (inbox, True))


@pytest.fixture
def tmuxweb_server(make_server: Callable[..., RunningServer], file_roots: tuple[tuple[Path, bool], ...]) -> RunningServer:
    """Overrides the shared fixture (and so `new_page`'s server): with file roots."""
    return make_server(file_roots=file_roots)


def open_page(new_page: Any, server: RunningServer, token: str | None = None) -> Any:
    page = new_page()
    page.goto(f"{server.base_url}/#token={token or server.token}")
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected() && window.__tmuxweb.activePane() !== null")
    return page


def open_panel(page: Any) -> None:
    page.click("#files-button")
    page.wait_for_selector("#files-panel .files-entry")


def entry(page: Any, name: str) -> Any:
    return page.locator(".files-entry", has=page.locator(".name", has_text=name)).first


def not_pwned(page: Any) -> None:
    assert page.evaluate("() => window.__pwned === undefined")


# ---- hidden without roots ----


@pytest.mark.parametrize("file_roots", [()])
def test_without_file_roots_the_viewer_is_hidden(new_page: Any, tmuxweb_server: RunningServer) -> None:
    page = open_page(new_page, tmuxweb_server)
    page.wait_for_function("() => performance.getEntriesByType('resource').some((e) => e.name.includes('/api/files'))")
    assert page.is_hidden("#files-button")
    assert page.is_hidden("#files-panel")
    assert page.evaluate("() => document.getElementById('files-panel').childElementCount") == 0


# ---- browsing and viewing ----


def test_browse_and_view_a_source_file(new_page: Any, tmuxweb_server: RunningServer, docs: Path, screenshot: Any) -> None:
    page = open_page(new_page, tmuxweb_server)
    open_panel(page)
    names = page.locator(".files-entry .name").all_inner_texts()
    assert names[0] == "src/"
    assert ".secret" not in names and "build.log" in names
    screenshot(page, "files-list")
    entry(page, "src/").click()
    page.wait_for_selector(".files-entry[data-name='app.py']")
    assert page.locator(".files-crumb").all_inner_texts() == ["docs", "src"]
    page.click(".files-entry[data-name='app.py']")
    page.wait_for_selector(".files-code .line")
    lines = page.locator(".files-code .line")
    assert lines.count() == APP_PY.count("\n")
    assert lines.nth(4).inner_text() == "    # say hello"
    assert lines.nth(4).get_attribute("data-n") == "5"
    assert page.locator(".files-code .tok-keyword", has_text="def").count() == 1
    assert page.locator(".files-code .tok-comment").inner_text() == "# say hello"
    assert page.locator(".files-code .tok-string").inner_text() == '"hello"'
    screenshot(page, "files-source")
    page.click(".files-back")
    page.wait_for_selector(".files-entry[data-name='app.py']")
    page.keyboard.press("Escape")
    page.wait_for_selector("#files-panel", state="hidden")


def test_hostile_names_and_html_are_shown_as_text(new_page: Any, tmuxweb_server: RunningServer) -> None:
    page = open_page(new_page, tmuxweb_server)
    open_panel(page)
    assert HOSTILE_NAME in page.locator(".files-entry .name").all_inner_texts()
    assert page.locator("#files-panel img").count() == 0
    page.locator(".files-entry").filter(has_text="onerror").click()
    page.wait_for_selector(".files-code .line")
    assert page.inner_text(".files-code") == "<script>window.__pwned = 1</script>"
    assert page.inner_text(".files-viewer-name") == HOSTILE_NAME
    page.click(".files-back")
    page.click(".files-entry[data-name='page.html']")
    page.wait_for_selector(".files-code .line")
    assert "<h1>Title</h1>" in page.inner_text(".files-code")
    assert page.locator("#files-panel h1, #files-panel script").count() == 0
    not_pwned(page)


def test_markdown_renders_to_safe_dom(new_page: Any, tmuxweb_server: RunningServer, screenshot: Any) -> None:
    page = open_page(new_page, tmuxweb_server)
    open_panel(page)
    page.click(".files-entry[data-name='README.md']")
    page.wait_for_selector(".markdown h1")
    md = page.locator(".markdown")
    assert md.locator("h1").inner_text() == "Read me"
    assert md.locator("em").inner_text() == "emphasis" and md.locator("strong").inner_text() == "strong"
    assert md.locator("p code").first.inner_text() == "code <b>"
    # Raw HTML is text, never elements.
    assert "<script>window.__pwned = 1</script>" in md.inner_text()
    assert md.locator("script, iframe, object, embed, style, b, i").count() == 0
    # Only http(s) links keep an href; the others are plain text.
    hrefs = md.evaluate("(root) => [...root.querySelectorAll('a')].map((a) => a.getAttribute('href'))")
    assert hrefs == ["https://example.com/docs", "#", "https://evil.example/track.png"]
    assert md.locator("a[href^='https']").first.get_attribute("rel") == "noopener noreferrer"
    for label in ("js", "JS", "data", "vb", "tab", "proto"):
        assert md.locator("a", has_text=label).count() == 0 or label == "data" and md.locator("a", has_text="data:").count() == 0
    # No attribute anywhere comes from the document but safe ones.
    attributes = md.evaluate(
        "(root) => [...root.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name))"
    )
    assert set(attributes) <= {"href", "target", "rel", "data-path", "alt", "src", "class", "data-language", "title"}
    # The relative image is loaded through the API as a blob; the remote one is not loaded.
    page.wait_for_function("() => { const i = document.querySelector('.markdown img'); return i && i.complete && i.naturalWidth === 1; }")
    assert md.locator("img").count() == 1
    assert md.locator("img").get_attribute("src").startswith("blob:")
    assert md.locator("td.align-right").inner_text() == "<i>1</i>"
    screenshot(page, "files-markdown")
    page.click(".files-source")
    page.wait_for_selector(".files-code .line")
    assert "# Read me" in page.inner_text(".files-code")
    page.click(".files-source")
    # A relative link opens that file in the viewer.
    md.locator("a[data-path='src/app.py']").click()
    page.wait_for_function("() => document.querySelector('.files-viewer-name').textContent === 'app.py'")
    not_pwned(page)


def test_images_and_svg_are_pictures_whose_scripts_never_run(new_page: Any, tmuxweb_server: RunningServer) -> None:
    page = open_page(new_page, tmuxweb_server)
    open_panel(page)
    page.click(".files-entry[data-name='pixel.png']")
    page.wait_for_function("() => { const i = document.querySelector('.files-image img'); return i && i.complete && i.naturalWidth === 1; }")
    page.click(".files-back")
    page.click(".files-entry[data-name='pic.svg']")
    page.wait_for_function("() => { const i = document.querySelector('.files-image img'); return i && i.complete && i.naturalWidth === 20; }")
    assert page.locator(".files-image img").get_attribute("src").startswith("blob:")
    not_pwned(page)


def test_binary_file_is_offered_as_a_download(new_page: Any, tmuxweb_server: RunningServer, docs: Path, tmp_path: Path) -> None:
    page = open_page(new_page, tmuxweb_server)
    open_panel(page)
    page.click(".files-entry[data-name='data.bin']")
    page.wait_for_selector(".files-message:has-text('Binary file')")
    with page.expect_download() as download:
        page.click(".files-download")
    saved = tmp_path / "saved.bin"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "data.bin"
    assert saved.read_bytes() == (docs / "data.bin").read_bytes()


@pytest.mark.slow
def test_follow_mode_shows_a_growing_log(new_page: Any, tmuxweb_server: RunningServer, docs: Path, screenshot: Any) -> None:
    page = open_page(new_page, tmuxweb_server)
    open_panel(page)
    page.click(".files-entry[data-name='build.log']")
    page.wait_for_selector(".files-code .line.log-warn")
    page.check(".files-follow input")
    with (docs / "build.log").open("a") as log:
        log.write("step 1 done\nERROR: step 2 fai")
    page.wait_for_function("() => document.querySelector('.files-code').innerText.includes('ERROR: step 2 fai')")
    with (docs / "build.log").open("a") as log:
        log.write("led\nstep 3\n")
    page.wait_for_function("() => document.querySelector('.files-code').innerText.includes('step 3')")
    lines = page.locator(".files-code .line").all_inner_texts()
    assert lines == ["start", "WARNING: slow", "step 1 done", "ERROR: step 2 failed", "step 3"]
    assert page.locator(".files-code .line.log-error").inner_text() == "ERROR: step 2 failed"
    assert page.locator(".files-code .line").nth(4).get_attribute("data-n") == "5"
    screenshot(page, "files-follow")
    (docs / "build.log").write_text("rotated\n")
    page.wait_for_function("() => document.querySelector('.files-code').innerText.trim() === 'rotated'")


# ---- paths in terminal output ----


def click_text_in_pane(page: Any, pane: str, needle: str) -> None:
    """Move the mouse over `needle` on the pane's screen (xterm asks the link
    providers on hover), then click it."""
    lines = page.evaluate("(p) => window.__tmuxweb.paneText(p)", pane).split("\n")
    row = next(i for i, line in enumerate(lines) if needle in line)
    col = lines[row].index(needle) + 2
    cell = page.evaluate("() => window.__tmuxweb.cellSize()")
    box = page.locator(f'.tmux-pane[data-pane="{pane}"] .xterm-screen').bounding_box()
    x = box["x"] + (col + 0.5) * cell["width"]
    y = box["y"] + (row + 0.5) * cell["height"]
    page.mouse.move(x, y - cell["height"])
    page.mouse.move(x, y)
    page.wait_for_function("() => document.querySelector('.xterm-screen').classList.contains('xterm-cursor-pointer')")
    page.mouse.click(x, y)


def test_file_path_printed_in_a_pane_opens_the_viewer_at_its_line(
    new_page: Any, tmuxweb_server: RunningServer, tmux_server: TmuxServer, docs: Path, screenshot: Any
) -> None:
    tmux_server.wait_for_prompt()
    tmux_server.run("send-keys", "-t", "%0", f"cd {docs} && clear && echo 'error at src/app.py:5 and /etc/hostname'", "Enter")
    tmux_server.wait_for_text("%0", "error at src/app.py:5 and /etc/hostname\n")
    page = open_page(new_page, tmuxweb_server)
    page.wait_for_function("() => (window.__tmuxweb.paneText('%0') || '').includes('error at src/app.py:5')")
    click_text_in_pane(page, "%0", "src/app.py:5")
    page.wait_for_selector(".files-code .line.target")
    assert page.inner_text(".files-viewer-name") == "app.py"
    assert page.locator(".files-code .line.target").get_attribute("data-n") == "5"
    screenshot(page, "files-link")
    # A path outside every root is no link.
    page.keyboard.press("Escape")
    page.wait_for_selector("#files-panel", state="hidden")
    lines = page.evaluate("() => window.__tmuxweb.paneText('%0')").split("\n")
    row = next(i for i, line in enumerate(lines) if "/etc/hostname" in line)
    cell = page.evaluate("() => window.__tmuxweb.cellSize()")
    box = page.locator('.tmux-pane[data-pane="%0"] .xterm-screen').bounding_box()
    x = box["x"] + (lines[row].index("/etc/hostname") + 3.5) * cell["width"]
    page.mouse.move(x, box["y"] + (row + 0.5) * cell["height"])
    page.mouse.click(x, box["y"] + (row + 0.5) * cell["height"])
    assert page.is_hidden("#files-panel")
    assert not page.evaluate("() => document.querySelector('.xterm-screen').classList.contains('xterm-cursor-pointer')")


def test_path_helpers_in_the_page(new_page: Any, tmuxweb_server: RunningServer) -> None:
    page = open_page(new_page, tmuxweb_server)
    result = page.evaluate(
        """async () => {
            const p = await import('./static/filepaths.js');
            const m = await import('./static/markdown.js');
            const roots = [{ path: '/srv/root' }, { path: '/srv/root/up' }];
            return {
                found: p.findCandidates('x src/a.py:12:3, https://h.example/a/b.py C:\\\\x\\\\y.txt v1.2.3 "/srv/root/t.py", line 9')
                    .map((c) => [c.text, c.line]),
                resolved: [p.resolve('../b/c.txt', '/srv/root/a'), p.resolve('../../../../x', '/srv'), p.resolve('~/x', '/srv')],
                roots: ['/srv/root2/x', '/srv/root/x', '/srv/root/up/y', '/srv/ro'].map((x) => p.rootOf(x, roots)?.path ?? null),
                urls: ['javascript:alert(1)', ' JAVASCRIPT:x', 'data:text/html,x', 'vbscript:x', 'file:///etc/passwd',
                       'java\\tscript:x', '//evil.example', 'https://ok.example/a', 'docs/x.md', '#top', '%2e%2e/x']
                    .map((u) => m.classifyUrl(u)),
            };
        }"""
    )
    assert result["found"] == [["src/a.py", 12], ["/srv/root/t.py", 9]]
    assert result["resolved"] == ["/srv/root/b/c.txt", None, None]
    assert result["roots"] == [None, "/srv/root", "/srv/root/up", None]
    assert result["urls"] == [
        None, None, None, None, None, None, None,
        {"external": "https://ok.example/a"}, {"relative": "docs/x.md"}, None, {"relative": "../x"},
    ]


# ---- uploads and scopes ----


def test_upload_into_a_writable_root_asks_before_replacing(new_page: Any, tmuxweb_server: RunningServer, inbox: Path, tmp_path: Path) -> None:
    page = open_page(new_page, tmuxweb_server)
    page.click("#files-button")
    page.wait_for_selector(".files-entry")
    assert page.is_hidden(".files-upload")  # the first root is read-only
    page.select_option(".files-roots", str(inbox))
    page.wait_for_selector(".files-message:has-text('(empty)')")
    assert page.is_visible(".files-upload")
    local = tmp_path / "notes.txt"
    local.write_text("first")
    page.set_input_files(".files-upload-input", str(local))
    page.wait_for_selector(".files-entry[data-name='notes.txt']")
    assert (inbox / "notes.txt").read_text() == "first"
    local.write_text("second")
    page.set_input_files(".files-upload-input", str(local))
    page.wait_for_selector("#dialog[open]")
    assert "Replace" in page.inner_text("#dialog")
    page.click("#dialog-ok")
    page.wait_for_function("() => [...document.querySelectorAll('.toast')].filter((t) => t.textContent.includes('Uploaded notes.txt')).length === 2")
    assert (inbox / "notes.txt").read_text() == "second"
    assert os.listdir(inbox) == ["notes.txt"]


def test_read_token_can_view_but_has_no_upload(new_page: Any, tmuxweb_server: RunningServer, inbox: Path) -> None:
    secret = new_secret()
    assert tmuxweb_server.config.tokens_file is not None
    TokenStore(tmuxweb_server.config.tokens_file).create("viewer", "read", None, secret)
    page = open_page(new_page, tmuxweb_server, token=secret)
    open_panel(page)
    page.select_option(".files-roots", str(inbox))
    page.wait_for_selector(".files-message:has-text('(empty)')")
    assert page.is_hidden(".files-upload")
    page.select_option(".files-roots", index=0)
    page.click(".files-entry[data-name='build.log']")
    page.wait_for_selector(".files-code .line")
