"""The page's CSP in the browser: Trusted Types, and xterm.js's styles under style-src 'self'."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser

# What conftest's violation reporter writes to the console.
VIOLATION_MARK = "Content Security Policy violation:"

# Each attack runs in the page, as a script injected into it would, and
# reports what the browser did: "refused: <error>" or "done".
ATTACKS = {
    "innerHTML": "() => { document.body.innerHTML = '<img src=x id=pwned>'; }",
    "insertAdjacentHTML": "() => { document.body.insertAdjacentHTML('beforeend', '<b id=pwned></b>'); }",
    "script src": "() => { const s = document.createElement('script'); s.src = './static/main.js'; document.body.append(s); }",
    "a worker from a data: URL": "() => { new Worker('data:text/javascript,postMessage(1)'); }",
    "our worker URL as a string": "() => { new Worker('./static/markdown-worker.js', { type: 'module' }); }",
    # Only sw.js, through the page's policy, may become a service worker.
    "a service worker from a string URL": "() => navigator.serviceWorker.register('./static/main.js')",
    "our service worker URL as a string": "() => navigator.serviceWorker.register('./sw.js')",
    "a policy of its own": "() => { trustedTypes.createPolicy('evil', { createHTML: (s) => s }); }",
    "a second policy of our name": "() => { trustedTypes.createPolicy('tmuxweb-worker', { createScriptURL: (s) => s }); }",
}


COUNT_VIOLATIONS = """() => {
    window.__violations = 0;
    document.addEventListener('securitypolicyviolation', () => { window.__violations += 1; });
}"""


def wait_for_violations(page: Any, count: int) -> None:
    """Violation events come in a later task: wait until `count` have (conftest's reporter runs first)."""
    page.wait_for_function("(n) => window.__violations >= n", arg=count)


def run_attack(page: Any, body: str) -> str:
    # page.evaluate takes the function text itself (no eval in the page).
    result: str = page.evaluate(
        f"async () => {{ try {{ await ({body})(); return 'done'; }} catch (error) {{ return 'refused: ' + error }} }}"
    )
    return result


def test_the_page_csp_requires_trusted_types(tmuxweb_server: Any) -> None:
    response = httpx.get(tmuxweb_server.base_url + "/")
    directives = {
        part.strip().split(" ", 1)[0]: part.strip() for part in response.headers["content-security-policy"].split(";")
    }
    assert directives["require-trusted-types-for"] == "require-trusted-types-for 'script'"
    # Only our one policy may be created; no 'allow-duplicates', no default policy.
    assert directives["trusted-types"] == "trusted-types tmuxweb-worker"


def test_strings_never_reach_html_or_script_sinks(
    new_page: Any, tmuxweb_server: Any, page_errors: list[str]
) -> None:
    page = new_page()
    page.goto(tmuxweb_server.link)
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected()")
    page.evaluate(COUNT_VIOLATIONS)
    outcomes = {name: run_attack(page, body) for name, body in ATTACKS.items()}
    for name, outcome in outcomes.items():
        assert outcome.startswith("refused: "), (name, outcome)
    assert "TrustedHTML" in outcomes["innerHTML"]
    assert "TrustedScriptURL" in outcomes["a worker from a data: URL"]
    assert "TrustedScriptURL" in outcomes["our service worker URL as a string"]
    assert page.evaluate("() => document.getElementById('pwned')") is None
    # The page still works: refused attempts broke nothing.
    assert page.evaluate("() => window.__tmuxweb.connected()")
    wait_for_violations(page, len(ATTACKS))
    # Each refusal was reported as a violation: the check every browser test
    # makes on its page (conftest's new_page) does see them.
    violations = [e for e in page_errors if VIOLATION_MARK in e and "trusted-types" in e]
    assert violations, page_errors
    page_errors.clear()  # expected here; any other test fails on them


def test_xterm_styles_apply_and_only_xterm_gets_the_adaptation(
    new_page: Any, tmuxweb_server: Any, tmux_server: Any, page_errors: list[str]
) -> None:
    page = new_page()
    page.goto(tmuxweb_server.link)
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.activePane() !== null")
    pane = page.evaluate("() => window.__tmuxweb.activePane()")
    # A 24-bit colour: xterm's DOM renderer sets it with setAttribute("style").
    tmux_server.run("send-keys", "-t", pane, "printf '\\033[38;2;1;2;3mRGBTEXT\\033[0m\\n'", "Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.xterm-rows span')]"
        ".some((s) => s.textContent.includes('RGBTEXT') && s.style.color === 'rgb(1, 2, 3)')"
    )
    # xterm's <style>s are inert elements mirrored into adopted sheets.
    styles = page.evaluate(
        """() => ({
            real: document.querySelectorAll('style').length,
            inert: document.querySelectorAll('.xterm tmuxweb-style').length,
            adopted: document.adoptedStyleSheets.some((s) => [...s.cssRules].some((r) => r.cssText.includes('.xterm'))),
        })"""
    )
    assert styles["real"] == 0 and styles["inert"] > 0 and styles["adopted"], styles
    page.evaluate(COUNT_VIOLATIONS)
    # Anyone else's <style> and style attribute are the browser's, and the CSP refuses them.
    other = page.evaluate(
        """() => {
            const style = document.createElement('style');
            style.textContent = 'body { color: rgb(9, 9, 9) }';
            document.head.append(style);
            const div = document.createElement('div');
            div.setAttribute('style', 'color: rgb(9, 9, 9)');
            document.body.append(div);
            const result = {tag: style.tagName, body: getComputedStyle(document.body).color,
                            attr: div.style.color};
            style.remove();
            div.remove();
            return result;
        }"""
    )
    assert other["tag"] == "STYLE" and other["body"] != "rgb(9, 9, 9)" and other["attr"] != "rgb(9, 9, 9)", other
    wait_for_violations(page, 2)
    assert any("style-src" in e for e in page_errors), page_errors
    page_errors.clear()  # expected here; any other test fails on them
