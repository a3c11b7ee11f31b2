// webtune's engine in a dedicated worker, so that the page's main thread stays free while a
// model loads, trains or generates. It runs the JavaScript API of the page's own wasm module
// (the `Webtune` class) and answers the page's calls (see client.js):
//   → {id, method, args}            (an argument "__onEvent__" / "__onText__" becomes a callback)
//   ← {id, event} / {id, text}      (callbacks, as they happen)
//   ← {id, value} or {id, error: {message, kind}}
// `stop` and `pause` are answered at once, even while another call is running.
// Bytes in an answer (checkpoints, exports: tens of MiB) are moved to the page, not copied,
// so that the main thread never spends a frame on them.
import init, { Webtune } from "./webtune-web.js";

const ready = init();
let webtune = null;

/// The buffers of the byte arrays in `value` (itself, or an object's or array's members, one
/// level deep) that can move to the page: never the module's own memory.
async function movable(value) {
  const memory = (await ready).memory.buffer;
  const buffers = new Set();
  const members = ArrayBuffer.isView(value) ? [value]
    : value && typeof value === "object" ? Object.values(value) : [];
  for (const m of members) {
    if (ArrayBuffer.isView(m) && m.buffer instanceof ArrayBuffer && m.buffer !== memory) buffers.add(m.buffer);
  }
  return [...buffers];
}

function callback(id, marker) {
  if (marker === "__onEvent__") return (event) => self.postMessage({ id, event });
  if (marker === "__onText__") return (text) => self.postMessage({ id, text });
  return marker;
}

self.onmessage = async ({ data: { id, method, args = [] } }) => {
  try {
    await ready;
    let value;
    if (method === "create") {
      webtune = await Webtune.create(...args);
      value = webtune.device();
    } else if (webtune === null) {
      throw Object.assign(new Error("call create first"), { kind: "input" });
    } else if (typeof webtune[method] !== "function") {
      throw Object.assign(new Error(`webtune has no method ${method}`), { kind: "input" });
    } else {
      value = await webtune[method](...args.map((a) => callback(id, a)));
    }
    self.postMessage({ id, value }, await movable(value));
  } catch (e) {
    self.postMessage({ id, error: { message: String(e?.message ?? e), kind: e?.kind ?? "internal" } });
  }
};
