// Following a growing text file (a log): poll `Range: bytes=OFFSET-` every
// second and append what came; a file that got shorter was truncated or
// rotated, and is followed again from its start.

import { toast } from "../ui.js";

const FOLLOW_TAIL = 256 * 1024; // bytes shown when following starts
const FOLLOW_INTERVAL_MS = 1000;
const AT_END_PX = 40; // this close to the bottom counts as reading the end

export class Follower {
  #timer = null;
  #generation = 0; // bumped by stop(): an older poll's answer is dropped

  /** body: the scrolled element; hooks: restart() (empty the lines), append(text), failed(). */
  constructor(api, body, hooks) {
    this.api = api;
    this.body = body;
    this.hooks = hooks;
  }

  /**
   * Follow `file` ({path, offset, size, decoder, numbered}: what is shown
   * so far, updated as text comes). From its last FOLLOW_TAIL bytes if the
   * shown part does not reach its end.
   */
  async start(file) {
    this.stop();
    const generation = this.#generation;
    if (file.offset < file.size) {
      file.offset = Math.max(0, file.size - FOLLOW_TAIL);
      this.#restart(file, file.offset === 0);
      await this.#poll(generation, file, true);
      return;
    }
    this.#scrollToEnd();
    this.#schedule(generation, file);
  }

  stop() {
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#generation++;
  }

  #restart(file, numbered) {
    file.numbered = numbered;
    file.decoder = new TextDecoder("utf-8");
    this.hooks.restart();
  }

  #schedule(generation, file) {
    this.#timer = setTimeout(() => this.#poll(generation, file), FOLLOW_INTERVAL_MS);
  }

  async #poll(generation, file, first = false) {
    if (generation !== this.#generation) return;
    try {
      const { bytes, size } = await this.api.range(file.path, file.offset, null);
      if (generation !== this.#generation) return;
      if (size < file.offset) {
        file.offset = 0;
        this.#restart(file, true);
        toast("The file was truncated; following it from its start.");
      } else if (bytes.length) {
        const atEnd = first || this.#atEnd();
        file.offset += bytes.length;
        file.size = size;
        this.hooks.append(file.decoder.decode(bytes, { stream: true }));
        if (atEnd) this.#scrollToEnd();
      }
    } catch (err) {
      if (generation !== this.#generation) return;
      toast(`Following stopped: ${err.message}`, { error: true });
      this.hooks.failed();
      return;
    }
    this.#schedule(generation, file);
  }

  #atEnd() {
    const b = this.body;
    return b.scrollHeight - b.scrollTop - b.clientHeight < AT_END_PX;
  }

  #scrollToEnd() {
    this.body.scrollTop = this.body.scrollHeight;
  }
}
