"""The file viewer on hostile 1 MiB Markdown, in headless Chromium against a
real tmuxweb: no script ever runs, no unsafe link or attribute is made, the
page stays responsive while a document renders, and a document too slow to
render within the deadline is shown as plain text with a notice. (How long
each takes: benchmarks/markdown_hostile.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import RunningServer
from hostile_markdown import documents

pytestmark = pytest.mark.browser

# Each is slow, deep or script-laden for a naive renderer; `*a ` first: the
# hand-written renderer took minutes on it, `[` overflowed its stack.
CHOSEN = ["*a ", "[", "![", "*_", "> nesting", "- indented", "ref uses", "scripts"]
UNSAFE = (
    "script, iframe, object, embed, style, svg, [onerror], [onload], [style], [id], [name], "
    "a[href]:not([href^='https://']):not([href^='http://']):not([href='#'])"
)
FILE_NAMES = {name: f"hostile-{i}.md" for i, name in enumerate(CHOSEN)}


@pytest.fixture
def tmuxweb_server(make_server: Callable[..., RunningServer], tmp_path: Path) -> RunningServer:
    """Overrides the shared fixture (and so `new_page`'s server): a file root of hostile Markdown."""
    root = (tmp_path / "hostile").resolve()
    root.mkdir()
    docs = documents()
    for name, file_name in FILE_NAMES.items():
        (root / file_name).write_text(docs[name])
    return make_server(file_roots=((root, False),))


@pytest.mark.slow
def test_hostile_markdown_renders_without_script_and_the_page_stays_responsive(
    new_page: Any, tmuxweb_server: RunningServer, screenshot: Any
) -> None:
    page = new_page()
    page.goto(tmuxweb_server.link)
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected()")
    page.click("#files-button")
    outcomes = {}
    for name, file_name in FILE_NAMES.items():
        page.locator(f".files-entry[data-name='{file_name}']").click()
        # The page answers while the document is parsed (the deadline is the
        # page's 15 s: a renderer on the page's thread that is quadratic
        # misses it; a crash or a stack overflow shows as a page error).
        page.wait_for_function("() => true")
        page.wait_for_selector("#files-panel .markdown, #files-panel .markdown-fallback")
        fallback = page.locator("#files-panel .markdown-fallback").count() == 1
        outcomes[name] = "text" if fallback else "rendered"
        if fallback:
            assert "Shown as plain text" in page.inner_text("#files-panel .markdown-fallback")
            shown = page.evaluate("() => document.querySelector('#files-panel .markdown-plain').textContent.slice(0, 20)")
            assert shown == documents()[name][:20]
        assert page.locator(f"#files-panel :is({UNSAFE})").count() == 0, name
        assert page.evaluate("() => window.__pwned === undefined"), name
        if name == "scripts":
            screenshot(page, "markdown-hostile-scripts")
        page.click(".files-back")
    # The script-laden document is ordinary Markdown: rendered in full (with
    # no deadline: whether 1 MiB beats the viewer's 600 ms is a matter of the
    # machine's load, not of safety), its scripts are text and none runs.
    shown = page.evaluate(
        """async (source) => {
            const { renderMarkdown } = await import("./static/markdown.js");
            const root = await renderMarkdown(source, {}, 120000);
            document.body.append(root);
            return {
                text: root.textContent.slice(0, 5000),
                unsafe: root.querySelectorAll("%s").length,
            };
        }""" % UNSAFE,
        documents()["scripts"],
    )
    assert "<script>window.__pwned=1</script>" in shown["text"]
    assert shown["unsafe"] == 0
    assert page.evaluate("() => window.__pwned === undefined")
