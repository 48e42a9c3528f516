"""Headless Chromium for the browser tests (the tmux and tmuxweb fixtures
come from tests/conftest.py).

`playwright install` cannot download here, so the tests drive Debian's
`chromium`. When it or the Playwright package is missing, the set-up
installs it (apt-get as root, pip); set TMUXWEB_NO_INSTALL=1 to skip the
tests instead.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("TMUXWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Deadline for every wait on the page: generous for a loaded CI machine.
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


def _install(what: str, command: list[str]) -> None:
    if os.environ.get("TMUXWEB_NO_INSTALL"):
        pytest.skip(f"{what} is missing and TMUXWEB_NO_INSTALL is set")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"{what} is missing and `{' '.join(command)}` failed: {result.stderr[-500:]}")


def _ensure_playwright() -> Any:
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        _install("playwright", [sys.executable, "-m", "pip", "install", "playwright"])
        importlib.invalidate_caches()
        return importlib.import_module("playwright.sync_api")


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium package)")
    _install("chromium", ["sh", "-c", "apt-get update -q && apt-get install -y -q chromium"])
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is still missing after apt-get")


# Per module, not per session: Playwright's sync API keeps an event loop
# marked running on the main thread while it lives, and later tests that call
# asyncio.run() would fail after the browser tests.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    sync_api = _ensure_playwright()
    _ensure_chromium()
    with sync_api.sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def devices(playwright: Any) -> dict[str, dict[str, Any]]:
    """Playwright's device descriptors ("Pixel 7", "iPhone 13"): viewport,
    scale factor, touch, mobile, user agent; pass one to new_page(**...)."""
    found: dict[str, dict[str, Any]] = playwright.devices
    return found


# Every CSP violation in the page, Trusted Types ones included, becomes a
# console error that `new_page` collects: Chromium reports some (a refused
# `<style>`) on the console, but a Trusted Types refusal that the page's
# code catches would otherwise pass unseen. Installed before any script of
# the page runs; the init script is added by the test runner, not the page,
# so the CSP does not apply to it.
VIOLATION_MARK = "Content Security Policy violation:"
REPORT_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', (event) => console.error("
    f"{VIOLATION_MARK!r} + ` ${{event.effectiveDirective}} blocked ${{event.blockedURI}}`"
    " + ` at ${event.sourceFile}:${event.lineNumber} (${event.sample})`), true);"
)


def _is_violation(text: str) -> bool:
    lower = text.lower()
    return "script" in lower or "security policy" in lower or "trusted" in lower


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught page errors, CSP and Trusted Types violations, collected by `new_page`."""
    return []


@pytest.fixture
def new_page(browser: Any, page_errors: list[str], tmuxweb_server: Any) -> Iterator[Any]:
    """new_page(**context_options) → a Page; fails the test on page errors.

    Depends on tmuxweb_server so that pages (and their event streams) close
    before the server stops.
    """
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1100, "height": 700})
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: page_errors.append(f"pageerror: {error}"))
        page.add_init_script(REPORT_VIOLATIONS)
        page.on(
            "console",
            lambda message: page_errors.append(f"console: {message.text}")
            if message.type == "error" and _is_violation(message.text)
            else None,
        )
        return page

    yield make
    for context in contexts:
        context.close()
    assert page_errors == []


@pytest.fixture
def screenshot() -> Any:
    """screenshot(page, name) saves test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    return save
