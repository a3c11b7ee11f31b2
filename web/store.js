// What the page keeps between visits, in the Origin Private File System (OPFS): models (so a
// reload does not ask for the files again or download them again), the current run's
// checkpoint and dataset (so a closed tab can resume), and the history of finished runs.
//
//   models/<key>/manifest.json   {key, label, files: [names]}; the files beside it
//   models/last.json             {key} of the model opened last
//   run/run.json                 the current run: config, progress, where its checkpoint is
//   run/dataset/<name>           the run's training data (a JSONL or CSV file)
//   run/documents/<name>         or its documents (domain adaptation)
//   run/checkpoint-<step>/…      the files of `Webtune.checkpointFiles()`
//   history.json                 finished runs, newest first
//   runs/<id>/…                  a finished run's adapter (PEFT files), for the newest runs
//   encoder/<name>/…             the sentence encoder's files (documents.js)
//   rag/index.wtindex            the document index (`Webtune.exportIndex()`'s bytes)
//   rag/files/<name>             the indexed documents as given (to train on them)
//
// Every file is written through `createWritable`, which the browser commits on `close()`, so
// a tab closed mid-write leaves the previous version. A checkpoint is written into a new
// folder before run.json points at it; the old folder is removed afterwards.
// Without OPFS (a private window, an old browser) `available()` is false and nothing persists.

async function root() {
  return navigator.storage.getDirectory();
}

/// Whether this browser gives the page an Origin Private File System.
export async function available() {
  try {
    await root();
    return true;
  } catch {
    return false;
  }
}

/// The folder at `path` under `base` (the page's OPFS root unless given).
async function folder(path, create = false, base = null) {
  let dir = base ?? await root();
  for (const part of path.split('/').filter(Boolean)) {
    dir = await dir.getDirectoryHandle(part, { create });
  }
  return dir;
}

/// `'a/b/c'` → `['a/b', 'c']`; a name with no folder (`'run'`) is in the root: `['', 'run']`.
export function split(path) {
  const at = path.lastIndexOf('/');
  return at < 0 ? ['', path] : [path.slice(0, at), path.slice(at + 1)];
}

/// Writes `data` (a Blob, ArrayBuffer, typed array or string, or a ReadableStream of chunks)
/// to `path` (under the folder handle `base`, when given: a folder the person picked);
/// `onChunk(bytes)` hears of each chunk of a stream.
export async function write(path, data, onChunk, base = null) {
  const [dir, name] = split(path);
  const handle = await (await folder(dir, true, base)).getFileHandle(name, { create: true });
  const out = await handle.createWritable();
  try {
    if (data instanceof ReadableStream) {
      const reader = data.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await out.write(value);
        onChunk?.(value.byteLength);
      }
    } else {
      await out.write(data);
    }
    await out.close();
  } catch (err) {
    await out.abort().catch(() => {});
    throw err;
  }
  return handle.getFile();
}

/// The file at `path` (a `File`, read lazily with `slice`), or null.
export async function read(path) {
  const [dir, name] = split(path);
  try {
    return await (await (await folder(dir)).getFileHandle(name)).getFile();
  } catch {
    return null;
  }
}

export async function readJson(path) {
  const file = await read(path);
  if (!file) return null;
  try {
    return JSON.parse(await file.text());
  } catch {
    return null;
  }
}

export const writeJson = (path, value) => write(path, JSON.stringify(value, null, 1));

/// Removes a file or folder; missing is fine.
export async function remove(path) {
  const [dir, name] = split(path);
  try {
    await (await folder(dir)).removeEntry(name, { recursive: true });
  } catch {
    // already gone
  }
}

/// Names in a folder (empty when it does not exist).
export async function list(path) {
  const names = [];
  try {
    for await (const name of (await folder(path)).keys()) names.push(name);
  } catch {
    // no folder
  }
  return names;
}

// ---- models ----

/// A folder-safe key for a model's origin (a URL, or local files' names and sizes).
export function modelKey(origin) {
  let hash = 2166136261;
  for (const c of origin) hash = Math.imul(hash ^ c.charCodeAt(0), 16777619) >>> 0;
  const readable = origin.replace(/^[a-z]+:\/\/[^/]+\//, '').replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${readable.slice(-48)}-${hash.toString(16)}`;
}

/// The cached model `key` as `{key, label, files: [File]}`, or null when it is missing or
/// incomplete.
export async function cachedModel(key) {
  const manifest = await readJson(`models/${key}/manifest.json`);
  if (!manifest) return null;
  const files = [];
  for (const name of manifest.files) {
    const file = await read(`models/${key}/${name}`);
    if (!file || (manifest.sizes && file.size !== manifest.sizes[name])) return null;
    files.push(file);
  }
  return { key, label: manifest.label, files };
}

/// Copies files (`File`s or `{name, data}`) into the cache as model `key` and returns the
/// cached copies.
export async function cacheModel(key, label, files) {
  const sizes = {};
  for (const f of files) {
    const data = f.data ?? f;
    await write(`models/${key}/${f.name}`, data.stream());
    sizes[f.name] = data.size;
  }
  await writeJson(`models/${key}/manifest.json`, { key, label, files: files.map((f) => f.name), sizes });
  return cachedModel(key);
}

/// Marks the cache's model `key` complete once its files are there (see `download.js`).
export async function finishModel(key, label, names, sizes) {
  await writeJson(`models/${key}/manifest.json`, { key, label, files: names, sizes });
  return cachedModel(key);
}

/// The models in the cache, largest first: `{key, label, bytes, complete}` each (an
/// unfinished download counts the bytes it holds).
export async function cachedModels() {
  const models = [];
  for (const key of await list('models')) {
    if (key === 'last.json') continue;
    const manifest = await readJson(`models/${key}/manifest.json`);
    let bytes = 0;
    for (const name of await list(`models/${key}`)) bytes += (await read(`models/${key}/${name}`))?.size ?? 0;
    models.push({ key, label: manifest?.label ?? key, bytes, complete: Boolean(manifest) });
  }
  return models.sort((a, b) => b.bytes - a.bytes);
}

/// Removes model `key` from the cache.
export const deleteModel = (key) => remove(`models/${key}`);

// ---- the current run and the history ----

/// The current run's record, or null.
export const savedRun = () => readJson('run/run.json');

/// Starts a run record (dropping any earlier one) with its dataset's text.
export async function startRun(record, dataset) {
  await remove('run');
  if (dataset.documents) {
    for (const { name, data } of dataset.documents) await write(`run/documents/${name}`, data);
  } else {
    await write(`run/dataset/${dataset.name}`, dataset.text);
  }
  await writeJson('run/run.json', record);
}

/// Updates the run record without a new checkpoint (status, losses).
export const updateRun = (record) => writeJson('run/run.json', record);

/// Saves checkpoint files (`{name: Uint8Array}`) for `record.step`, points the record at them,
/// then removes the previous checkpoint. When a write fails (the browser's storage is full,
/// say), the new checkpoint's files are removed again and the record keeps pointing at the
/// previous one, which stays whole; a full storage is reported as such (kind `storage`).
export async function saveCheckpoint(record, files) {
  const dir = `run/checkpoint-${record.step}`;
  const previous = record.checkpoint;
  try {
    for (const [name, bytes] of Object.entries(files)) await write(`${dir}/${name}`, bytes);
    record.checkpoint = dir;
    await writeJson('run/run.json', record);
  } catch (err) {
    record.checkpoint = previous;
    if (dir !== previous) await remove(dir);
    if (err?.name !== 'QuotaExceededError') throw err;
    const kept = previous ? `the one of step ${previous.split('-').pop()} is kept` : 'there is no earlier one';
    throw Object.assign(new Error(`the browser's storage is full: the checkpoint of step ${record.step} `
      + `was not saved (${kept}). Free some space (Earlier runs, other sites' data) to save the next.`),
    { kind: 'storage' });
  }
  if (previous && previous !== dir) await remove(previous);
}

/// The saved checkpoint's files as `{name: Uint8Array}` and the run's dataset `{name, text}`.
export async function loadRun(record) {
  const files = {};
  for (const name of await list(record.checkpoint)) {
    files[name] = new Uint8Array(await (await read(`${record.checkpoint}/${name}`)).arrayBuffer());
  }
  const name = record.dataset.name;
  if (record.dataset.documents) {
    const documents = [];
    for (const doc of (await list('run/documents')).sort()) documents.push({ name: doc, data: await read(`run/documents/${doc}`) });
    return { files, dataset: { name, documents } };
  }
  const data = await read(`run/dataset/${name}`);
  return { files, dataset: { name, text: data ? await data.text() : null } };
}

/// Finished runs whose adapters are kept (older ones stay in the history without one).
const KEPT_ADAPTERS = 10;

/// Ends the current run: adds it to the history (when `finished`) with its adapter (`files`,
/// `{name: Blob}`, kept under `runs/<id>/`), and removes the run's checkpoint and dataset.
export async function endRun(record, finished, files) {
  if (finished) {
    const history = (await readJson('history.json')) ?? [];
    const { checkpoint, ...summary } = record;
    summary.id = `run-${record.started.replace(/[^0-9]/g, '')}`;
    if (files) {
      for (const [name, blob] of Object.entries(files)) await write(`runs/${summary.id}/${name}`, blob);
      summary.adapter = Object.keys(files);
    }
    history.unshift(summary);
    for (const old of history.slice(KEPT_ADAPTERS)) {
      if (old.adapter) await remove(`runs/${old.id}`);
      delete old.adapter;
    }
    await writeJson('history.json', history.slice(0, 50));
  }
  await remove('run');
}

export const history = async () => (await readJson('history.json')) ?? [];

/// Removes finished run `id` from the history, with its kept adapter.
export async function deleteRun(id) {
  const left = (await history()).filter((r) => r.id !== id);
  await remove(`runs/${id}`);
  await writeJson('history.json', left);
}

/// A finished run's kept adapter as `File`s (for `importAdapter`), or null.
export async function runAdapter(run) {
  if (!run?.adapter) return null;
  const files = await Promise.all(run.adapter.map((name) => read(`runs/${run.id}/${name}`)));
  return files.every(Boolean) ? files : null;
}
