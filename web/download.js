// Downloads a model into the page's model cache (store.js) with progress: one file (a `.gguf`
// URL), or a Hugging Face repository's files laid out as `<repo>/resolve/main/<file>`:
// `config.json`, the weights (the shards `model.safetensors.index.json` lists, or
// `model.safetensors`), and the tokenizer and generation files when the repository has them.
// Bytes stream into OPFS as they arrive; nothing holds a whole file in memory. The page calls
// `downloadOffThread`, which runs `downloadModel` in download-worker.js.
import * as store from './store.js';

const OPTIONAL = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json'];

class DownloadError extends Error {
  constructor(message) {
    super(message);
    this.kind = 'download';
  }
}

/// The URL of `file` in the repository at `base`.
const fileUrl = (base, file) => `${base}/resolve/main/${file}`;

/// The error of a download `signal` stopped.
const stopped = () => Object.assign(new Error('the download was stopped'), { kind: 'stopped' });

async function get(url, optional = false, signal = undefined) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    if (signal?.aborted) throw stopped();
    throw new DownloadError(`could not reach ${url}: ${err.message}`);
  }
  if (response.ok) return response;
  if (optional && response.status === 404) return null;
  throw new DownloadError(`${url} answered ${response.status} ${response.statusText}`);
}

/// The text of the `config.json` of the hub repository at `base` (to size a model before its
/// weights are fetched).
export async function readConfig(base) {
  return (await get(fileUrl(base.replace(/\/+$/, ''), 'config.json'))).text();
}

/// The files to fetch for `url` as `[name, url, optional]`.
async function plan(url, signal) {
  const clean = url.trim().replace(/\/+$/, '');
  const last = clean.split('/').pop();
  if (/\.(gguf|safetensors)$/i.test(last)) return [[last, clean, false]];
  const base = clean.replace(/\/(resolve|blob|tree)\/main(\/.*)?$/, '');
  const files = [['config.json', fileUrl(base, 'config.json'), false]];
  const index = await get(fileUrl(base, 'model.safetensors.index.json'), true, signal);
  if (index) {
    const shards = new Set(Object.values((await index.json()).weight_map ?? {}));
    if (!shards.size) throw new DownloadError(`${base}: model.safetensors.index.json lists no shards`);
    files.push(['model.safetensors.index.json', fileUrl(base, 'model.safetensors.index.json'), false]);
    for (const shard of shards) files.push([shard, fileUrl(base, shard), false]);
  } else {
    files.push(['model.safetensors', fileUrl(base, 'model.safetensors'), false]);
  }
  for (const name of OPTIONAL) files.push([name, fileUrl(base, name), true]);
  return files;
}

/// Downloads the model at `url` into the cache (or memory, without OPFS), calling
/// `onProgress({file, loaded, total, files, done})` as bytes arrive. Resolves to
/// `{key, label, files: [File | {name, data: Blob}]}`; a model already cached is not fetched.
/// Aborting `signal` stops it (kind `stopped`; what was written stays, listed as unfinished).
export async function downloadModel(url, onProgress, signal = undefined) {
  const absolute = new URL(url, location.href).href;
  const key = store.modelKey(absolute);
  const label = absolute.replace(/^[a-z]+:\/\/[^/]+\//, '');
  const persist = await store.available();
  if (persist) {
    const cached = await store.cachedModel(key);
    if (cached) return { ...cached, cached: true };
  }
  const files = await plan(absolute, signal);
  const names = [];
  const sizes = {};
  const memory = [];
  for (const [index, [name, fileUrl_, optional]] of files.entries()) {
    const response = await get(fileUrl_, optional, signal);
    if (!response) continue;
    const total = Number(response.headers.get('content-length')) || null;
    let loaded = 0;
    const progress = (bytes) => {
      loaded += bytes;
      onProgress?.({ file: name, loaded, total, files: files.length, done: index });
    };
    progress(0);
    try {
      if (persist) {
        const file = await store.write(`models/${key}/${name}`, response.body, progress);
        sizes[name] = file.size;
      } else {
        const blob = await response.blob();
        progress(blob.size);
        memory.push({ name, data: blob });
      }
    } catch (err) {
      throw signal?.aborted ? stopped() : err;
    }
    if (total !== null && loaded !== total && persist) {
      throw new DownloadError(`${fileUrl_} ended after ${loaded} of ${total} bytes`);
    }
    names.push(name);
  }
  if (!persist) return { key, label, files: memory, cached: false };
  return { ...(await store.finishModel(key, label, names, sizes)), cached: false };
}

/// `downloadModel` in a worker of its own (download-worker.js), so that the page's main thread
/// only sees progress; the same answer, errors with their `kind`.
export function downloadOffThread(url, onProgress, signal = undefined) {
  const worker = new Worker(new URL('./download-worker.js', import.meta.url), { type: 'module' });
  const stop = () => worker.postMessage({ stop: true });
  signal?.addEventListener('abort', stop);
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      if (data.progress) return onProgress?.(data.progress);
      if (data.error) reject(Object.assign(new Error(data.error.message), { kind: data.error.kind }));
      else resolve(data.value);
    };
    worker.onerror = (event) => reject(new DownloadError(`the download stopped: ${event.message ?? 'its worker failed'}`));
    worker.postMessage({ url: new URL(url, location.href).href });
  }).finally(() => {
    signal?.removeEventListener('abort', stop);
    worker.terminate();
  });
}
