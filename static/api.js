// HTTP calls to the server. Every URL is relative, so the UI works under a
// reverse-proxy sub-path (https://host/tmux/).

export class ApiError extends Error {
  /** status 0 means the request never got an HTTP answer. */
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export class Api {
  #token;

  constructor(token) {
    this.#token = token;
  }

  async #request(method, url, body, extraHeaders = {}) {
    const headers = { Authorization: `Bearer ${this.#token}`, ...extraHeaders };
    const init = { method, headers, cache: "no-store", credentials: "same-origin", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, `network error: ${err.message}`);
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      // Non-JSON answers (a proxy's error page) keep data null.
    }
    if (!response.ok) {
      const message = data && typeof data.error === "string" ? data.error : `HTTP ${response.status}`;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  sessions() {
    return this.#request("GET", "./api/sessions");
  }

  createSession(name) {
    return this.#request("POST", "./api/sessions", { name });
  }

  ticket() {
    return this.#request("POST", "./api/ticket", {});
  }

  command(session, sessionToken, command) {
    const url = `./commands?session=${encodeURIComponent(session)}`;
    return this.#request("POST", url, command, { "X-Session-Token": sessionToken });
  }
}

export function eventsUrl(session, ticket, lastEventId = "") {
  const params = new URLSearchParams();
  if (session) params.set("session", session);
  params.set("ticket", ticket);
  if (lastEventId) params.set("last_event_id", lastEventId);
  return `./events?${params}`;
}
