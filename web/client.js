// The page's side of worker.js: the same methods as the `Webtune` class, each answered by the
// worker, so that heavy work never runs on the main thread.
//
//   const wt = new WebtuneClient();
//   await wt.create("gpu");
//   await wt.openModel([file]);              // File/Blob objects cross without copying
//   await wt.loadDataset(name, text);
//   await wt.train(config, (event) => …);    // wt.stop() / wt.pause() at any time
export class WebtuneClient {
  constructor(url = new URL("./worker.js", import.meta.url)) {
    this.worker = new Worker(url, { type: "module" });
    this.pending = new Map();
    this.next = 0;
    // A worker that dies (an uncaught error, a crashed module, a lost GPU device) fails every
    // call in flight with kind "engine"; the caller starts a new client (see app.js).
    this.dead = null;
    const die = (event) => {
      this.dead = event?.message || "the engine's worker stopped";
      this.worker.terminate();
      for (const call of this.pending.values()) {
        call.reject(Object.assign(new Error(this.dead), { kind: "engine" }));
      }
      this.pending.clear();
    };
    this.worker.addEventListener("error", die);
    this.worker.addEventListener("messageerror", die);
    this.worker.onmessage = ({ data }) => {
      const call = this.pending.get(data.id);
      if (!call) return;
      if ("event" in data) return call.onEvent?.(data.event);
      if ("text" in data) return call.onText?.(data.text);
      this.pending.delete(data.id);
      if (data.error) call.reject(Object.assign(new Error(data.error.message), { kind: data.error.kind }));
      else call.resolve(data.value);
    };
  }

  call(method, args = [], callbacks = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      if (this.dead) {
        reject(Object.assign(new Error(this.dead), { kind: "engine" }));
        return;
      }
      this.pending.set(id, { resolve, reject, ...callbacks });
      this.worker.postMessage({ id, method, args });
    });
  }

  create(tier) { return this.call("create", [tier]); }
  openModel(files, quantize, precision) { return this.call("openModel", [files, quantize, precision]); }
  device() { return this.call("device"); }
  selfCheck() { return this.call("selfCheck"); }
  bench(config) { return this.call("bench", [config]); }
  warmUp(config) { return this.call("warmUp", [config]); }
  modelInfo() { return this.call("modelInfo"); }
  loadDataset(name, text, options, validation) { return this.call("loadDataset", [name, text, options, validation]); }
  loadDocuments(name, files, options) { return this.call("loadDocuments", [name, files, options]); }
  preview(offset, limit) { return this.call("preview", [offset, limit]); }
  previewLine(line, limit) { return this.call("previewLine", [line, limit]); }
  memoryBytes() { return this.call("memoryBytes"); }
  plan(config, budget) { return this.call("plan", [config, budget]); }
  runCommand(config) { return this.call("runCommand", [config]); }
  trainFields() { return this.call("trainFields"); }
  presets(budget) { return this.call("presets", [budget]); }
  runLength(config) { return this.call("runLength", [config]); }
  modelPresets() { return this.call("modelPresets"); }
  sizeUp(name, configJson, quantize, seqLen) { return this.call("sizeUp", [name, configJson, quantize, seqLen]); }
  train(config, onEvent) { return this.call("train", [config, "__onEvent__"], { onEvent }); }
  resume(onEvent) { return this.call("resume", ["__onEvent__"], { onEvent }); }
  searchSettings(config, search, onEvent) { return this.call("searchSettings", [config, search, "__onEvent__"], { onEvent }); }
  stop() { return this.call("stop"); }
  pause() { return this.call("pause"); }
  checkpointFiles() { return this.call("checkpointFiles"); }
  restoreCheckpoint(files) { return this.call("restoreCheckpoint", [files]); }
  evaluate(exactMatch, adapter, onProgress) { return this.call("evaluate", [exactMatch, adapter, "__onEvent__"], { onEvent: onProgress }); }
  generate(prompt, options, onText) { return this.call("generate", [prompt, options, "__onText__"], { onText }); }
  exportAdapter(merged, archive) { return this.call("exportAdapter", [merged, archive]); }
  exportGguf(merged, quant, archive) { return this.call("exportGguf", [merged, quant, archive]); }
  exportJob(config, baseModel, archive) { return this.call("exportJob", [config, baseModel, archive]); }
  importAdapter(files) { return this.call("importAdapter", [files]); }
  zipFiles(name, files) { return this.call("zipFiles", [name, files]); }
  loadAdapter(name, files) { return this.call("loadAdapter", [name, files]); }
  adapters() { return this.call("adapters"); }
  removeAdapter(name) { return this.call("removeAdapter", [name]); }
  encoderFiles() { return this.call("encoderFiles"); }
  openEncoder(files) { return this.call("openEncoder", [files]); }
  addDocuments(files, onProgress) { return this.call("addDocuments", [files, "__onEvent__"], { onEvent: onProgress }); }
  removeDocument(id) { return this.call("removeDocument", [id]); }
  documents() { return this.call("documents"); }
  search(question, options) { return this.call("search", [question, options]); }
  ask(question, options, onText) { return this.call("ask", [question, options, "__onText__"], { onText }); }
  exportIndex() { return this.call("exportIndex"); }
  importIndex(file) { return this.call("importIndex", [file]); }
  generatePairs(config, onEvent) { return this.call("generatePairs", [config, "__onEvent__"], { onEvent }); }
  pairsJsonl(pairs, options) { return this.call("pairsJsonl", [pairs, options]); }
  advise(documents, changed, texts, config, onEvent) {
    return this.call("advise", [documents, changed, texts, config, "__onEvent__"], { onEvent });
  }
  /** Stops the worker for good (calls in flight never answer). */
  terminate() { this.worker.terminate(); this.dead = "terminated"; }
}
