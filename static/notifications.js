// Notifications, as the server decides them (its `notification` and
// `notification-cleared` events are the one source of truth for debounce):
// a toast in the page, and the Notification API through the service worker
// (sw.js) once the person has switched it on with a click. Web Push, for a
// closed tab, is a subscription with the server's VAPID key. A notification
// closes when the server clears it, and the page tells the server `seen`
// when the person actually looks at a pane (page visible, pane on screen).

import { request, jsonOrNull } from "./http.js";
import { ATTENTION_STATES } from "./panestates.js";
import { serviceWorkerUrl } from "./trusted.js";
import { toast } from "./ui.js";

const ENABLED_KEY = "tmuxweb.notifications"; // per browser: localStorage
const TOAST_MS = 20_000;

function base64UrlBytes(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "="));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function supported() {
  return window.isSecureContext && "serviceWorker" in navigator && "Notification" in window;
}

export class Notifications {
  #registration = null;
  #toasts = new Map(); // tag -> close()
  #open = new Map(); // tag -> pane, notifications not yet cleared
  #seenSent = new Set();

  /**
   * token: the access token (push routes); states: PaneStates; views:
   * Views; answers: Answers; send(command): through the current stream;
   * button: the on/off toggle.
   */
  constructor({ token, states, views, answers, send, button }) {
    this.token = token;
    this.states = states;
    this.views = views;
    this.answers = answers;
    this.send = send;
    this.button = button;
    button.addEventListener("click", () => this.toggle());
  }

  get enabled() {
    return supported() && Notification.permission === "granted" && localStorage.getItem(ENABLED_KEY) === "on";
  }

  async start() {
    document.addEventListener("visibilitychange", () => this.checkSeen());
    this.states.listen(() => this.checkSeen());
    this.#showButton();
    if (!supported()) return;
    navigator.serviceWorker.addEventListener("message", (event) => this.#fromWorker(event.data));
    try {
      // Scope "./": the page's own path, also under a reverse proxy's prefix.
      this.#registration = await navigator.serviceWorker.register(serviceWorkerUrl(), { scope: "./" });
    } catch (err) {
      console.warn("tmuxweb: no service worker:", err);
    }
  }

  /** A `notification` or `notification-cleared` event. */
  onEvent(type, data) {
    if (type === "notification") this.#notify(data);
    else if (type === "notification-cleared") this.#cleared(data);
  }

  /** Tell the server about every pane the person is looking at that asked for attention. */
  checkSeen() {
    const panes = new Map();
    for (const [tag, pane] of this.#open) panes.set(`tag:${tag}`, pane);
    for (const state of this.states.sorted()) {
      if (ATTENTION_STATES.has(state.state)) panes.set(`state:${state.pane}:${state.state}:${state.since}`, state.pane);
    }
    for (const [key, pane] of panes) {
      if (this.#seenSent.has(key) || !this.views.lookingAt(pane)) continue;
      this.#seenSent.add(key);
      this.send({ type: "seen", pane }).catch(() => this.#seenSent.delete(key));
    }
    if (this.#seenSent.size > 1000) this.#seenSent.clear(); // bounded; a repeat `seen` is harmless
  }

  async toggle() {
    if (this.enabled) {
      localStorage.removeItem(ENABLED_KEY);
      await this.#unsubscribe();
      this.#showButton();
      return;
    }
    // Asked from this click: browsers only prompt on a user gesture.
    const permission = await Notification.requestPermission();
    if (permission === "granted") {
      localStorage.setItem(ENABLED_KEY, "on");
      this.#showButton();
      await this.#subscribe();
    } else {
      toast("Notifications were not allowed by the browser.", { error: true });
      this.#showButton();
    }
  }

  #showButton() {
    const b = this.button;
    b.disabled = false;
    b.setAttribute("aria-pressed", String(this.enabled));
    if (!supported()) {
      b.textContent = "Notifications unavailable";
      b.title = "The browser's notifications need HTTPS (or localhost) and service workers";
      b.disabled = true;
    } else if (Notification.permission === "denied") {
      b.textContent = "Notifications blocked";
      b.title = "Allow notifications for this site in the browser's settings";
      b.disabled = true;
    } else {
      b.textContent = this.enabled ? "Notifications on" : "Enable notifications";
      b.title = this.enabled ? "Stop notifications (and push) from this browser" : "Notify me when a pane needs me";
    }
  }

  #notify(event) {
    this.#open.set(event.tag, event.pane);
    if (this.views.lookingAt(event.pane)) {
      this.checkSeen(); // already on screen: seen at once, nothing to show
      return;
    }
    this.#toast(event);
    if (this.enabled) this.#system(event);
  }

  #toast(event) {
    this.#toasts.get(event.tag)?.();
    const state = this.states.get(event.pane);
    const actions = [{ label: "Open", run: () => this.views.open(state ?? { pane: event.pane, session_name: null }) }];
    if (state?.state === "waiting" && state.prompt && this.answers.allowed) {
      state.prompt.choices.forEach((choice, index) => {
        actions.push({ label: choice.label, run: () => this.answers.answer(state, index) });
      });
    }
    const text = event.body ? `${event.title}\n${event.body}` : event.title;
    const close = toast(text, { actions, timeout: TOAST_MS });
    this.#toasts.set(event.tag, close);
  }

  async #system(event) {
    // `ready`: a registration whose worker is active (a fresh one may still be installing).
    const registration = await navigator.serviceWorker.ready;
    const state = this.states.get(event.pane);
    const data = { pane: event.pane, session: event.session, session_name: state?.session_name ?? null, screen: state?.screen ?? "" };
    const options = { body: event.body || "", tag: event.tag, renotify: true, data };
    // Choice buttons only when the server put the prompt in the text anyway
    // (--notify-content prompt): the OS notification shows no more screen
    // text than the person allowed.
    const choices = state?.state === "waiting" ? state.prompt?.choices ?? [] : [];
    if (this.answers.allowed && choices.length && event.body && choices.every((c) => event.body.includes(c.label))) {
      options.actions = choices.slice(0, Notification.maxActions ?? 2).map((c, i) => ({ action: `choice-${i}`, title: c.label }));
    }
    try {
      await registration.showNotification(event.title, options);
    } catch (err) {
      console.warn("tmuxweb: notification not shown:", err);
    }
  }

  async #cleared({ tag }) {
    this.#open.delete(tag);
    this.#toasts.get(tag)?.();
    this.#toasts.delete(tag);
    if (!supported()) return;
    const registration = this.#registration ?? (await navigator.serviceWorker.getRegistration("./"));
    for (const shown of (await registration?.getNotifications({ tag })) ?? []) shown.close();
  }

  /** A click on a notification, relayed by the service worker. */
  #fromWorker(message) {
    if (!message || typeof message !== "object") return;
    const state = this.states.get(message.pane) ?? { pane: message.pane, session_name: message.session_name ?? null };
    if (message.type === "open-pane") {
      this.views.open(state);
    } else if (message.type === "answer" && typeof message.choice === "number") {
      this.answers.answer({ ...state, screen: message.screen ?? state.screen }, message.choice);
    }
  }

  async #subscribe() {
    try {
      const registration = this.#registration ?? (await navigator.serviceWorker.ready);
      const answer = await jsonOrNull(await request(this.token, "./api/push/key"));
      const key = answer?.key ?? answer?.public_key ?? answer?.publicKey;
      if (typeof key !== "string") throw new Error("the server has no push key");
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: base64UrlBytes(key),
      });
      await request(this.token, "./api/push/subscriptions", { method: "POST", json: subscription.toJSON() });
    } catch (err) {
      // In-page notifications still work; only the closed-tab case is lost.
      toast(`Notifications are on while this page is open; push (with the tab closed) is unavailable: ${err.message}`, { timeout: 8000 });
    }
  }

  async #unsubscribe() {
    try {
      const registration = this.#registration ?? (await navigator.serviceWorker.ready);
      const subscription = await registration.pushManager.getSubscription();
      if (!subscription) return;
      await request(this.token, "./api/push/subscriptions", { method: "DELETE", json: { endpoint: subscription.endpoint } });
      await subscription.unsubscribe();
    } catch (err) {
      toast(`Could not cancel push: ${err.message}`, { error: true });
    }
  }
}
