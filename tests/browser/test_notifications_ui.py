"""Notifications in real Chromium: the service worker at /sw.js, the
page's notifications through it, closed when the server clears them, and
the worker's push handler driven by the DevTools protocol (no browser push
service is reachable from here: CDP's ServiceWorker.deliverPushMessage
hands the worker a push event the way the push service's message would)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from states_support import STATE_CONFIG, agent_command, new_pane

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


def wait_true(page: Any, function: str, arg: Any = None) -> None:
    """Poll an async page function until it returns something truthy.
    (page.wait_for_function takes the Promise itself for a truthy value.)"""
    for _ in range(150):
        if page.evaluate(function, arg):
            return
        page.wait_for_timeout(100)  # polling interval, not a fixed wait
    toasts = page.eval_on_selector_all(".toast", "(ts) => ts.map((t) => t.textContent)")
    raise AssertionError(f"never true: {function} ({arg!r}); notifications: {page.evaluate(NOTIFICATIONS)}; toasts: {toasts}")


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


# Headless Chromium keeps a notification shown from a push event only some
# of the time (getNotifications() then lists nothing, with showNotification
# resolved: the platform side, not the worker, drops it). So the worker's
# calls are recorded as well, by a wrapper that still calls the browser's
# own showNotification; what the platform kept is checked where it can be.
RECORD_SHOWN = """() => {
  self.__shown = [];
  const real = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    self.__shown.push({title, body: options.body, tag: options.tag, data: options.data});
    return real.call(this, title, options);
  };
}"""
SHOWN = "() => self.__shown"


def test_push_messages_are_shown_and_cleared_by_the_worker(new_page: Any, tmuxweb_server: Any) -> None:
    page = open_with_worker(new_page, tmuxweb_server)
    cdp, registration = registration_id(page)
    worker = page.context.service_workers[0]
    worker.evaluate(RECORD_SHOWN)
    # What tmuxweb/webpush.py sends: the `notification` event with a type.
    message = {
        "type": "notification", "id": "n1", "pane": "%0", "session": "$0", "state": "waiting",
        "title": "main:0 %0 waiting", "body": "Proceed? [y/N]", "at": 0, "tag": "tmuxweb-pane-%0",
    }
    push(page, cdp, registration, message)
    for _ in range(150):
        if worker.evaluate(SHOWN):
            break
        page.wait_for_timeout(100)  # polling interval, not a fixed wait
    assert worker.evaluate(SHOWN) == [{"title": "main:0 %0 waiting", "body": "Proceed? [y/N]", "tag": "tmuxweb-pane-%0",
                                       "data": {"pane": "%0", "session": "$0", "session_name": None}}]
    # A clear message closes what the worker shows under that tag (shown
    # here from the worker directly, which the platform keeps).
    worker.evaluate("() => self.registration.showNotification('main:0 %0 waiting', {tag: 'tmuxweb-pane-%0'})")
    wait_true(page, HAS_NOTIFICATION, "tmuxweb-pane-%0")
    push(page, cdp, registration, {"type": "clear", "pane": "%0", "tag": "tmuxweb-pane-%0"})
    wait_true(page, NO_NOTIFICATION, "tmuxweb-pane-%0")


def test_a_click_on_a_notification_opens_its_pane_in_the_page(new_page: Any, tmuxweb_server: Any, tmux_server: Any) -> None:
    tmux_server.run("new-window", "-d", "-t", "main")
    second = tmux_server.run("display", "-p", "-t", "main:1", "#{pane_id}").strip()
    page = open_with_worker(new_page, tmuxweb_server)
    page.click("#overview-button")
    worker = page.context.service_workers[0]
    worker.evaluate(f"() => self.registration.showNotification('done', {{tag: 't1', data: {{pane: '{second}', session: '$0'}}}})")
    wait_true(page, HAS_NOTIFICATION, "t1")
    # The worker's own click handler (a classic worker's functions are
    # globals) on that notification: the page gets its message and shows
    # that pane, and the notification is closed.
    worker.evaluate("async () => { const [n] = await self.registration.getNotifications({tag: 't1'}); await onClick(n, ''); }")
    page.wait_for_function("(pane) => window.__tmuxweb.view() === 'terminal' && window.__tmuxweb.activePane() === pane", arg=second)
    wait_true(page, NO_NOTIFICATION, "t1")


PAGE_RECORD_SHOWN = """() => {
  window.__shown = [];
  const real = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    window.__shown.push({title, body: options.body, tag: options.tag, actions: (options.actions ?? []).map((a) => a.title)});
    return real.call(this, title, options);
  };
}"""


def _notifier_wired() -> bool:
    # Lanes S and N are merged, but until the notifier is registered with
    # the tracker (on_transition / on_seen) no notification event exists.
    import tmuxweb.app
    import tmuxweb.services

    return any(".on_transition(" in inspect.getsource(m) for m in (tmuxweb.app, tmuxweb.services))


needs_notifier = pytest.mark.skipif(not _notifier_wired(), reason="the notifier is not registered with the state tracker yet")


def enable_notifications(page: Any) -> None:
    """The person's click (the permission is granted to the context already)."""
    if page.evaluate("() => window.__tmuxweb.view()") != "overview":
        page.click("#overview-button")
    page.evaluate(PAGE_RECORD_SHOWN)
    page.click("#notify-button")
    page.wait_for_function("() => document.getElementById('notify-button').getAttribute('aria-pressed') === 'true'")


def shown_by_the_page(page: Any, tag: str) -> dict[str, Any]:
    for _ in range(150):
        found = [n for n in page.evaluate("() => window.__shown") if n["tag"] == tag]
        if found:
            return dict(found[0])
        page.wait_for_timeout(100)  # polling interval, not a fixed wait
    raise AssertionError(f"the page showed no notification {tag}")


@needs_notifier
def test_a_notification_is_shown_through_the_worker_and_cleared_once_the_pane_is_seen(
    new_page: Any, make_server: Any, tmux_server: Any, tmp_path: Path
) -> None:
    server = make_server(**STATE_CONFIG, notify_debounce=0.3, notify_content="prompt")
    page = open_with_worker(new_page, server, viewport={"width": 1280, "height": 800})
    enable_notifications(page)  # on the overview: no pane is looked at
    pane = new_pane(tmux_server, agent_command(work=0.3), remain=True)
    tag = f"tmuxweb-pane-{pane}"
    shown = shown_by_the_page(page, tag)
    assert "Shall the fake agent go ahead?" in shown["body"]
    assert shown["actions"] == ["Yes", "No"]  # the body names them: the person allowed prompt text
    page.wait_for_selector(f".toast >> text={shown['title']}")
    # Looking at the pane (page visible, pane on screen): `seen`, and the
    # server's notification-cleared closes both.
    page.click(f"#overview-list .pane-card[data-pane='{pane}'] .card-head")
    page.wait_for_selector(f".toast >> text={shown['title']}", state="detached")
    wait_true(page, NO_NOTIFICATION, tag)


@needs_notifier
def test_without_prompt_content_the_notification_shows_no_screen_text(
    new_page: Any, make_server: Any, tmux_server: Any, tmp_path: Path
) -> None:
    server = make_server(**STATE_CONFIG, notify_debounce=0.3)  # --notify-content none
    page = open_with_worker(new_page, server, viewport={"width": 1280, "height": 800})
    enable_notifications(page)
    pane = new_pane(tmux_server, agent_command(work=0.3), remain=True)
    shown = shown_by_the_page(page, f"tmuxweb-pane-{pane}")
    assert "go ahead" not in shown["body"] + shown["title"]
    assert shown["actions"] == []  # labels would be screen text
