// The service worker: shows the page's notifications while the tab is in
// the background, shows Web Push messages while it is closed, closes them
// when a "clear" message comes, and on a click focuses (or opens) the page
// on the pane. It holds no token and makes no requests: what it shows is
// what the page or the push message gave it.
//
// Push payloads (tmuxweb/webpush.py): the `notification` event's JSON
// ({id, pane, session, state, title, body, at, tag}), or a clear message
// ({type: "clear", pane, tag}, also accepted as the `notification-cleared`
// event's shape with a type).

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function parse(data) {
  if (!data) return null;
  try {
    const message = data.json();
    if (!message || typeof message !== "object") return null;
    // {event|type, data} envelopes as well as the bare event.
    if (message.data && typeof message.data === "object" && (message.event || message.type)) {
      return { type: message.event ?? message.type, ...message.data };
    }
    return message;
  } catch {
    return { title: "tmuxweb", body: data.text().slice(0, 200) };
  }
}

function isClear(message) {
  return message.type === "clear" || message.type === "notification-cleared" || message.clear === true;
}

async function onPush(message) {
  if (!message) return;
  if (isClear(message)) {
    const shown = await self.registration.getNotifications(message.tag ? { tag: message.tag } : {});
    for (const notification of shown) {
      if (!message.tag && message.pane && notification.data?.pane !== message.pane) continue;
      notification.close();
    }
    return;
  }
  const title = typeof message.title === "string" && message.title ? message.title : "tmuxweb";
  await self.registration.showNotification(title, {
    body: typeof message.body === "string" ? message.body : "",
    tag: typeof message.tag === "string" ? message.tag : undefined,
    renotify: typeof message.tag === "string",
    data: { pane: message.pane ?? null, session: message.session ?? null, session_name: message.session_name ?? null },
  });
}

self.addEventListener("push", (event) => event.waitUntil(onPush(parse(event.data))));

async function onClick(notification, action) {
  const data = notification.data ?? {};
  notification.close();
  const scope = self.registration.scope;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const page = windows.find((client) => client.url.startsWith(scope));
  const choice = /^choice-(\d+)$/.exec(action ?? "");
  if (page) {
    page.postMessage(choice
      ? { type: "answer", pane: data.pane, session_name: data.session_name, choice: Number(choice[1]), screen: data.screen ?? "" }
      : { type: "open-pane", pane: data.pane, session_name: data.session_name });
    // Allowed from a notification click only; the page has its message either way.
    await page.focus().catch(() => {});
    return;
  }
  // No page open: open one on that pane (the tab needs its link's token:
  // it is kept per tab, never by this worker).
  const params = new URLSearchParams();
  if (data.pane) params.set("pane", data.pane);
  if (data.session_name) params.set("session", data.session_name);
  await self.clients.openWindow(`${scope}#${params}`);
}

self.addEventListener("notificationclick", (event) => event.waitUntil(onClick(event.notification, event.action)));
