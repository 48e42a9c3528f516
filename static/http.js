// The one way the page calls the server (the event stream aside): the token
// in an Authorization header (never in a URL), nothing cached, no redirects
// followed, and every failure as an HttpError carrying the server's own
// message. URLs are relative, so the UI works under a reverse-proxy
// sub-path (https://host/tmux/).

export class HttpError extends Error {
  /**
   * status 0 means the request never got an HTTP answer; data is the
   * answer's JSON body (a 409 of `answer` carries the fresh pane state).
   */
  constructor(status, message, data = null) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.data = data;
  }
}

/**
 * fetch `url` with the token. `json` is sent as a JSON body; `body` as is.
 * Resolves to the Response when it is ok or its status is in `allow`;
 * otherwise rejects with HttpError (the answer's {"error": …} as message).
 */
export async function request(token, url, { method = "GET", headers = {}, body, json, allow = [] } = {}) {
  const init = {
    method,
    headers: { Authorization: `Bearer ${token}`, ...headers },
    body,
    cache: "no-store",
    credentials: "same-origin",
    redirect: "error",
  };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new HttpError(0, `network error: ${err.message}`);
  }
  if (!response.ok && !allow.includes(response.status)) {
    const data = await jsonOrNull(response);
    throw new HttpError(response.status, typeof data?.error === "string" ? data.error : `HTTP ${response.status}`, data);
  }
  return response;
}

/** The answer's JSON, or null for anything else (a proxy's error page). */
export async function jsonOrNull(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}
