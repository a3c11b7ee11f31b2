// The page's workspace: views for the model, data, training, evaluation, chat, documents,
// export and runs (views.js shows one at a time), every action a call to the engine in its
// worker (client.js → worker.js → the `Webtune` class). This file only
// moves things between the page and that API: the run's lifecycle (start, pause, stop,
// resume, checkpoints, recovery) is run.js's, what it keeps between visits goes through
// store.js, downloads through download.js.
//
// Elements carry `data-status` (and the training status `data-step`, `data-saved`,
// `data-resumed-at`, `data-restored`; the engine line `data-tier`) for tests to wait on;
// `body[data-busy]` names the task running (buttons do nothing until it ends).
import { WebtuneClient } from './client.js';
import * as store from './store.js';
import { downloadOffThread } from './download.js';
import * as documents from './documents.js';
import { FATAL, Lifecycle, newRun } from './run.js';
import * as views from './views.js';
import * as preview from './preview.js';
import * as search from './search.js';
import * as chat from './chat.js';
import * as runs from './runs.js';
import * as speedCheck from './speed.js';
import * as exports from './export.js';
import { plot } from './chart.js';
import * as cache from './cache.js';
import * as settings from './settings.js';
import * as presets from './presets.js';
import * as hub from './hub.js';

const DEFAULT_MODEL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';
const DEMO_DATA = 'demo/support.jsonl';
/// The question the guided first run asks both models (one the demo data does not hold).
const FIRST_QUESTION = 'How many days of annual leave do I get?';
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const mib = (bytes) => (bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
const count = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n.toLocaleString('en'));

const page = {
  wt: null,
  model: null, // {key, label, info}
  dataset: null, // {name, text, options}
  trained: false,
  busy: false,
  warming: null, // the warm-up in flight (settles, never rejects)
};

function show(id, status, text) {
  const el = $(id);
  el.dataset.status = status;
  el.textContent = text;
}

function message(text, status = 'error') {
  show('message', text ? status : 'idle', text);
}

function failure(what, err) {
  const kind = err?.kind ? ` [${err.kind}]` : '';
  message(`${what}: ${err?.message ?? err}${kind}`);
}

/// Runs `work` with the page's buttons off; reports a failure instead of throwing. While it
/// runs, a corner of the page says what is running and for how long, with a Stop when
/// `stop` (what stopping does) is given; work that is stopped ends as it is, not as failed.
async function task(what, work, stop = null) {
  if (page.busy) return;
  page.busy = true;
  buttons();
  const started = performance.now();
  const tick = () => {
    $('busy-text').textContent = `${what}… ${Math.round((performance.now() - started) / 1000)} s`;
  };
  tick();
  const clock = setInterval(tick, 1000);
  $('busy').hidden = false;
  document.body.dataset.busy = what;
  $('busy-stop').hidden = !stop;
  $('busy-stop').disabled = false;
  $('busy-stop').onclick = () => {
    $('busy-stop').disabled = true;
    stop();
  };
  try {
    message('');
    await work();
  } catch (err) {
    if (err?.kind === 'stopped') message(`${what}: stopped.`, 'note');
    else failure(what, err);
  } finally {
    clearInterval(clock);
    $('busy').hidden = true;
    delete document.body.dataset.busy;
    page.busy = false;
    buttons();
  }
}

/// Stops the engine's current work (a run, an answer, pairs), keeping what it made.
const stopEngine = () => page.wt?.stop();

function buttons() {
  const idle = !page.busy && page.wt !== null;
  const ready = idle && page.model !== null;
  $('hf-download').disabled = !idle;
  $('model-files').disabled = !idle;
  $('data-load').disabled = !ready;
  $('first-run').disabled = !ready;
  $('train-start').disabled = !ready || page.dataset === null;
  $('search').disabled = !ready || page.dataset === null;
  $('compare').disabled = !ready;
  $('evaluate-start').disabled = !ready || page.dataset === null;
  $('compare-all').disabled = !ready;
  $('adapter-files').disabled = !ready;
  exports.buttons(ctx, idle, ready);
  $('resume').disabled = !idle;
  $('runs-resume').disabled = !idle;
  $('discard').disabled = !idle;
  documents.buttons(ctx, idle, ready);
  chat.buttons(ctx, ready);
  speedCheck.buttons(ctx, ready);
  preview.buttons(ctx, ready && page.dataset !== null);
}

/// What the views' modules need of the page.
const ctx = {
  page, $, show, task, stopEngine, params, table, adaptTo, useText, unfinished, resumeRun, mib, openCached, button,
  showPlan, downloadTask, config,
};

/// The run offered for resume, if one is.
function unfinished() {
  return $('resume-panel').hidden ? null : life.run;
}

/// Resumes the run offered for resume.
function resumeRun() {
  return task('Resuming', resumeTraining);
}

// ---- engine and model ----

/// Starts the engine's worker: on the tier `?tier=` asks for (`gpu`, `cpu`), or by default
/// on the one the engine picks (`auto`: WebGPU unless there is none or it is a software
/// renderer). Returns the device, and why WebGPU is not used when it is not.
async function startEngine() {
  const wanted = params.get('tier') ?? 'auto';
  page.wt = new WebtuneClient(new URL('./worker.js', import.meta.url));
  // For the console and tests: the engine's client (`webtune.client.worker` is its worker).
  globalThis.webtune = { client: page.wt };
  let device;
  let why = null;
  try {
    device = await page.wt.create(wanted);
    why = device.tier_note;
  } catch (err) {
    if (wanted !== 'gpu') throw err;
    device = await page.wt.create('cpu');
    why = { reason: 'no_gpu', text: `WebGPU is not available here: ${err.message}` };
  }
  if (why?.reason === 'no_gpu') {
    message('WebGPU is not available here, so training runs on this tab\'s CPU, which is much '
      + 'slower. Use a browser with WebGPU for real work.', 'note');
  } else if (why?.reason === 'slow_gpu') {
    message(`This machine's GPU computed the engine's test slower than this tab's CPU, so the `
      + 'engine runs on the CPU. (To use the GPU anyway, open the page with ?tier=gpu.)', 'note');
  } else if (why) {
    message(`This browser's WebGPU is a software renderer, so the engine runs on this tab's CPU, `
      + 'which is much faster than it. (To use it anyway, open the page with ?tier=gpu.)', 'note');
  }
  const limit = device.max_tensor_bytes ? `, largest tensor per kernel ${mib(device.max_tensor_bytes)}` : '';
  const name = device.adapter?.name ?? 'this tab\'s CPU';
  const timing = device.tier_timing;
  const timed = timing && device.adapter
    ? ` It computed the engine's test ${(timing.cpu_seconds / timing.gpu_seconds).toFixed(1)}× as fast as this tab's CPU.`
    : '';
  show('engine', 'ready', `Engine: ${device.tier} on ${name}${limit}.${timed}`);
  $('engine').dataset.tier = device.adapter ? 'gpu' : 'cpu';
  return { device, why, wanted };
}

/// The GPU section: the adapter the engine runs on and its self-check (both from the worker,
/// the page's only wasm instance and GPU device).
async function showGpu({ device, why, wanted }) {
  if (!device.adapter) {
    const text = why?.reason === 'software_gpu'
      ? `${why.text}.\n\nA software renderer computes on the CPU through a GPU's interface, `
        + 'which is far slower than webtune\'s own CPU code. Open the page with ?tier=gpu to use it anyway.'
      : why?.reason === 'slow_gpu'
        ? `${why.text}.`
      : why
        ? 'WebGPU is not available here, so webtune cannot use this GPU.\n\nUse a browser with '
          + 'WebGPU switched on (Chrome or Edge 113+, Safari 26+, Firefox 141+ on Windows), and '
          + 'make sure the page is served from https:// or http://127.0.0.1.'
        : `The engine runs on this tab's CPU, as asked (?tier=${wanted}).`;
    show('adapter', { software_gpu: 'software', slow_gpu: 'slow' }[why?.reason] ?? 'unavailable', text);
    show('selfcheck', 'unavailable', 'Skipped: the engine does not run on a GPU.');
    return;
  }
  show('adapter', 'ready', device.summary);
  show('selfcheck', 'pending', 'Running a forward and backward pass on WebGPU and on the CPU…');
  try {
    const check = await page.wt.selfCheck();
    show('selfcheck', 'ok', `WebGPU computes what the CPU computes: loss ${check.loss.toFixed(6)}, `
      + `largest difference in loss and gradients ${check.vs_cpu.max_abs_diff.toExponential(1)} `
      + `(allowed ${check.tolerance.atol.toExponential(0)} + ${check.tolerance.rtol.toExponential(0)}·|x|).`);
  } catch (err) {
    show('selfcheck', 'failed', `WebGPU gave different numbers from the CPU: ${err.message}`);
  }
}

async function openModel(entry) {
  const before = { status: $('model-status').dataset.status, text: $('model-status').textContent };
  show('model-status', 'pending', `Opening ${entry.label}…`);
  let info;
  try {
    const precision = $('precision').value || params.get('precision') || undefined;
    info = await page.wt.openModel(entry.files, $('quantize').checked, precision);
  } catch (err) {
    // The engine keeps the model it had; so does the page.
    if (page.model) show('model-status', before.status, before.text);
    else show('model-status', 'failed', `${entry.label} could not be opened.`);
    throw err;
  }
  life.live = false;
  page.model = { key: entry.key, label: entry.label, info };
  page.dataset = null;
  page.trained = false;
  show('report', 'idle', '');
  preview.problems(ctx, null);
  show('model-status', 'ready', `${entry.label}: ${info.architecture}, ${count(info.parameters)} `
    + `parameters, ${mib(info.weight_bytes)} on the device${info.quantized ? ' (4-bit)' : ''} `
    + `in ${info.precision}, `
    + `context ${info.context_length} tokens${entry.cached ? ' — from this browser\'s cache' : ''}.`);
  if (await store.available()) await store.writeJson('models/last.json', { key: entry.key });
  await cache.show(ctx).catch((err) => failure('Listing the cached models', err));
}

/// Compiles the GPU's kernels for a run of the settings shown (on the data just loaded) while
/// the person goes on choosing them (the engine skips it where it would not pay: the CPU
/// tier, a software renderer). Not awaited: other calls run meanwhile.
function warmUp() {
  show('warm-up', 'pending', 'Compiling the GPU\'s kernels for this run while you choose its settings…');
  page.warming = page.wt.warmUp(config()).then((done) => {
    if (done.ran) {
      show('warm-up', 'ready', `The GPU's kernels for this run are compiled (${done.seconds.toFixed(1)} s): `
        + 'the first training step and the first answer start without waiting for them.');
    } else {
      show('warm-up', 'skipped', '');
      $('warm-up').dataset.reason = done.reason;
    }
  }, (err) => show('warm-up', 'failed', `The kernels were not compiled ahead (${err.message}); they will be on first use.`));
}

/// Opens model `key` from this browser's cache.
async function openCached(key) {
  const cached = await store.cachedModel(key);
  if (!cached) throw Object.assign(new Error('that model is no longer whole in this browser\'s storage'), { kind: 'input' });
  await openModel({ ...cached, cached: true });
}

/// Downloads the model at `url` and opens it, as a task with a Stop.
function downloadTask(url) {
  const download = new AbortController();
  return task('Downloading the model', () => fetchModel(url, download.signal), () => download.abort());
}

async function fetchModel(url, signal) {
  const bar = $('model-progress');
  const before = { status: $('model-status').dataset.status, text: $('model-status').textContent };
  bar.hidden = false;
  show('model-status', 'downloading', `Downloading ${url}…`);
  let entry;
  try {
    entry = await downloadOffThread(url, ({ file, loaded, total, files, done }) => {
      bar.max = total ?? 1;
      bar.value = total ? loaded : 0;
      bar.dataset.seen = Number(bar.dataset.seen ?? 0) + 1;
      $('model-status').textContent = `Downloading ${file} (${done + 1} of up to ${files}): ${mib(loaded)}`
        + (total ? ` of ${mib(total)}` : '');
    }, signal);
  } catch (err) {
    if (page.model) show('model-status', before.status, before.text);
    else show('model-status', 'failed', `No model is open: ${err.message}`);
    throw err;
  } finally {
    bar.hidden = true;
  }
  await openModel(entry);
}

async function openOwnFiles(files) {
  const list = [...files];
  const label = list.length === 1 ? list[0].name : `${list.length} files (${list.map((f) => f.name).join(', ')})`;
  const key = store.modelKey(`local:${list.map((f) => `${f.name}:${f.size}:${f.lastModified}`).join('|')}`);
  let entry = { key, label, files: list };
  // Open first (a broken file is refused before anything is copied), then keep a copy.
  await openModel(entry);
  if (await store.available()) {
    entry = await store.cacheModel(key, label, list);
    page.model.key = entry.key;
    await cache.show(ctx).catch((err) => failure('Listing the cached models', err));
  }
}

/// The model to open at start: the unfinished run's, the last one, or the default.
async function startModel(run) {
  const persist = await store.available();
  const key = run?.model?.key ?? (persist ? (await store.readJson('models/last.json'))?.key : null);
  const cached = key && persist ? await store.cachedModel(key) : null;
  if (cached) return openModel({ ...cached, cached: true });
  return fetchModel(DEFAULT_MODEL);
}

// ---- data ----

async function loadData() {
  let name;
  let text;
  if ($('data-own').checked) {
    const file = $('data-file').files[0];
    if (!file) throw Object.assign(new Error('choose a file first'), { kind: 'input' });
    name = file.name;
    text = await file.text();
  } else {
    name = DEMO_DATA.split('/').pop();
    text = await (await fetch(DEMO_DATA)).text();
  }
  await useData({ name, text }, (options) => page.wt.loadDataset(name, text, options));
}

/// Makes `dataset` ({name, text} or {name, documents}) the training data: `load(options)`
/// reads it in the engine; the report is shown, or why it cannot be used.
async function useData(dataset, load) {
  const options = settings.read('data').data ?? {};
  show('report', 'pending', `Reading ${dataset.name}…`);
  page.dataset = null;
  try {
    const report = await load(options);
    page.dataset = { ...dataset, options };
    show('report', 'ready', describe(report));
    $('report').dataset.format = report.format;
    preview.problems(ctx, report);
    fitObjective(report.format);
    await preview.show(ctx);
    await presets.show(ctx).catch((err) => show('plan', 'failed', `No presets: ${err.message}`));
    warmUp();
  } catch (err) {
    show('report', 'failed', `${dataset.name} cannot be used: ${err.message}`);
    preview.problems(ctx, null);
    throw err;
  }
}

/// Domain adaptation: the documents (`[{name, data}]`) become the training data (windows of
/// their text, every token trained, whole documents held out), and the Train view opens.
async function adaptTo(files) {
  const name = `${files.length} documents`;
  await useData({ name, documents: files }, (options) => page.wt.loadDocuments(name, files, options));
  views.go('train');
}

/// Makes `text` (JSONL the engine wrote, such as pairs from the documents) the training data,
/// and opens the Train view.
async function useText(name, text) {
  await useData({ name, text }, (options) => page.wt.loadDataset(name, text, options));
  views.go('train');
}

function describe(r) {
  const lines = r.format === 'documents' ? [
    `${r.file}, for domain adaptation: cut into ${r.train_rows} windows to train on and ${r.validation_rows} held out, up to ${r.max_tokens} tokens each.`,
    `Every token is trained: ${r.trained_tokens} tokens per epoch.`,
  ] : r.format === 'preference' ? [
    `${r.file}: ${r.rows} preference pairs (prompt, chosen and rejected answers); ${r.train_rows} to train on, ${r.validation_rows} held out.`,
    `Tokens per sequence: mean ${r.mean_tokens.toFixed(0)}, longest ${r.max_tokens}; ${r.trained_tokens} answer tokens scored per epoch. Train them with DPO or ORPO.`,
  ] : [
    `${r.file}: ${r.rows} examples (${r.format}); ${r.train_rows} to train on, ${r.validation_rows} to validate.`,
    `Tokens per example: mean ${r.mean_tokens.toFixed(0)}, longest ${r.max_tokens}; ${r.trained_tokens} tokens trained per epoch.`,
  ];
  if (r.truncated_rows) lines.push(`${r.truncated_rows} examples were cut to fit.`);
  if (r.duplicate_rows) lines.push(`${r.duplicate_rows} duplicates.`);
  if (r.empty_rows || r.blank_lines) lines.push(`${r.empty_rows} empty examples, ${r.blank_lines} blank lines skipped.`);
  if (r.answers) {
    const share = (counts) => {
      const all = counts.reduce((n, [, c]) => n + c, 0);
      return counts.map(([a, c]) => `"${a}" ${c} (${Math.round((100 * c) / all)} %)`).join(', ');
    };
    lines.push(`Answers in training: ${share(r.answers.counts)}`
      + `${r.answers.rebalanced ? `; rebalanced to ${share(r.answers.rebalanced)}` : ''}.`);
  }
  for (const w of r.warnings) lines.push(`Warning: ${w}`);
  return lines.join('\n');
}

// ---- training ----

/// Shows the `webtune train` command (and its config file) that repeats run `run`.
async function showCommand(run) {
  const cmd = await page.wt.runCommand(run);
  $('run-command').textContent = cmd.command;
  $('run-config').textContent = cmd.config;
  $('run-config-name').textContent = cmd.config_file;
}

/// Shows what the memory planner predicts for the Train view's settings, and how long the
/// run is.
async function showPlan() {
  if (!page.model || !page.dataset) return;
  let p;
  try {
    const run = config();
    p = await page.wt.plan(run);
    const length = await page.wt.runLength(run);
    show('run-length', 'ok', length.summary);
    $('run-length').dataset.steps = length.steps;
    $('run-length').dataset.endedBy = length.ended_by;
    await showCommand(run);
  } catch (err) {
    // While a run holds the engine, the plan on show stays.
    if (err.kind !== 'busy') show('plan', 'failed', `No plan: ${err.message}`);
    return;
  }
  const parts = `weights ${mib(p.weights)}, activations ${mib(p.activations)}, logits ${mib(p.logits)}, `
    + `adapter and optimizer ${mib(p.optimizer)}`;
  const budget = p.budget ? ` of ${mib(p.budget)} available` : '';
  if (p.fits) {
    show('plan', 'ok', `Predicted peak memory: ${mib(p.total)}${budget} (${parts}).`);
    $('plan').dataset.total = p.total;
  } else {
    const options = p.suggestions.map((s) => `${s.change} (${mib(s.total)})`).join('; ');
    show('plan', 'failed', `This does not fit: it ${p.problems.join('; ')} (${parts}). `
      + (options ? `These would: ${options}.` : 'Nothing nearby fits: use a smaller model.'));
  }
}

/// The run the Train view's settings describe, on the loaded data (read with its options).
function config() {
  const run = settings.read('run');
  run.data = { ...(page.dataset?.options ?? {}), ...(run.data ?? {}) };
  return run;
}

/// Offers the objectives the loaded data allow (pairs: DPO or ORPO; else SFT).
function fitObjective(format) {
  const pairs = format === 'preference';
  for (const option of $('objective').options) option.disabled = pairs === (option.value === 'sft');
  if ($('objective').selectedOptions[0]?.disabled) $('objective').value = pairs ? 'dpo' : 'sft';
  settings.refresh();
}

const eta = (s) => (s >= 90 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`);

/// What the run's lifecycle (run.js) reports, drawn on the page.
const life = new Lifecycle(() => page.wt, {
  started(run, event) {
    if (event.resumed_at != null) $('train-status').dataset.resumedAt = event.resumed_at;
  },
  step(run, event) {
    const status = $('train-status');
    const step = event.report.step + 1;
    $('train-progress').max = event.total_steps;
    $('train-progress').value = step;
    status.dataset.step = step;
    // Trained tokens are those the loss counts (the answers); processed ones are every
    // position the model computed (prompts and padding too): the engine's speed.
    const pref = event.report.preference;
    status.textContent = `Step ${step} of ${event.total_steps}: loss ${event.report.loss.toFixed(3)}, `
      + (pref ? `reward accuracy ${Math.round(100 * pref.accuracy)} %, margin ${pref.margins.toFixed(3)}, ` : '')
      + `${event.tokens_per_second.toFixed(0)} trained tokens/s (${event.processed_tokens_per_second.toFixed(0)} `
      + `tokens/s processed), about ${eta(event.eta_seconds)} left.`;
    draw();
  },
  evaluated() { draw(); },
  saved(run, step) { $('train-status').dataset.saved = step; },
  failure,
});

async function train(resume, work) {
  const run = life.run;
  show('train-status', 'training', resume ? `Resuming from step ${run.step}…` : 'Starting…');
  // A warm-up still compiling finishes first: the run would compile the same kernels, and two
  // steps at once would hold two steps' memory.
  await page.warming;
  $('pause').disabled = false;
  $('stop').disabled = false;
  let outcome;
  let memory;
  try {
    outcome = await work();
    // Asked here, so that an engine that died at the run's end is replaced like one that died
    // during it.
    memory = await page.wt.memoryBytes();
  } catch (err) {
    if (FATAL.has(err.kind)) await recover(err);
    else {
      const at = Number($('train-status').dataset.step);
      show('train-status', 'failed', `${at ? `Stopped after step ${at}` : 'Not started'}: ${err.message}`);
    }
    throw err;
  } finally {
    $('pause').disabled = true;
    $('stop').disabled = true;
  }
  const { paused, end } = outcome;
  page.trained = true;
  if (paused) {
    show('train-status', 'paused', `Paused after step ${end.steps}. Resume when you like (also after a reload).`);
    offerResume(run, `The run is paused at step ${end.steps} of ${run.total_steps}.`);
    return;
  }
  const pct = (x) => `${Math.round(100 * x)} %`;
  const pairs = run.pairs?.length > 1
    ? ` Held-out pairs: chosen answer preferred ${pct(run.pairs[0][2])} → ${pct(run.pairs.at(-1)[2])}, `
      + `reward accuracy ${pct(run.pairs.at(-1)[1])}.` : '';
  const val = (run.evals.length > 1
    ? ` Validation loss ${run.first_validation_loss.toFixed(3)} → ${run.final_validation_loss.toFixed(3)}.` : '') + pairs;
  show('train-status', 'done', `Done: ${end?.steps} steps (${run.status}).${val} The engine's `
    + `WebAssembly memory peaked at ${mib(memory)}.`);
  $('train-status').dataset.memory = memory;
  offerResume(null);
}

/// Replaces a dead engine with a new one (a new worker, a new device), reopens the model and
/// offers to resume the run from its last saved checkpoint.
async function recover(err) {
  show('train-status', 'failed', `The engine stopped: ${err.message}. Restarting it…`);
  life.note(`the engine stopped: ${err.message}`);
  page.wt.terminate();
  page.wt = null;
  const saved = await life.recover(async (model) => {
    await startEngine();
    const cached = model && await store.cachedModel(model.key);
    if (cached) await openModel({ ...cached, cached: true });
  });
  if (saved) {
    offerResume(saved, `The engine stopped at step ${$('train-status').dataset.step} (${err.message}); `
      + `it has been restarted. Resume the run from its checkpoint at step ${saved.step}?`);
  }
  show('train-status', 'failed', `The engine stopped: ${err.message}. It has been restarted`
    + (saved ? `; the run can resume from step ${saved.step}.` : '.'));
}

/// Offers `run` for resume, saying `text` (the panel shown on every view, and the Runs
/// view's list), or, with null, withdraws the offer.
function offerResume(run, text = '') {
  $('resume-panel').hidden = !run;
  $('resume-text').textContent = text;
  draw();
  showHistory().catch((err) => failure('Listing the runs', err));
}

async function startTraining() {
  const run = newRun(page.model, page.dataset, config());
  const status = $('train-status');
  delete status.dataset.resumedAt;
  status.dataset.saved = 0;
  status.dataset.step = 0;
  life.run = run;
  draw();
  await train(false, () => life.start(run, page.dataset));
}

/// The guided first run: the demo data, the quick preset, a run, and the base and the
/// fine-tuned model answering a demo question side by side — each step the one its view's
/// own button takes, so that every setting stays where it is to change afterwards. The status
/// says where it is and, at the end, how long it took (`data-seconds`).
async function firstRun(stopped) {
  const started = performance.now();
  const note = (text, status = 'pending') => show('first-run-status', status, text);
  const check = () => {
    if (stopped()) throw Object.assign(new Error('the first run was stopped'), { kind: 'stopped' });
  };
  note('Reading the demo data (Data view)…');
  $('data-demo').checked = true;
  await loadData();
  check();
  if (!(await presets.choose(ctx, 'quick'))) throw Object.assign(new Error('no preset fits this device'), { kind: 'too_large' });
  note(`Training with the quick preset: ${$('run-length').textContent} Follow it in the Train view…`);
  await views.go('train');
  await startTraining();
  check();
  if ($('train-status').dataset.status !== 'done') {
    note('The run did not finish: see the Train view.', 'failed');
    return;
  }
  note('Asking the base and the fine-tuned model the same question (Chat view)…');
  $('prompt').value = FIRST_QUESTION;
  await chat.refresh(ctx);
  $('ab-a').value = 'base';
  $('ab-b').value = 'tuned';
  await views.go('chat');
  await compare();
  const seconds = (performance.now() - started) / 1000;
  note(`Done in ${seconds.toFixed(0)} s: ${$('train-status').textContent} The two answers are `
    + 'side by side in the Chat view; the Evaluate view scores both models on the held-out rows, '
    + 'and the Export view downloads the adapter.', 'done');
  $('first-run-status').dataset.seconds = seconds.toFixed(1);
}

/// Continues a paused run, or one saved before the tab closed.
async function resumeTraining() {
  const run = life.run;
  offerResume(null);
  await train(true, () => life.resume(run, {
    async model(model) {
      if (page.model?.key === model.key) return;
      const cached = await store.cachedModel(model.key);
      if (!cached) throw Object.assign(new Error(`the run's model (${model.label}) is no longer cached: open it again`), { kind: 'checkpoint' });
      await openModel({ ...cached, cached: true });
    },
    async dataset(dataset, report, config) {
      page.dataset = dataset;
      show('report', 'ready', describe(report));
      preview.problems(ctx, report);
      await preview.show(ctx);
      settings.write({ data: dataset.options }, 'data');
      settings.write(config, 'run');
      presets.edited(ctx);
      await presets.show(ctx).catch((err) => failure('Sizing the presets', err));
      await showPlan();
    },
  }));
}

/// The Train view's charts (loss and validation loss, learning rate, tokens per second) and
/// its log, from the current run's record.
function draw() {
  const run = life.run;
  const losses = run?.losses ?? [];
  const evals = run?.evals ?? [];
  const rates = run?.rates ?? [];
  const maxStep = run?.total_steps ?? 1;
  const canvas = $('loss-chart');
  canvas.dataset.losses = JSON.stringify(losses);
  canvas.dataset.evals = JSON.stringify(evals);
  plot(canvas, [
    { points: losses, color: '#2f6fdf', dots: true, label: '— training loss' },
    { points: evals, color: '#e67e22', dash: [4, 3], dots: true, label: '● validation loss' },
  ], { maxStep });
  const lrs = rates.map(([s, lr]) => [s, lr]);
  $('lr-chart').dataset.lrs = JSON.stringify(lrs);
  plot($('lr-chart'), [{ points: lrs, color: '#27ae60', label: '— learning rate' }],
    { maxStep, format: (v) => v.toExponential(1) });
  const speeds = rates.map(([s, , processed]) => [s, processed]);
  const trained = rates.map(([s, , , t]) => [s, t]);
  $('speed-chart').dataset.speeds = JSON.stringify(speeds);
  plot($('speed-chart'), [
    { points: speeds, color: '#8e44ad', label: '— processed' },
    { points: trained, color: '#c0392b', dash: [4, 3], label: '- - trained' },
  ], { maxStep, format: (v) => `${v.toFixed(0)} tok/s` });
  showLog();
}

/// The run's log, written out while its panel is open: only the lines not shown yet are
/// added (a step adds one), unless the run or its log changed.
function showLog() {
  const log = life.run?.log ?? [];
  const pre = $('run-log');
  pre.dataset.lines = log.length;
  if (!$('log-panel').open) return;
  let shown = Number(pre.dataset.shown ?? 0);
  if (pre.dataset.run !== life.run?.started || shown > log.length) {
    pre.textContent = '';
    shown = 0;
  }
  if (shown < log.length) pre.append(`${shown ? '\n' : ''}${log.slice(shown).join('\n')}`);
  pre.dataset.shown = log.length;
  pre.dataset.run = life.run?.started ?? '';
}

// ---- evaluate ----

const pct = (x) => (x == null ? '—' : `${(100 * x).toFixed(0)} %`);
const fixed = (x) => (x == null ? '—' : x.toFixed(3));

/// A button saying `text` that runs `action`; `label`, when given, is its accessible name.
function button(text, action, label) {
  const b = Object.assign(document.createElement('button'), { type: 'button', textContent: text });
  if (label) b.setAttribute('aria-label', label);
  b.onclick = action;
  return b;
}

/// Fills table `id` with a header row and rows of cells (text).
function table(id, head, rows) {
  const tr = (cells, tag) => {
    const row = document.createElement('tr');
    row.append(...cells.map((c) => Object.assign(document.createElement(tag), { textContent: c })));
    return row;
  };
  $(id).replaceChildren(tr(head, 'th'), ...rows.map((r) => tr(r, 'td')));
}

/// The validation examples scored with the base model and (once trained) the fine-tuned one,
/// the answers counted as they come; Stop keeps what was answered.
async function evaluate() {
  const score = (adapter, which) => {
    show('eval-status', 'pending', `Scoring the validation examples with the ${which}…`);
    return page.wt.evaluate(true, adapter, ({ answered, questions }) => show('eval-status',
      'pending', `Answering the validation questions with the ${which}: ${answered} of ${questions}…`));
  };
  const base = await score(false, 'base model');
  let tuned = null;
  if (page.trained && !base.stopped) tuned = await score(true, 'fine-tuned model');
  const both = (f) => [f(base), tuned ? f(tuned) : 'train first'];
  table('eval-table', ['', 'base model', 'fine-tuned'], [
    ['validation loss', ...both((e) => fixed(e.loss))],
    ['perplexity', ...both((e) => fixed(e.perplexity))],
    ['exact match', ...both((e) => pct(e.exact_match))],
    ['first word right', ...both((e) => pct(e.first_word_accuracy))],
  ]);
  const mark = (a) => `${a.correct ? '✓' : '✗'} ${a.got}`;
  table('eval-examples', ['expected', 'base model', 'fine-tuned'], base.answers.map((a, i) => [
    a.expected, mark(a), tuned?.answers[i] ? mark(tuned.answers[i]) : '']));
  $('eval-table').dataset.base = JSON.stringify(base.loss);
  $('eval-table').dataset.tuned = JSON.stringify(tuned?.loss ?? null);
  const stopped = [base, tuned].find((e) => e?.stopped);
  if (stopped) {
    const n = stopped.answers.length;
    show('eval-status', 'note', `Stopped: ${n} question${n === 1 ? '' : 's'} answered; the `
      + 'accuracies are over those.');
  } else {
    show('eval-status', 'ready', `Scored ${base.examples} validation examples of ${base.data}.`);
  }
}

// ---- chat, export ----

async function compare() {
  const prompt = $('prompt').value;
  const options = { max_new_tokens: Number($('max-tokens').value) };
  let stopped = false;
  for (const side of ['a', 'b']) {
    const pick = $(`ab-${side}`);
    const id = `answer-${side}`;
    $(`${id}-label`).textContent = `${side.toUpperCase()}: ${pick.selectedOptions[0]?.textContent ?? ''}`;
    $(id).dataset.choice = pick.value;
    $(`${id}-speed`).textContent = '';
    if (pick.value === 'tuned' && !page.trained) {
      show(id, 'idle', 'Train (or resume) first.');
      continue;
    }
    if (stopped) {
      show(id, 'idle', 'Not asked: stopped.');
      continue;
    }
    show(id, 'generating', '');
    const out = await page.wt.generate(prompt, { ...options, ...chat.choice(pick.value) }, (text) => {
      $(id).textContent += text;
    });
    show(id, 'done', out.text);
    $(`${id}-speed`).textContent = speed(out);
    stopped = out.stop === 'caller';
  }
}

/** "prompt 40 tokens in 0.3 s (133 tokens/s), 64 new tokens at 12.0 tokens/s". */
function speed(out) {
  return `prompt ${out.prompt_tokens} tokens in ${out.first_text_seconds.toFixed(1)} s `
    + `(${out.prefill_tokens_per_second.toFixed(0)} tokens/s), ${out.tokens} new tokens `
    + `at ${out.decode_tokens_per_second.toFixed(1)} tokens/s${out.stop === 'caller' ? ' (stopped)' : ''}`;
}

/** Keeps the chosen PEFT adapter files beside the open model as `adapter N`. */
async function keepAdapter(files) {
  const kept = await page.wt.loadAdapter(`adapter ${(await page.wt.adapters()).length + 1}`, [...files]);
  const list = (await page.wt.adapters()).map((a) => `${a.name} (r ${a.r}, ${(a.bytes / 2 ** 20).toFixed(1)} MiB)`);
  show('adapters-status', 'ready', `Kept ${kept.name}. Adapters on this model: ${list.join(', ')}.`);
  document.getElementById('adapters-status').dataset.count = String(list.length);
}

/** The same question to the base model, the fine-tuned one and each kept adapter. */
async function compareAll() {
  const prompt = $('prompt').value;
  const max_new_tokens = Number($('max-tokens').value);
  const choices = [['Base', { adapter: false }]];
  if (page.trained) choices.push(['Fine-tuned', {}]);
  for (const a of await page.wt.adapters()) choices.push([a.name, { adapter_name: a.name }]);
  const box = $('all-answers');
  box.replaceChildren();
  for (const [label, choice] of choices) {
    const h = document.createElement('h3');
    h.textContent = label;
    const pre = document.createElement('pre');
    pre.className = 'answer';
    pre.dataset.label = label;
    pre.dataset.status = 'generating';
    box.append(h, pre);
    const out = await page.wt.generate(prompt, { max_new_tokens, ...choice }, (text) => { pre.textContent += text; });
    pre.textContent = out.text;
    pre.dataset.status = 'done';
    if (out.stop === 'caller') break;
  }
}

/// After a reload: the newest finished run's adapter, put back on its model (when that model
/// is the open one), so that it can still be compared and downloaded.
async function restoreAdapter() {
  const [last] = await store.history();
  if (!last || last.model.key !== page.model?.key) return;
  const files = await store.runAdapter(last);
  if (!files) return;
  await page.wt.importAdapter(files);
  page.trained = true;
  life.run = last;
  draw();
  const val = last.final_validation_loss != null
    ? `, validation loss ${last.first_validation_loss?.toFixed(3)} → ${last.final_validation_loss.toFixed(3)}` : '';
  show('train-status', 'done', `The adapter of the run of ${when(last.ended)} (${last.losses.at(-1)?.[0] ?? 0} `
    + `steps, ${last.status}${val}) is back on the model, from this browser's storage.`);
  $('train-status').dataset.restored = last.id;
}

const when = (iso) => iso?.slice(0, 16).replace('T', ' ');

async function showHistory() {
  await runs.show(ctx);
}

// ---- wiring ----

function wire() {
  $('hf-download').onclick = () => downloadTask($('hf-url').value);
  $('model-files').onchange = (e) => task('Opening the files', () => openOwnFiles(e.target.files));
  $('data-file').onchange = () => { $('data-own').checked = true; };
  $('data-load').onclick = () => task('Reading the data', loadData);
  $('first-run').onclick = () => {
    let stopped = false;
    task('The first run', () => firstRun(() => stopped).catch((err) => {
      show('first-run-status', 'failed', `Stopped: ${err.message}`);
      throw err;
    }), () => {
      stopped = true;
      life.stop();
    });
  };
  $('train-start').onclick = () => task('Training', startTraining, () => life.stop());
  $('search').onclick = () => task('Searching for settings', async () => {
    try {
      await search.run(ctx, config());
    } catch (err) {
      show('search-status', 'failed', `No search: ${err.message}`);
      throw err;
    }
  }, stopEngine);
  $('log-panel').ontoggle = showLog;
  $('pause').onclick = () => life.pause();
  $('stop').onclick = () => life.stop();
  $('resume').onclick = resumeRun;
  $('discard').onclick = () => task('Discarding the run', async () => {
    await life.discard();
    offerResume(null);
  });
  $('compare').onclick = () => task('Generating', compare, stopEngine);
  $('evaluate-start').onclick = () => task('Evaluating', evaluate, stopEngine);
  $('compare-all').onclick = () => task('Generating', compareAll, stopEngine);
  $('adapter-files').onchange = (e) => task('Keeping the adapter', () => keepAdapter(e.target.files));
  exports.wire(ctx);
  documents.wire(ctx);
  chat.wire(ctx);
  runs.wire(ctx);
  speedCheck.wire(ctx);
  preview.wire(ctx);
}

/// Every setting, from the engine's table (its defaults too: rows are cut at the engine's
/// length, and the memory plan sizes runs for the data's longest row): edits to the run's show
/// their plan. `?max_len=` cuts rows shorter (the tests' quick runs).
async function showSettings() {
  settings.render(await page.wt.trainFields(), (field) => {
    if (field.stage !== 'run') return;
    presets.edited(ctx);
    showPlan();
  });
  if (params.has('max_len')) $('set-data-encode-max_len').value = params.get('max_len');
}

async function main() {
  views.wire();
  await views.fill();
  wire();
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
  page.busy = true;
  try {
    await showGpu(await startEngine());
    await showSettings();
    await hub.show(ctx);
    const run = await store.savedRun().catch(() => null);
    if (run?.checkpoint) {
      life.run = run;
      offerResume(run, `A run on ${run.dataset.name} with ${run.model.label} stopped at step `
        + `${run.step} of ${run.total_steps ?? '?'} (started ${run.started.slice(0, 16).replace('T', ' ')}). `
        + 'Resume it from its checkpoint?');
    }
    await startModel(run);
    await showHistory();
    if (!run?.checkpoint) await restoreAdapter().catch((err) => failure('Restoring the last adapter', err));
    await documents.restore(ctx).catch((err) => failure('Opening the saved index', err));
  } catch (err) {
    failure('Starting', err);
    if ($('model-status').dataset.status !== 'ready') show('model-status', 'failed', `No model is open: ${err.message}`);
  } finally {
    page.busy = false;
    buttons();
  }
}

main();
