// The access token: taken from the link's fragment once, then kept in this
// tab's sessionStorage. It never appears in a URL we request.

const KEY = "tmuxweb.token";

/** Move `#token=…` from the address bar into storage; return the stored token or null. */
export function takeToken(location = window.location, storage = window.sessionStorage) {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    storage.setItem(KEY, token);
    params.delete("token");
    const rest = params.toString();
    // replaceState, not a navigation: the token must not stay in history.
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return storage.getItem(KEY);
}

export function forgetToken(storage = window.sessionStorage) {
  storage.removeItem(KEY);
}
