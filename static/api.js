// The JSON API of sessions, tickets and commands (files/api.js has
// the file routes), over http.js.

import { jsonOrNull, request } from "./http.js";


export class Api {
  #token;

  constructor(token) {
    this.#token = token;
  }

  /** For the shared stream (streamlink.js), which sends it in a header too. */
  get token() {
    return this.#token;
  }

  async #call(method, url, json, headers = {}) {
    return jsonOrNull(await request(this.#token, url, { method, json, headers }));
  }

  sessions() {
    return this.#call("GET", "./api/sessions");
  }

  createSession(name) {
    return this.#call("POST", "./api/sessions", { name });
  }

  /** Every pane's state, all sessions: {now, panes} (panestates.js). */
  states() {
    return this.#call("GET", "./api/states");
  }

  ticket() {
    return this.#call("POST", "./api/ticket", {});
  }

  command(session, sessionToken, command) {
    const url = `./commands?session=${encodeURIComponent(session)}`;
    return this.#call("POST", url, command, { "X-Session-Token": sessionToken });
  }
}
