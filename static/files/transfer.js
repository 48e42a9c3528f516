// Download (a blob: URL from an authenticated fetch: the token never
// appears in a URL) and upload into a writable root, asking before a file
// is replaced.

import { el } from "../dom.js";
import { ask, toast } from "../ui.js";

const REVOKE_AFTER_MS = 60_000; // time for the browser to start the download

/** Save the file at `path` as `name`. */
export async function download(api, path, name) {
  try {
    const blob = await api.blob(path);
    const url = URL.createObjectURL(blob);
    const a = el("a");
    a.href = url;
    a.download = name;
    a.rel = "noopener";
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
  } catch (err) {
    toast(`Could not download ${name}: ${err.message}`, { error: true });
  }
}

/** Upload `files` (a FileList's contents) into the directory `dir`, one by one. */
export async function upload(api, dir, files, maxSize) {
  for (const file of files) {
    const path = `${dir === "/" ? "" : dir}/${file.name}`;
    try {
      await api.upload(path, file, false, maxSize);
    } catch (err) {
      if (err.status !== 409 || !/overwrite/.test(err.message)) {
        toast(`Could not upload ${file.name}: ${err.message}`, { error: true });
        continue;
      }
      const replace = await ask(`${file.name} exists here. Replace it?`, { ok: "Replace" });
      if (!replace) continue;
      try {
        await api.upload(path, file, true, maxSize);
      } catch (again) {
        toast(`Could not upload ${file.name}: ${again.message}`, { error: true });
        continue;
      }
    }
    toast(`Uploaded ${file.name}`);
  }
}
