// Runs download.js's `downloadModel` in a worker of its own, so that the stream of a model's
// bytes into OPFS never occupies the page's main thread (Chromium drains a fetch's body into
// its stream in tasks of up to tens of MiB: 55–66 ms each there, on a 2-core machine).
//   → {url}   ← {progress} (at most every 100 ms, and at each file's start and end)
//   → {stop}  ← {value} or {error: {message, kind}}
import { downloadModel } from './download.js';

const abort = new AbortController();
let last = 0;

self.onmessage = async ({ data }) => {
  if (data.stop) {
    abort.abort();
    return;
  }
  try {
    const value = await downloadModel(data.url, (progress) => {
      const now = performance.now();
      const edge = progress.loaded === 0 || progress.loaded === progress.total;
      if (!edge && now - last < 100) return;
      last = now;
      self.postMessage({ progress });
    }, abort.signal);
    self.postMessage({ value });
  } catch (err) {
    self.postMessage({ error: { message: String(err?.message ?? err), kind: err?.kind ?? 'download' } });
  }
};
