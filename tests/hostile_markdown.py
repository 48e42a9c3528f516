"""1 MiB Markdown documents that are slow, deep or script-laden for a
naive renderer: used by tests/browser/test_markdown_hostile.py (the viewer
renders them without running script and stays responsive) and by
benchmarks/markdown_hostile.py (how long each takes)."""

from __future__ import annotations

SIZE = 1 << 20

# Each runs `window.__pwned = 1` if it ever becomes live markup or a followed URL.
SCRIPTS = (
    "<img src=x onerror=\"window.__pwned=1\"> <script>window.__pwned=1</script> "
    "[a](javascript:window.__pwned=1) ![b](javascript:window.__pwned=1) "
    "<a href=\"javascript:window.__pwned=1\">c</a> <svg onload=window.__pwned=1> "
    "[d]: javascript:window.__pwned=1\n[d] <javascript:window.__pwned=1>\n\n"
)


def _repeat(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def _nested(open_: str, close: str) -> str:
    half = SIZE // (len(open_) + len(close))
    return open_ * half + close * half


def _indented_list() -> str:
    lines, size, depth = [], 0, 0
    while size < SIZE:
        line = "  " * (depth % 400) + "- a\n"
        lines.append(line)
        size += len(line)
        depth += 1
    return "".join(lines)[:SIZE]


def documents() -> dict[str, str]:
    """name → a document of about 1 MiB (the viewer's window)."""
    docs = {
        "*a ": _repeat("*a "),
        "**a ": _repeat("**a "),
        "_a ": _repeat("_a "),
        "*_": _repeat("*_"),
        "*": _repeat("*"),
        "_": _repeat("_"),
        "[": _repeat("["),
        "![": _repeat("!["),
        "[a](": _repeat("[a]("),
        "[[]]": _nested("[", "]"),
        "[x](": _nested("[x](", ")"),
        "`": _repeat("`"),
        "``a": _repeat("``a"),
        "<": _repeat("<"),
        "<a ": _repeat("<a "),
        "<!--": _repeat("<!--"),
        "> nesting": _repeat("> "),
        "- nesting": _repeat("- "),
        "- indented": _indented_list(),
        "link refs": _repeat("[a]: /u\n"),
        "ref uses": _repeat("[a]: /u\n")[: SIZE // 2] + _repeat("[a] ")[: SIZE // 2],
        "table": "|a|b|\n|-|-|\n" + _repeat("|a"),
        "lines": _repeat("a\n"),
        "scripts": _repeat(SCRIPTS),
    }
    return docs
