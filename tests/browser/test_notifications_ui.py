"""Notifications in real Chromium: the service worker at /sw.js, the
page's notifications through it, closed when the server clears them, and
the worker's push handler driven by the DevTools protocol (no browser push
service is reachable from here: CDP's ServiceWorker.deliverPushMessage
hands the worker a push event the way the push service's message would)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.browser

# Playwright evaluates plain-expression strings with eval, which the CSP
# forbids: every predicate is a function.
NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data}));
}"""
HAS_NOTIFICATION = """async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({tag})).length > 0;
}"""
NO_NOTIFICATION = """async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({tag})).length === 0;
}"""


def open_with_worker(new_page: Any, server: Any, **options: Any) -> Any:
    """The page, with the notification permission, once its service worker runs."""
    page = new_page(**options)
    page.context.grant_permissions(["notifications"])
    page.goto(server.link)
    page.wait_for_function("() => window.__tmuxweb && window.__tmuxweb.connected()")
    # Controlled: the worker is activated and has claimed the page.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return page


def registration_id(page: Any) -> tuple[Any, str]:
    """A CDP session and the id of the page's service worker registration."""
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    for _ in range(100):
        found = [r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"]]
        if found:
            return cdp, found[0]["registrationId"]
        page.wait_for_timeout(50)  # polling interval, not a fixed wait
    raise AssertionError(f"no service worker registration for {scope}: {registrations}")


def push(page: Any, cdp: Any, registration: str, payload: dict[str, Any]) -> None:
    origin = page.evaluate("() => location.origin")
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": origin, "registrationId": registration, "data": json.dumps(payload)})


def test_the_worker_is_registered_at_the_page_level(new_page: Any, tmuxweb_server: Any) -> None:
    page = open_with_worker(new_page, tmuxweb_server)
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == tmuxweb_server.base_url + "/"
    script = page.evaluate("async () => (await navigator.serviceWorker.ready).active.scriptURL")
    assert script == tmuxweb_server.base_url + "/sw.js"


def test_push_messages_are_shown_and_cleared_by_the_worker(new_page: Any, tmuxweb_server: Any) -> None:
    page = open_with_worker(new_page, tmuxweb_server)
    cdp, registration = registration_id(page)
    # What tmuxweb/webpush.py sends: the `notification` event with a type.
    message = {
        "type": "notification", "id": "n1", "pane": "%0", "session": "$0", "state": "waiting",
        "title": "main:0 %0 waiting", "body": "Proceed? [y/N]", "at": 0, "tag": "tmuxweb-pane-%0",
    }
    push(page, cdp, registration, message)
    page.wait_for_function(HAS_NOTIFICATION, arg="tmuxweb-pane-%0")
    shown = page.evaluate(NOTIFICATIONS)
    assert shown == [{"title": "main:0 %0 waiting", "body": "Proceed? [y/N]", "tag": "tmuxweb-pane-%0",
                      "data": {"pane": "%0", "session": "$0", "session_name": None}}]
    # Same tag again: replaced, not stacked.
    push(page, cdp, registration, {**message, "id": "n2", "body": "Again? [y/N]"})
    page.wait_for_function("async () => (await (await navigator.serviceWorker.ready).getNotifications())[0]?.body === 'Again? [y/N]'")
    assert len(page.evaluate(NOTIFICATIONS)) == 1
    push(page, cdp, registration, {"type": "clear", "pane": "%0", "tag": "tmuxweb-pane-%0"})
    page.wait_for_function(NO_NOTIFICATION, arg="tmuxweb-pane-%0")


def test_a_click_on_a_notification_opens_its_pane_in_the_page(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    tmux_server.run("new-window", "-d", "-t", "main")
    second = tmux_server.run("display", "-p", "-t", "main:1", "#{pane_id}").strip()
    page = open_with_worker(new_page, tmuxweb_server)
    cdp, registration = registration_id(page)
    page.click("#overview-button")
    push(page, cdp, registration, {"pane": second, "session": "$0", "state": "done", "title": "done", "body": "", "tag": "t1"})
    page.wait_for_function(HAS_NOTIFICATION, arg="t1")
    # The worker's own click handler (a classic worker's functions are
    # globals): the page gets its message and shows that pane.
    worker = page.context.service_workers[0]
    worker.evaluate("async () => { const [n] = await self.registration.getNotifications({tag: 't1'}); await onClick(n, ''); }")
    page.wait_for_function("(pane) => window.__tmuxweb.view() === 'terminal' && window.__tmuxweb.activePane() === pane", arg=second)
    page.wait_for_function(NO_NOTIFICATION, arg="t1")
