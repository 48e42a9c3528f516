// The file routes of the API (GET /api/files, /api/directory, GET and PUT
// /api/file), over http.js. Reads are by byte range, so a huge log costs
// only the window shown.

import { HttpError, request } from "../http.js";
import { formatSize } from "./size.js";

export class FileApi {
  #token;

  constructor(token) {
    this.#token = token;
  }

  #call(url, options) {
    return request(this.#token, url, options);
  }

  #file(path, { overwrite, ...options } = {}) {
    const params = new URLSearchParams({ path });
    if (overwrite !== undefined) params.set("overwrite", overwrite ? "1" : "0");
    // 416: a range past the end of an empty or shrunk file, not an error here.
    return this.#call(`./api/file?${params}`, { allow: [416], ...options });
  }

  /** The roots and settings; rejects (404) when the server has no file roots. */
  async info() {
    return (await this.#call("./api/files")).json();
  }

  /** One page of a directory: {entries, total}. */
  async directory(path, offset, limit) {
    const params = new URLSearchParams({ path, offset: String(offset), limit: String(limit) });
    return (await this.#call(`./api/directory?${params}`)).json();
  }

  /** A whole file as a Blob. */
  async blob(path) {
    const response = await this.#file(path);
    if (response.status === 416) return new Blob([]);
    return response.blob();
  }

  /** Bytes [start, start+length) of a file (length null: to the end) as {bytes, size}. */
  async range(path, start, length) {
    const headers = { Range: length === null ? `bytes=${start}-` : `bytes=${start}-${start + length - 1}` };
    const response = await this.#file(path, { headers });
    const total = (response.headers.get("Content-Range") || "").match(/\/(\d+)$/);
    if (response.status === 416) return { bytes: new Uint8Array(0), size: total ? Number(total[1]) : 0 };
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { bytes, size: total ? Number(total[1]) : bytes.length };
  }

  /** Like range(), decoded as UTF-8: {text, size, bytes}; rejects for a binary file. */
  async text(path, start, length) {
    const { bytes, size } = await this.range(path, start, length);
    if (isBinary(bytes)) throw new HttpError(-1, "This is not a text file.");
    return { text: new TextDecoder("utf-8").decode(bytes), size, bytes };
  }

  /** PUT a File; rejects with 409 when it exists and overwrite is false. */
  async upload(path, file, overwrite, maxSize) {
    if (file.size > maxSize) throw new HttpError(413, `larger than the server's limit (${formatSize(maxSize)})`);
    const headers = { "Content-Type": "application/octet-stream" };
    await this.#file(path, { method: "PUT", body: file, overwrite, headers });
  }
}

/** NUL bytes or invalid UTF-8 near the start: not text. */
export function isBinary(bytes) {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: true });
    return false;
  } catch {
    return true;
  }
}
