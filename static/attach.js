// Attachments: a file picked (on a phone the picker offers the camera and
// photos) or an image pasted from the clipboard is uploaded to the server's
// --attach-dir (PUT /api/attach) and its shell-quoted path is typed into
// the active pane like any typed text, so an agent in it can read the file.
// Off (button hidden, pastes untouched) unless the server has an attach
// directory and this token may write.

import { HttpError, request } from "./http.js";
import { toast } from "./ui.js";

export class Attacher {
  #token;

  /**
   * button: shows the picker; input: the hidden <input type=file>;
   * pane(): the active pane id; type(pane, text): sends typed input;
   * refocus(): back to the terminal.
   */
  constructor(token, { button, input, pane, type, refocus }) {
    this.#token = token;
    this.button = button;
    this.input = input;
    this.pane = pane;
    this.type = type;
    this.refocus = refocus;
    this.info = null; // GET /api/attach: {max_size, upload}
  }

  async start() {
    try {
      this.info = await (await request(this.#token, "./api/attach")).json();
    } catch {
      return; // 404: the server takes no attachments
    }
    if (!this.info.upload) return;
    this.button.hidden = false;
    this.button.addEventListener("pointerdown", (event) => event.preventDefault());
    this.button.addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", () => {
      const files = [...this.input.files];
      this.input.value = ""; // the same file again is a new attachment
      this.attachAll(files);
    });
    // Capture phase: before the terminal's textarea turns the paste into
    // text. Only pastes that carry files are taken; text pastes go on.
    window.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      event.stopPropagation();
      this.attachAll(files);
    }, true);
  }

  async attachAll(files) {
    const pane = this.pane();
    if (!pane) return;
    for (const file of files) {
      try {
        const path = await this.upload(file);
        this.type(pane, `${path} `);
      } catch (err) {
        toast(`Could not attach ${file.name || "the file"}: ${err.message}`, { error: true });
      }
    }
    this.refocus();
  }

  /** The stored file's shell-quoted path. */
  async upload(file) {
    if (file.size > this.info.max_size) throw new HttpError(413, `larger than the server's limit (${this.info.max_size} bytes)`);
    const url = `./api/attach?${new URLSearchParams({ name: file.name || "attachment" })}`;
    const headers = { "Content-Type": "application/octet-stream" };
    const answer = await (await request(this.#token, url, { method: "PUT", body: file, headers })).json();
    return answer.quoted;
  }
}
