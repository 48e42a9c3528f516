"""How long the file viewer takes on hostile 1 MiB Markdown, in Chromium.

Starts a private tmux server and tmuxweb (as the tests do), opens the UI in
headless Chromium and, for each document of tests/hostile_markdown.py,
measures in the page:

* parse: markdown-it in the Web Worker, including sending the document and
  the operations back (static/markdown.js `parseMarkdown`, no deadline);
* build: making the elements from the operations on the page's thread;
* render: what the viewer calls (`renderMarkdown` with its deadline):
  the total time, and whether it rendered or fell back to plain text;
* on screen: the viewer itself, from the click on the file to the rendered
  document or the plain-text fallback on the page (timed from Python, so
  it includes Playwright's round trips and the file's download).

It also times static/syntax.js (`appendTokens`, `lineClass`) on 1 MiB of
hostile source lines, since the viewer runs it on every text file.

    python benchmarks/markdown_hostile.py [--repeat 3] [--only NAME]
"""

from __future__ import annotations

import argparse
import time
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser_latency import CHROMIUM_ARGS  # noqa: E402
from helpers import RunningServer, new_tmux_server, server_config  # type: ignore[import-not-found]  # noqa: E402
from hostile_markdown import SIZE, documents  # type: ignore[import-not-found]  # noqa: E402

MEASURE = """async ([source, repeat]) => {
  const m = await import('./static/markdown.js');
  const out = { parse: [], build: [], viewer: [], fallback: 0, nodes: 0 };
  for (let i = 0; i < repeat; i++) {
    let t = performance.now();
    const ops = await m.parseMarkdown(source, 120000);
    out.parse.push(performance.now() - t);
    t = performance.now();
    const root = m.buildElements(ops, {});
    out.build.push(performance.now() - t);
    out.nodes = root.getElementsByTagName('*').length;
    t = performance.now();
    try { await m.renderMarkdown(source, {}); } catch { out.fallback++; }
    out.viewer.push(performance.now() - t);
  }
  return out;
}"""

HIGHLIGHT = """async ([lines, repeat]) => {
  const h = await import('./static/syntax.js');
  const modes = [h.modeFor('x.py'), h.modeFor('x.js'), h.modeFor('build.log'), h.modeFor('x.diff')];
  const out = {};
  for (const mode of modes) {
    const times = [];
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      const box = document.createElement('div');
      for (const line of lines) { const e = document.createElement('div'); h.lineClass(line, mode); h.appendTokens(e, line, mode); box.append(e); }
      times.push(performance.now() - t);
    }
    out[mode.kind + (mode.lang ? ':' + mode.lang.comment : '')] = Math.min(...times);
  }
  return out;
}"""


def hostile_lines() -> list[str]:
    """1 MiB of lines of at most 2000 characters (appendTokens' limit) built
    to make regular expressions backtrack: unclosed strings and escapes, long
    digit runs, identifiers, comment markers, log words."""
    units = ['"\\', "'a", "`\\", "1" * 50 + "e", "a_" * 20, "0x", "//", "# ", "ERROR", "WARN ", "1.", "\\"]
    lines: list[str] = []
    size = 0
    for i in range(SIZE // 1999 + 1):
        unit = units[i % len(units)]
        line = (unit * (1999 // len(unit) + 1))[:1999]
        lines.append(line)
        size += len(line) + 1
    return lines


def start_servers(stack: ExitStack, docs: dict[str, str]) -> tuple[str, dict[str, str]]:
    """tmux and tmuxweb with a file root holding the documents: (link, name → file name)."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    root = tmp / "docs"
    root.mkdir()
    files = {name: f"doc-{i}.md" for i, name in enumerate(docs)}
    for name, source in docs.items():
        (root / files[name]).write_text(source)
    tmux = new_tmux_server(tmp)
    tmux.start("main", 120, 40)
    stack.callback(tmux.kill)
    server = RunningServer(server_config(tmux, file_roots=((root.resolve(), False),))).start()
    stack.callback(server.stop)
    return server.link, files


def on_screen(page: Any, file_name: str) -> tuple[float, str]:
    started = time.perf_counter()
    page.locator(f".files-entry[data-name='{file_name}']").click()
    page.wait_for_selector("#files-panel .markdown, #files-panel .markdown-fallback")
    took = (time.perf_counter() - started) * 1000
    shown = "text" if page.locator("#files-panel .markdown-fallback").count() else "rendered"
    page.click(".files-back")
    page.wait_for_selector("#files-panel .files-entry")
    return took, shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="one document name")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    docs = documents()
    if args.only:
        docs = {args.only: docs[args.only]}
    with ExitStack() as stack, sync_playwright() as playwright:
        link, files = start_servers(stack, docs)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page: Any = browser.new_page()
        page.set_default_timeout(600_000)
        page.goto(link)
        page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected()")
        page.click("#files-button")
        page.wait_for_selector("#files-panel .files-entry")
        print(f"hostile Markdown, {SIZE // 1024} KiB each, best of {args.repeat} (ms); viewer deadline = markdown.js DEADLINE_MS")
        print(f"{'document':>12} {'parse':>8} {'build':>8} {'render':>8} {'on screen':>9}  {'elements':>8}  result")
        for name, source in docs.items():
            r = page.evaluate(MEASURE, [source, args.repeat])
            result = "rendered" if r["fallback"] == 0 else f"plain text {r['fallback']}/{args.repeat}"
            screen = [on_screen(page, files[name]) for _ in range(args.repeat)]
            best = min(ms for ms, _ in screen)
            result += f", viewer: {sum(shown == 'text' for _, shown in screen)}/{args.repeat} as text"
            print(f"{name:>12} {min(r['parse']):8.0f} {min(r['build']):8.0f} {min(r['viewer']):8.0f} {best:9.0f}  {r['nodes']:8d}  {result}")
        print(f"syntax.js on {SIZE // 1024} KiB of hostile lines (ms, best of {args.repeat}):")
        for mode, ms in page.evaluate(HIGHLIGHT, [hostile_lines(), args.repeat]).items():
            print(f"{mode:>12} {ms:8.0f}")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
