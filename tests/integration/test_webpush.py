"""Web Push against a real push service on loopback (tests/pushservice.py):
the routes on the real server, the key and subscription files, and the
sender's encryption, VAPID signature and RFC 8030 handling, checked by a
receiver that decrypts with the browser's keys."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from helpers import RunningServer, wait_until
from pushservice import Browser, PushService, b64url

from tmuxweb.auth import new_secret
from tmuxweb.config import Config, Secret
from tmuxweb.tokens import TokenStore
from tmuxweb.webpush import KEY_FILE, SUBSCRIPTIONS_FILE, PushMessage, WebPush


@pytest.fixture
def server(make_server: Any) -> RunningServer:
    return make_server(push_loopback_http=True)


def server_key(server: RunningServer) -> str:
    with server.client() as c:
        r = c.get("/api/push/key")
    assert r.status_code == 200, r.text
    return str(r.json()["key"])


def subscribe(server: RunningServer, body: Any, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with server.client(headers=headers) as c:
        return c.post("/api/push/subscriptions", json=body, **kwargs)


def add_token(server: RunningServer, name: str, scope: str = "read") -> str:
    secret = new_secret()
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).create(name, scope, None, secret)
    return secret


def stored(server: RunningServer) -> list[dict[str, Any]]:
    assert server.config.tokens_file is not None
    path = server.config.tokens_file.parent / SUBSCRIPTIONS_FILE
    return json.loads(path.read_text())["subscriptions"] if path.exists() else []


# -- the key and the routes ------------------------------------------------------


def test_key_is_created_once_0600_beside_the_token_store(server: RunningServer) -> None:
    assert server.config.tokens_file is not None
    path = server.config.tokens_file.parent / KEY_FILE
    assert not path.exists()  # created on first use, not at start
    key = server_key(server)
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert server_key(server) == key


def test_key_file_readable_by_others_is_refused(make_server: Any, tmp_path: Path) -> None:
    server = make_server(push_loopback_http=True)
    assert server.config.tokens_file is not None
    server_key(server)
    # A fresh server over the same directory, the key file now world-readable.
    (server.config.tokens_file.parent / KEY_FILE).chmod(0o644)
    other = make_server(push_loopback_http=True)
    with other.client() as c:
        r = c.get("/api/push/key")
    assert r.status_code == 400 and "key file" in r.json()["error"]


def test_subscribing_stores_the_subscription_0600_under_its_token(server: RunningServer, push_service: PushService) -> None:
    browser = Browser()
    endpoint = push_service.subscribe(browser, server_key(server))
    r = subscribe(server, browser.subscription(endpoint))
    assert r.status_code == 201, r.text
    [sub] = stored(server)
    assert sub["endpoint"] == endpoint and sub["token"] == "owner"
    assert sub["p256dh"] == b64url(browser.p256dh) and sub["auth"] == b64url(browser.auth)
    assert server.config.tokens_file is not None
    assert stat.S_IMODE((server.config.tokens_file.parent / SUBSCRIPTIONS_FILE).stat().st_mode) == 0o600


def _bad_bodies(endpoint: str) -> list[tuple[str, Any]]:
    good = Browser().subscription(endpoint)
    keys = good["keys"]
    off_curve = b64url(b"\x04" + b"\x01" * 64)
    return [
        ("not an object", [good]),
        ("missing keys", {"endpoint": endpoint}),
        ("missing endpoint", {"keys": keys}),
        ("unknown field", {**good, "extra": 1}),
        ("unknown key field", {**good, "keys": {**keys, "x": "y"}}),
        ("endpoint not a string", {**good, "endpoint": 5}),
        ("auth too short", {**good, "keys": {**keys, "auth": b64url(b"x" * 8)}}),
        ("auth too long", {**good, "keys": {**keys, "auth": b64url(b"x" * 32)}}),
        ("auth not base64url", {**good, "keys": {**keys, "auth": "a+b/c=d=" * 3}}),
        ("p256dh compressed", {**good, "keys": {**keys, "p256dh": b64url(b"\x02" + b"\x01" * 32)}}),
        ("p256dh off the curve", {**good, "keys": {**keys, "p256dh": off_curve}}),
        ("p256dh empty", {**good, "keys": {**keys, "p256dh": ""}}),
        ("p256dh huge", {**good, "keys": {**keys, "p256dh": "A" * 5000}}),
    ]


def test_malformed_subscriptions_are_400_and_nothing_is_stored(server: RunningServer, push_service: PushService) -> None:
    endpoint = push_service.subscribe(Browser(), server_key(server))
    for what, body in _bad_bodies(endpoint):
        r = subscribe(server, body)
        assert r.status_code == 400, (what, r.status_code, r.text)
        assert isinstance(r.json()["error"], str), what
    with server.client() as c:
        assert c.post("/api/push/subscriptions", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
        assert c.post("/api/push/subscriptions", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert stored(server) == []


HOSTILE = [
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://127.0.0.1:22/",
    "https://localhost/",
    "https://[::1]/",
    "https://10.0.0.1/push",
    "https://intranet.example/push",
    "https://fcm.googleapis.com.evil.example/fcm/send/x",  # suffix trick
    "https://evilfcm.googleapis.com.example/x",
    "https://user:pw@fcm.googleapis.com/fcm/send/x",
    "https://fcm.googleapis.com:8443/fcm/send/x",
    "http://fcm.googleapis.com/fcm/send/x",  # not https
    "ftp://fcm.googleapis.com/x",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "https://fcm.googleapis.com/x#frag",
    "https://fcm.googleapis.com/\u00e9",
    "https://fcm.googleapis.com/" + "a" * 3000,
]


def test_endpoints_outside_the_push_services_are_refused_ssrf(make_server: Any, push_service: PushService) -> None:
    """An endpoint is a URL the server will POST to: a token holder must not
    be able to aim it at the machine's or the network's own services."""
    server = make_server()  # no loopback switch: what users run
    browser = Browser()
    victim = push_service.subscribe(browser, server_key(server))  # a real service on loopback
    for endpoint in [victim, victim.replace("http:", "https:"), *HOSTILE]:
        r = subscribe(server, browser.subscription(endpoint))
        assert r.status_code == 400, (endpoint, r.text)
        assert "push service" in r.json()["error"] or "URL" in r.json()["error"]
    assert stored(server) == []
    ok = subscribe(server, browser.subscription("https://fcm.googleapis.com/fcm/send/abc:def"))
    assert ok.status_code == 201, ok.text
    assert push_service.requests == 0


def test_the_loopback_switch_admits_loopback_http_only(server: RunningServer, push_service: PushService) -> None:
    browser = Browser()
    for endpoint in ["http://10.0.0.1/push/x", "http://intranet.example/push/x", "http://localhost/push/x"]:
        assert subscribe(server, browser.subscription(endpoint)).status_code == 400, endpoint
    assert subscribe(server, browser.subscription(push_service.subscribe(browser, server_key(server)))).status_code == 201


def test_subscriptions_are_capped_per_token(server: RunningServer, push_service: PushService) -> None:
    key = server_key(server)
    codes = [subscribe(server, Browser().subscription(push_service.subscribe(Browser(), key))).status_code for _ in range(9)]
    assert codes == [201] * 8 + [429]


def test_a_token_deletes_only_its_own_subscriptions(server: RunningServer, push_service: PushService) -> None:
    browser = Browser()
    endpoint = push_service.subscribe(browser, server_key(server))
    assert subscribe(server, browser.subscription(endpoint)).status_code == 201
    reader = add_token(server, "phone")
    with server.client(headers={"Authorization": f"Bearer {reader}"}) as c:
        r = c.request("DELETE", "/api/push/subscriptions", json={"endpoint": endpoint})
        assert r.status_code == 404, r.text
        assert c.request("DELETE", "/api/push/subscriptions", json={"endpoint": 1}).status_code == 400
    assert len(stored(server)) == 1
    with server.client() as c:
        assert c.request("DELETE", "/api/push/subscriptions", json={"endpoint": endpoint}).status_code == 200
    assert stored(server) == []


def test_revoked_token_loses_its_subscriptions(server: RunningServer, push_service: PushService) -> None:
    key = server_key(server)
    reader = add_token(server, "phone")
    browser = Browser()
    assert subscribe(server, browser.subscription(push_service.subscribe(browser, key)), token=reader).status_code == 201
    assert [s["token"] for s in stored(server)] == ["phone"]
    assert server.config.tokens_file is not None
    TokenStore(server.config.tokens_file).revoke("phone")
    wait_until(lambda: stored(server) == [], what="the revoked token's subscription dropped")
    # A new token given the old name does not inherit anything.
    add_token(server, "phone")
    assert stored(server) == []


# -- delivery, with the sender alone ------------------------------------------------


def push_config(tmp_path: Path, **overrides: Any) -> Config:
    return Config(token=Secret("x"), tokens_file=tmp_path / "tokens.json", push_loopback_http=True, **overrides)


def owner_subscription(push: WebPush, service: PushService, browser: Browser) -> str:
    from tmuxweb.webpush import Subscription, check_subscription

    endpoint = service.subscribe(browser, push.key.public)
    body = json.dumps(browser.subscription(endpoint)).encode()
    ep, p256dh, auth = check_subscription(body, push.config)
    push.store.add(Subscription(ep, p256dh, auth, "owner", None, 0.0))
    return endpoint


async def _until(predicate: Any, what: str) -> None:
    """wait_until's deadline, without blocking the loop under test."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        if predicate():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def test_payload_is_encrypted_signed_and_decrypts_as_sent(tmp_path: Path, push_service: PushService) -> None:
    async def run() -> None:
        push = WebPush(push_config(tmp_path), TokenStore(tmp_path / "tokens.json"))
        browser = Browser()
        owner_subscription(push, push_service, browser)
        sender = asyncio.create_task(push.run())
        payload = {"type": "notification", "title": "waiting \u2014 caf\u00e9", "body": "x" * 2000}
        push.send(PushMessage(payload, ttl=120, urgency="high", topic="abc_DEF-1"))
        await _until(lambda: push_service.messages, "a message received")
        sender.cancel()
        [msg] = push_service.messages
        assert msg.payload == payload
        assert (msg.ttl, msg.urgency, msg.topic) == (120, "high", "abc_DEF-1")
        assert msg.claims["aud"] == push_service.origin and msg.claims["sub"] == "mailto:tmuxweb@localhost"
        assert push_service.refused == []

    asyncio.run(run())


def test_gone_subscription_is_forgotten(tmp_path: Path, push_service: PushService) -> None:
    async def run() -> None:
        push = WebPush(push_config(tmp_path), TokenStore(tmp_path / "tokens.json"))
        kept, dropped = Browser(), Browser()
        owner_subscription(push, push_service, kept)
        push_service.forget(owner_subscription(push, push_service, dropped))
        sender = asyncio.create_task(push.run())
        push.send(PushMessage({"n": 1}))
        await _until(lambda: len(push.store.all()) == 1 and push_service.messages, "410 handled")
        sender.cancel()
        assert [s.p256dh for s in push.store.all()] == [b64url(kept.p256dh)]
        assert [status for status, _ in push_service.refused] == [410]

    asyncio.run(run())


def test_a_hung_push_service_never_blocks_the_caller(tmp_path: Path, push_service: PushService) -> None:
    """Deliveries are bounded (concurrency, time) and the queue drops its
    oldest: `send` returns at once however the push service behaves."""

    async def run() -> None:
        push = WebPush(push_config(tmp_path, push_queue=4, push_concurrency=2, push_timeout=60), TokenStore(tmp_path / "tokens.json"))
        owner_subscription(push, push_service, Browser())
        push_service.mode = "slow"
        sender = asyncio.create_task(push.run())
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        tick_task = asyncio.create_task(ticker())
        for n in range(50):  # before the sender first runs: the queue keeps the newest 4
            push.send(PushMessage({"n": n}))
        # 46 is held by the service, 47 waits its turn (one at a time per
        # subscription) in the second slot, 48 waits for a slot.
        await _until(lambda: push_service.requests == 1, "a delivery held by the service")
        for n in range(50, 70):
            push.send(PushMessage({"n": n}))
        seen = ticks
        await _until(lambda: ticks > seen + 5, "the loop keeps running")
        push_service.mode = "ok"
        push_service.release.set()
        await _until(lambda: len(push_service.messages) == 7, "the held ones, the waiting one and the queue's newest")
        # In order: one delivery at a time per subscription.
        assert [m.payload["n"] for m in push_service.messages] == [46, 47, 48, 66, 67, 68, 69]
        assert push.dropped == 46 + 17
        sender.cancel()
        tick_task.cancel()

    asyncio.run(run())


def test_a_failing_push_service_is_logged_and_kept(tmp_path: Path, push_service: PushService, caplog: Any) -> None:
    async def run() -> None:
        push = WebPush(push_config(tmp_path), TokenStore(tmp_path / "tokens.json"))
        owner_subscription(push, push_service, Browser())
        push_service.mode = "fail"
        sender = asyncio.create_task(push.run())
        push.send(PushMessage({"n": 1}))
        await _until(lambda: push_service.refused, "a refused delivery")
        await _until(lambda: any("answered 500" in r.getMessage() for r in caplog.records), "the failure logged")
        sender.cancel()
        assert len(push.store.all()) == 1  # a 500 is not a gone subscription

    asyncio.run(run())
