// Page test: serves the Trunk build (dist/) on 127.0.0.1, opens it in Debian's headless
// Chromium through playwright-core, and clicks through what a person would do.
//
//   node tests/page/smoke.mjs      (after `trunk build --release --offline`)
//
// Scenario 1, WebGPU on (--enable-unsafe-webgpu, SwiftShader), forced with ?tier=gpu: the
// adapter report names SwiftShader, the self-check passes, the engine starts on WebGPU in its
// worker, the default model downloads (with progress) and loads by itself, and the base model
// answers "What is the capital of France?" with "The capital of France is Paris."; left to
// choose, the engine sees a software renderer and runs on the CPU tier, saying so.
// Scenario 2, WebGPU off: the page says so clearly (no debug text) and runs the whole flow on
// the CPU tier: demo data, report, LoRA training (progress, loss chart, trained and processed
// tokens/s) while the main thread keeps drawing
// frames; a reload mid-training offers to resume, the model comes from the browser's cache
// (not downloaded again), and the resumed run continues from the saved step; the engine's
// worker dies mid-run (a simulated GPU device loss), the page restarts it and the run resumes
// from its last checkpoint; the browser's storage fills up (OPFS writes fail) and the page says
// so, the checkpoint in OPFS staying whole; validation loss fell; base and fine-tuned answers;
// the adapter and its GGUF each download as one ZIP; documents are answered by the model
// chosen, with its own length and citations marked; the page opens again with the network
// cut, offers no resume for the finished run, and has its adapter back (same answer).
// Scenario 3: bad input through the page (a corrupt model, a model too large for the engine, a
// malformed dataset, a training run too large for the memory, a download that fails) gives a visible message and the page keeps working; a model downloads from a
// Hugging Face-style URL layout (`/hf/<repo>/resolve/main/<file>`, served here from the tiny
// Llama fixture's sharded checkpoint).
// Scenario 4: soak — a run killed at 10 random points (worker terminated or page reloaded) and
// resumed each time ends with the uninterrupted run's adapter, byte for byte.
// Every scenario fails on an uncaught error and on any request that leaves the page's origin;
// scenario 1 also on any console error. Screenshots and the downloaded adapter go to
// tests/artifacts/.
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { copyFile, readFile, readdir, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, extname, join, normalize, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'dist');
const artifacts = resolve('tests/artifacts');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(process.env.PAGE_TIMEOUT_MS ?? 300_000);
const baseFlags = [
  '--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
];
const types = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.gguf': 'application/octet-stream',
};

const hub = resolve('tests/fixtures/tiny/llama');
/// The config.json of each better model the page offers, as the hub serves them (the sizes
/// that matter to the planner; the rest at their defaults).
const llamaConfig = (hidden, ffn, layers, heads, kv, vocab, more = {}) => ({
  model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: hidden, intermediate_size: ffn,
  num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kv, vocab_size: vocab,
  max_position_embeddings: 8192, rms_norm_eps: 1e-5, rope_theta: 100000, tie_word_embeddings: true, ...more,
});
const HUB_CONFIGS = {
  'HuggingFaceTB/SmolLM2-360M-Instruct': llamaConfig(960, 2560, 32, 15, 5, 49152),
  'HuggingFaceTB/SmolLM2-1.7B-Instruct': llamaConfig(2048, 8192, 24, 32, 32, 49152, { rope_theta: 130000 }),
  'Qwen/Qwen2.5-0.5B-Instruct': llamaConfig(896, 4864, 24, 14, 2, 151936,
    { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000 }),
  'Qwen/Qwen2.5-1.5B-Instruct': llamaConfig(1536, 8960, 28, 12, 2, 151936,
    { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000 }),
};
// Requests per path in the current scenario, to tell a download from a cache hit.
const requests = new Map();

function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    requests.set(path, (requests.get(path) ?? 0) + 1);
    // The better models' config.json files (their weights are not here: a download 404s).
    const preset = path.match(/^\/hf\/([^/]+\/[^/]+)\/resolve\/main\/config\.json$/)?.[1];
    if (preset && HUB_CONFIGS[preset]) {
      const body = JSON.stringify(HUB_CONFIGS[preset]);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
      return;
    }
    // A Hugging Face-style layout over the tiny Llama fixture.
    const repo = path.match(/^\/hf\/tiny-llama\/resolve\/main\/([^/]+)$/);
    const file = repo ? join(hub, repo[1]) : join(root, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(repo ? hub : root)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': types[extname(file)] ?? 'application/octet-stream',
        'content-length': body.length,
      });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function scenario(name, { webgpu, origin, query = '' }, check) {
  // PAGE_ONLY=name,name runs only those scenarios (while working on one).
  if (process.env.PAGE_ONLY && !process.env.PAGE_ONLY.split(',').includes(name)) return true;
  requests.clear(); // counted per scenario (each has a fresh browser profile)
  const browser = await chromium.launch({
    executablePath: browserPath,
    args: webgpu ? [...baseFlags, '--enable-unsafe-webgpu'] : baseFlags,
  });
  const problems = [];
  const console_ = [];
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, acceptDownloads: true });
    // Counts what the page's main thread instantiates: it should run no wasm and make no GPU
    // device (the engine's worker holds the one module and the one device).
    await context.addInitScript(() => {
      // `window.quotaFull = true` makes every OPFS write fail as a full storage does.
      if (globalThis.FileSystemWritableFileStream) {
        const write = FileSystemWritableFileStream.prototype.write;
        FileSystemWritableFileStream.prototype.write = function (...args) {
          if (window.quotaFull) return Promise.reject(new DOMException('quota exceeded (the test)', 'QuotaExceededError'));
          return write.apply(this, args);
        };
      }
      // The main thread's long tasks (over 50 ms, the Long Tasks API), kept across reloads.
      window.longTasks = JSON.parse(sessionStorage.getItem('longTasks') ?? '[]');
      window.testSpans = [];
      new PerformanceObserver((list) => {
        for (const t of list.getEntries()) {
          // Where: the view, the time, and what was in progress just after it.
          const busy = [...document.querySelectorAll('[data-status=pending],[data-status=generating],[data-status=training]')]
            .map((e) => e.id).join(' ');
          window.longTasks.push({
            at: `${location.hash || '#'} +${(t.startTime / 1000).toFixed(1)} s${busy ? ` ${busy}` : ''}`,
            ms: Math.round(t.duration),
            // The test's own work in the page (axe-core, screenshots): see `testWork`.
            test: window.testSpans.some(([a, b]) => t.startTime < (b ?? Infinity) && t.startTime + t.duration > a),
          });
        }
        sessionStorage.setItem('longTasks', JSON.stringify(window.longTasks));
      }).observe({ type: 'longtask', buffered: true });
      // The File System Access folder picker answers with a fresh OPFS folder (`picked-N`), as
      // a person choosing a folder would; `window.pickerCancels = true` closes it unchosen.
      window.pickedFolders = 0;
      window.showDirectoryPicker = async () => {
        if (window.pickerCancels) throw new DOMException('the picker was closed (the test)', 'AbortError');
        const root = await navigator.storage.getDirectory();
        return root.getDirectoryHandle(`picked-${++window.pickedFolders}`, { create: true });
      };
      window.mainThread = { wasm: 0, devices: 0 };
      for (const name of ['instantiate', 'instantiateStreaming']) {
        const original = WebAssembly[name];
        WebAssembly[name] = (...args) => { window.mainThread.wasm++; return original.apply(WebAssembly, args); };
      }
      if (globalThis.GPUAdapter) {
        const request = GPUAdapter.prototype.requestDevice;
        GPUAdapter.prototype.requestDevice = function (...args) {
          window.mainThread.devices++;
          return request.apply(this, args);
        };
      }
    });
    page = await context.newPage();
    workspace(page);
    page.on('console', (msg) => {
      console_.push(`[${msg.type()}] ${msg.text()}`);
      if (msg.type() === 'error' && webgpu) problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
    context.on('request', (req) => {
      const url = req.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) {
        problems.push(`request left the origin: ${url}`);
      }
    });
    await page.goto(`${origin}/${query}`);
    await check(page, context);
    // The main thread's longest tasks over the whole scenario, the page's own (the goal is
    // none over 50 ms; the bound leaves room for a loaded 2-core machine) and the test's.
    const tasks = await page.evaluate(() => window.longTasks);
    const own = tasks.filter((t) => !t.test).sort((a, b) => b.ms - a.ms);
    console.log(`${name}: ${own.length} main-thread tasks over 50 ms; longest ${own.slice(0, 6).map((t) => `${t.ms} ms (${t.at})`).join(', ') || 'none'}`
      + ` (and ${tasks.length - own.length} while the test itself worked in the page)`);
    expect(!own.length || own[0].ms <= LONG_TASK_MS, `the main thread was blocked for ${own[0]?.ms} ms (${own[0]?.at})`);
  } catch (err) {
    problems.push(String(err?.stack ?? err));
  } finally {
    await mkdir(artifacts, { recursive: true });
    await page?.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true }).catch(() => {});
    await browser.close();
  }
  if (problems.length) {
    console.error(`FAIL ${name}\n  ${problems.join('\n  ')}\n  console:\n    ${console_.join('\n    ')}`);
    return false;
  }
  console.log(`ok   ${name}`);
  return true;
}

/// The longest main-thread task the page tier accepts (the goal: 50 ms).
const LONG_TASK_MS = 150;

const expect = (cond, message) => { if (!cond) throw new Error(message); };

/// Runs `work`, the test's own work in the page (axe-core, screenshots), marked so that the
/// main thread's long tasks it causes are not counted as the page's.
async function testWork(page, work) {
  const span = await page.evaluate(() => window.testSpans.push([performance.now(), null]) - 1);
  try {
    return await work();
  } finally {
    await page.evaluate((i) => { if (window.testSpans[i]) window.testSpans[i][1] = performance.now(); }, span)
      .catch(() => {});
  }
}

/// The page shows one view at a time: before acting on an element, a test opens its view's
/// tab, as a person would; waiting for an element's state does not need it on show.
function workspace(page) {
  const click = page.click.bind(page);
  const reveal = async (selector) => {
    const el = await page.$(selector);
    const view = await el?.evaluate((e) => {
      const section = e.closest('section[data-view]');
      return section?.hidden ? section.dataset.view : null;
    });
    if (view) await click(`#tab-${view}`);
  };
  for (const name of ['click', 'fill', 'selectOption', 'setInputFiles']) {
    const act = page[name].bind(page);
    page[name] = async (selector, ...rest) => { await reveal(selector); return act(selector, ...rest); };
  }
  const screenshot = page.screenshot.bind(page);
  page.screenshot = (options) => testWork(page, () => screenshot(options));
  const wait = page.waitForSelector.bind(page);
  page.waitForSelector = (selector, options = {}) => wait(selector, { state: 'attached', ...options });
}

async function waitForStatus(page, id, statuses) {
  const selector = statuses.map((s) => `#${id}[data-status="${s}"]`).join(', ');
  await page.waitForSelector(selector, { timeout: timeoutMs });
  const el = page.locator(`#${id}`);
  return { status: await el.getAttribute('data-status'), text: await el.innerText() };
}

const server = await serve();
const origin = `http://127.0.0.1:${server.address().port}`;
let passed = 0;
let failed = 0;
const record = (ok) => (ok ? passed++ : failed++);

const attr = (page, id, name) => page.locator(`#${id}`).getAttribute(name);

const axe = await readFile(resolve('node_modules/axe-core/axe.min.js'), 'utf8');

/// Opens every view of the workspace at 1280 px and at 375 px, and at 1280 px in the dark
/// scheme (of `schemes`): a screenshot of each (in tests/artifacts/views/), no sideways scrolling, and
/// axe-core's serious and critical violations (contrast included), none allowed (every view's
/// report in tests/artifacts/views/).
async function tour(page, label, schemes = ['light', 'dark']) {
  await testWork(page, () => tourViews(page, label, schemes));
}

async function tourViews(page, label, schemes) {
  const views = await page.$$eval('#tabs a', (tabs) => tabs.map((a) => a.getAttribute('href').slice(1)));
  const folder = join(artifacts, 'views');
  await mkdir(folder, { recursive: true });
  await page.addScriptTag({ content: axe });
  const problems = [];
  const report = {};
  // A view opened through its address shows from its top: the browser scrolls to an element
  // whose id is the address's name (the model's status line and the Train button once: the
  // Model and Train views opened 324 and 393 px down).
  for (const view of views) {
    const down = await page.evaluate(async (name) => {
      scrollTo(0, 0);
      location.hash = `#${name}`;
      await new Promise((next) => setTimeout(next, 300));
      return scrollY;
    }, view);
    if (down > 0) problems.push(`#${view} opened ${down} px down (an element's id is "${view}"?)`);
  }
  const sizes = [[1280, 'light'], [375, 'light'], [1280, 'dark']].filter(([, scheme]) => schemes.includes(scheme));
  for (const [width, scheme] of sizes) {
    await page.setViewportSize({ width, height: 900 });
    await page.emulateMedia({ colorScheme: scheme });
    const where = `${width}${scheme === 'dark' ? '-dark' : ''}`;
    for (const view of views) {
      await page.click(`#tab-${view}`);
      await page.screenshot({ path: join(folder, `${label}-${view}-${where}.png`), fullPage: true });
      const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (sideways > 0) problems.push(`${view} at ${where} px scrolls sideways by ${sideways} px`);
      const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] }))
        .violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })));
      report[`${view}-${where}`] = found;
      for (const v of found.filter((f) => ['serious', 'critical'].includes(f.impact))) {
        problems.push(`${view} at ${where} px: ${v.impact} ${v.id} (${v.help}) on ${v.nodes.slice(0, 3).join(', ')}`);
      }
    }
  }
  await writeFile(join(folder, `${label}-axe.json`), JSON.stringify(report, null, 1));
  await page.emulateMedia({ colorScheme: null });
  await page.setViewportSize({ width: 1000, height: 900 });
  const minor = Object.values(report).flat().length;
  console.log(`workspace tour (${label}): ${views.length} views at ${sizes.map((z) => z.join(' px ')).join(', ')}; axe-core: `
    + `${problems.length} serious or critical problems, ${minor} findings in all`);
  expect(problems.length === 0, `workspace views:\n    ${problems.join('\n    ')}`);
}

/// Unpacks a ZIP (checking every entry's CRC) into `folder`.
function unzip(zip, folder) {
  const out = spawnSync('python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); '
    + 'assert z.testzip() is None; z.extractall(sys.argv[2])', zip, folder], { stdio: 'inherit' });
  expect(out.status === 0, `${zip} does not unpack`);
}

/// Saves a downloaded ZIP beside `folder`, unpacks it there, and returns its files' bytes.
async function unzipDownload(download, folder) {
  const zip = `${folder}.zip`;
  await download.saveAs(zip);
  await rm(folder, { recursive: true, force: true });
  unzip(zip, folder);
  const files = {};
  for (const name of await readdir(folder)) files[name] = await readFile(join(folder, name));
  return files;
}
const text = (page, id) => page.locator(`#${id}`).innerText();

record(await scenario('page-webgpu', { webgpu: true, origin, query: '?tier=gpu' }, async (page) => {
  const adapter = await waitForStatus(page, 'adapter', ['ready', 'unavailable']);
  console.log(`browser adapter report:\n${adapter.text.replace(/^/gm, '    ')}`);
  expect(adapter.status === 'ready', `no adapter: ${adapter.text}`);
  expect(/swiftshader/i.test(adapter.text), 'the adapter is not SwiftShader');
  const check = await waitForStatus(page, 'selfcheck', ['ok', 'failed']);
  console.log(`self-check: ${check.text}`);
  expect(check.status === 'ok', `self-check failed: ${check.text}`);
  // The engine runs on WebGPU inside its worker; the default model loads with no manual step.
  const engine = await waitForStatus(page, 'engine', ['ready', 'failed']);
  expect(/WebGPU/.test(engine.text), `engine: ${engine.text}`);
  const model = await waitForStatus(page, 'model-status', ['ready', 'failed']);
  console.log(`${engine.text}\nmodel: ${model.text}`);
  // One wasm instance and one WebGPU device: the worker's (`ComputeDevice::gpu` makes one
  // per module); the main thread ran none.
  const main = await page.evaluate(() => window.mainThread);
  expect(main.wasm === 0 && main.devices === 0, `the main thread ran ${main.wasm} wasm modules, made ${main.devices} devices`);
  expect(page.workers().length === 1, `${page.workers().length} workers`);
  expect(model.status === 'ready', `model failed: ${model.text}`);
  expect(Number(await attr(page, 'model-progress', 'data-seen')) > 1, 'no download progress was shown');
  // With data loaded, a software renderer (forced) is not warmed up: a warm-up step would take
  // as long as the work it speeds up.
  await page.click('#data-load');
  expect((await waitForStatus(page, 'report', ['ready', 'failed'])).status === 'ready', 'no data on WebGPU');
  const warm = await waitForStatus(page, 'warm-up', ['skipped', 'ready', 'failed']);
  const why = await attr(page, 'warm-up', 'data-reason');
  expect(warm.status === 'skipped' && /software renderer/.test(why), `warm-up on SwiftShader: ${warm.status} ${why}`);
  await page.fill('#max-tokens', '12');
  await page.click('#compare');
  const answer = await waitForStatus(page, 'answer-a', ['done']);
  console.log(`base answer on WebGPU: ${answer.text}\n  ${await text(page, 'answer-a-speed')}`);
  expect(answer.text.trim() === 'The capital of France is Paris.', `unexpected answer: ${answer.text}`);
  // Left to choose, the engine sees that WebGPU is SwiftShader and runs on the CPU, saying so.
  await page.goto(`${origin}/`);
  const software = await waitForStatus(page, 'adapter', ['ready', 'unavailable', 'software']);
  const chosen = await waitForStatus(page, 'engine', ['ready', 'failed']);
  const note = await text(page, 'message');
  console.log(`default tier: ${chosen.text}\n  ${software.text.split('\n')[0]}\n  note: ${note}`);
  expect(software.status === 'software' && /swiftshader/i.test(software.text), `adapter: ${software.text}`);
  expect(await attr(page, 'engine', 'data-tier') === 'cpu', `engine: ${chosen.text}`);
  expect(/software renderer/.test(note) && /\?tier=gpu/.test(note), `note: ${note}`);
  expect((await waitForStatus(page, 'model-status', ['ready', 'failed'])).status === 'ready', 'no model on the CPU tier');
  // The speed check (a LoRA step and a few tokens, timed by the engine) on the CPU tier, which
  // launches no GPU kernels. (On SwiftShader's WebGPU even an 8-token step outlasts a test.)
  await page.waitForSelector('#bench:not([disabled])', { timeout: timeoutMs });
  await page.click('#bench');
  const speed = await waitForStatus(page, 'bench-status', ['ready', 'failed']);
  console.log(`speed on the CPU tier:\n  ${speed.text.replace(/\n/g, '\n  ')}`);
  expect(speed.status === 'ready', `speed: ${speed.text}`);
  expect(Number(await attr(page, 'bench-status', 'data-train-tokens-per-second')) > 0, `speed: ${speed.text}`);
  expect(/tokens\/s/.test(speed.text) && /no GPU kernels/.test(speed.text)
    && /the first step: \d+\.\d\d s/.test(speed.text) && /first token after \d+\.\d\d s/.test(speed.text),
  `speed: ${speed.text}`);
}));

// Scenario 2: the whole flow on the CPU tier (WebGPU off).
// The guided first run as a new person takes it on the CPU tier: the page opens, one click,
// and a trained adapter with a before/after answer; the clicks and seconds (README quotes
// them).
record(await scenario('page-first-run', { webgpu: false, origin, query: '?tier=cpu' }, async (page) => {
  const opened = Date.now();
  await page.waitForSelector('#first-run:not([disabled])', { timeout: timeoutMs });
  const ready = (Date.now() - opened) / 1000;
  await page.click('#first-run');
  const done = await waitForStatus(page, 'first-run-status', ['done', 'failed']);
  const seconds = Number(await attr(page, 'first-run-status', 'data-seconds'));
  const [base, tuned] = [await text(page, 'answer-a'), await text(page, 'answer-b')];
  const trained = await text(page, 'train-status');
  await page.screenshot({ path: join(artifacts, 'page-first-run.png'), fullPage: true });
  console.log(`first run: the button was ready ${ready.toFixed(0)} s after the page opened; 1 click, then `
    + `${seconds.toFixed(0)} s to a trained adapter and both answers\n  ${trained}\n  base: ${base.replace(/\n/g, ' ')}`
    + `\n  tuned: ${tuned.replace(/\n/g, ' ')}`);
  expect(done.status === 'done' && seconds > 0, `first run: ${done.text}`);
  expect(/^Done: 18 steps \(completed\)/.test(trained), `the run: ${trained}`);
  expect(await page.evaluate(() => location.hash) === '#chat', 'the first run did not end in the Chat view');
  // The fine-tuned model answers in the demo's house format; the base model does not.
  expect(/^Answer: /.test(tuned) && !/^Answer: /.test(base), `before/after: ${base} | ${tuned}`);
  expect(!(await page.isDisabled('#download')), 'the adapter cannot be downloaded');
}));

record(await scenario('page-flow', { webgpu: false, origin, query: '?max_len=96&advisor=quick&pairs=quick' }, async (page, context) => {
  const adapter = await waitForStatus(page, 'adapter', ['ready', 'unavailable']);
  expect(adapter.status === 'unavailable' && /WebGPU is not available/.test(adapter.text),
    `GPU section without WebGPU: ${adapter.status} ${adapter.text}`);
  const model = await waitForStatus(page, 'model-status', ['ready', 'failed']);
  expect(model.status === 'ready', `model: ${model.text}`);
  const note = await text(page, 'message');
  expect(/WebGPU is not available/.test(note) && /CPU/.test(note), `no clear note about the CPU: ${note}`);
  // Plain words, not the runtime's debug text.
  const shown = await page.locator('main').innerText();
  expect(!/WgpuDevice|not requested|\{ kind/.test(shown), `debug text on the page: ${shown.match(/.*WgpuDevice.*/)}`);
  console.log(`without WebGPU: ${note.split('\n')[0].slice(0, 100)}…\nmodel: ${model.text}`);
  const gguf = '/models/SmolLM2-135M-Instruct.Q4_1.gguf';
  expect(requests.get(gguf) === 1, `the model was requested ${requests.get(gguf)} times`);

  await page.click('#data-load');
  const report = await waitForStatus(page, 'report', ['ready', 'failed']);
  console.log(`report: ${report.text.replace(/\n/g, ' | ')}`);
  expect(report.status === 'ready' && /40 examples/.test(report.text), `report: ${report.text}`);
  // With data, the page asks the engine to compile the run's kernels ahead; the CPU tier
  // compiles none: nothing runs, and nothing is shown.
  const warm = await waitForStatus(page, 'warm-up', ['skipped', 'ready', 'failed']);
  expect(warm.status === 'skipped' && /CPU tier/.test(await attr(page, 'warm-up', 'data-reason')), `warm-up: ${warm.status}`);
  // The preview: row 1 as the model sees it, its answer (and only that) marked as trained.
  await page.waitForSelector('#preview .preview-row', { timeout: timeoutMs });
  const first = await page.$eval('#preview .preview-row', (r) => ({
    line: r.dataset.line,
    marked: [...r.querySelectorAll('mark')].map((m) => m.textContent),
    text: r.querySelector('pre').textContent,
    rows: document.querySelectorAll('#preview .preview-row').length,
  }));
  const line1 = JSON.parse((await readFile(join(root, 'demo/support.jsonl'), 'utf8')).split('\n')[0]);
  const answer1 = line1.messages.find((m) => m.role === 'assistant').content;
  console.log(`preview row 1: marked ${JSON.stringify(first.marked)}`);
  expect(first.line === '1' && first.rows === 5 && first.marked.length === 1
    && first.marked[0].startsWith(answer1) && first.text.includes('<|im_start|>user')
    && !first.marked[0].includes(line1.messages[1].content), `preview: ${JSON.stringify(first)}`);
  await page.click('#preview-next');
  await page.waitForSelector('#preview[data-offset="5"]', { timeout: timeoutMs });

  // The Train view starts from the planner's presets, sized for this device, and every
  // setting of the engine's table has an input, in the view or under "Every setting".
  await page.waitForSelector('#preset-quick:checked', { timeout: timeoutMs });
  const offered = await page.$$eval('#preset-list label', (ls) => ls.map((l) => l.textContent.replace(/\s+/g, ' ')));
  console.log(`presets:\n  ${offered.join('\n  ')}`);
  expect(offered.length === 3 && offered.every((t) => /steps: \d+ epochs? of 36 training rows/.test(t) && /Memory: about \d+ MiB of 4096 MiB/.test(t)),
    `presets: ${offered.join(' | ')}`);
  const table = (await page.evaluate(() => webtune.client.trainFields())).map((f) => f.path);
  const inputs = await page.$$eval('[data-path]', (els) => els.map((e) => e.dataset.path));
  const missing = table.filter((p) => inputs.filter((i) => i === p).length !== 1);
  console.log(`settings: ${table.length} in the engine's table, ${inputs.length} inputs`);
  expect(table.length >= 30 && !missing.length && inputs.length === table.length, `settings without one input: ${missing}`);
  // A setting from "Every setting" reaches the run: the command's config file carries it.
  await page.click('#advanced summary');
  await page.fill('#set-optimizer-weight_decay', '0.05');
  await page.waitForFunction(() => document.querySelector('#run-config').textContent.includes('"weight_decay": 0.05'),
    null, { timeout: 10_000 });
  expect(await page.isChecked('#preset-custom'), 'an edited setting did not pick "your own settings"');
  // More steps than the epochs hold: the run's length says the epochs end it first.
  await page.fill('#steps', '30');
  await page.waitForSelector('#run-length[data-ended-by="epochs"]', { timeout: 10_000 });
  const length = await text(page, 'run-length');
  console.log(`30 steps asked: ${length}`);
  expect(/^18 steps: 1 epoch of 36 training rows, 2 per step \(30 steps asked: the epochs end first/.test(length), `run length: ${length}`);
  // Another preset fills every setting again (the weight decay back to its default).
  await page.click('#preset-thorough');
  await page.waitForFunction(() => document.querySelector('#rank').value === '32', null, { timeout: 10_000 });
  expect((await page.inputValue('#set-optimizer-weight_decay')) === '0.01', 'the thorough preset left the weight decay');
  await page.click('#preset-quick');
  await page.waitForFunction(() => document.querySelector('#rank').value === '8', null, { timeout: 10_000 });

  // Train; measure the main thread's frame gaps meanwhile; reload once a checkpoint is saved.
  await page.fill('#steps', '6');
  await page.fill('#lr', '0.002');
  await page.evaluate(() => {
    window.frameGap = { gap: 0, frames: 0, last: performance.now() };
    const tick = (now) => {
      const f = window.frameGap;
      f.gap = Math.max(f.gap, now - f.last);
      f.last = now;
      f.frames += 1;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.click('#train-start');
  await page.waitForFunction(() => Number(document.querySelector('#train-status').dataset.saved) >= 2,
    null, { timeout: timeoutMs });
  const frames = await page.evaluate(() => window.frameGap);
  const before = JSON.parse(await attr(page, 'loss-chart', 'data-losses'));
  const saved = Number(await attr(page, 'train-status', 'data-saved'));
  await page.screenshot({ path: join(artifacts, 'page-flow-training.png'), fullPage: true });
  const stepText = await text(page, 'train-status');
  console.log(`training: losses ${before.map(([s, l]) => `${s}:${l.toFixed(3)}`).join(' ')}, checkpoint at step ${saved}; longest main-thread frame gap ${frames.gap.toFixed(0)} ms over ${frames.frames} frames\n  ${stepText}`);
  // Both speeds, named: the tokens the loss counts, and every position computed.
  const rates = stepText.match(/(\d+) trained tokens\/s \((\d+) tokens\/s processed\)/);
  expect(rates && Number(rates[2]) > Number(rates[1]), `training speed: ${stepText}`);
  // Training runs in the worker: the main thread keeps drawing. The bound is loose (a loaded
  // 2-core machine showed one 333 ms gap while a checkpoint arrived); a training step on the
  // main thread would block it for seconds.
  // Measured 17-33 ms here; the bound leaves room for a loaded 2-core machine.
  expect(frames.frames > 10 && frames.gap < 250, `the main thread stalled: ${frames.gap} ms`);

  await page.reload();
  await page.waitForSelector('#resume-panel:not([hidden])', { timeout: timeoutMs });
  const offer = await text(page, 'resume-text');
  console.log(`after reload: ${offer}`);
  expect(new RegExp(`step ${saved} of 6`).test(offer), `resume offer: ${offer}`);
  const cached = await waitForStatus(page, 'model-status', ['ready', 'failed']);
  expect(/cache/.test(cached.text) && requests.get(gguf) === 1, `model after reload: ${cached.text}, ${requests.get(gguf)} requests`);
  // The Runs view lists the unfinished run first, and resumes it.
  await page.click('#tab-runs');
  await page.waitForSelector('#runs-open:not([hidden])', { timeout: 10_000 });
  const unfinished = await text(page, 'runs-open-text');
  console.log(`Runs view: ${unfinished}`);
  expect(new RegExp(`^Unfinished: .* stopped at step ${saved} of 6`).test(unfinished), `Runs view: ${unfinished}`);
  await page.click('#runs-resume');
  await page.waitForSelector('#runs-open[hidden]', { timeout: timeoutMs });
  await page.click('#tab-train');
  await page.waitForFunction(() => document.querySelector('#train-status').dataset.resumedAt !== undefined,
    null, { timeout: timeoutMs });
  const resumedAt = Number(await attr(page, 'train-status', 'data-resumed-at'));
  expect(resumedAt === saved, `resumed at ${resumedAt}, saved ${saved}`);

  // The browser's storage fills up: the next checkpoint is not saved, the page says why, and the
  // checkpoint the run points at in OPFS is still whole; with space again, saving goes on.
  await page.evaluate(() => { window.quotaFull = true; });
  await page.waitForFunction(() => /storage is full/.test(document.querySelector('#message').textContent),
    null, { timeout: timeoutMs });
  const full = await text(page, 'message');
  const kept = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const run = await root.getDirectoryHandle('run');
    const record = JSON.parse(await (await (await run.getFileHandle('run.json')).getFile()).text());
    const dir = await run.getDirectoryHandle(record.checkpoint.split('/').pop());
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    const state = JSON.parse(await (await (await dir.getFileHandle('state.json')).getFile()).text());
    const dirs = [];
    for await (const name of run.keys()) if (name.startsWith('checkpoint-')) dirs.push(name);
    return { checkpoint: record.checkpoint, step: state.step, names: names.sort(), dirs };
  });
  await page.evaluate(() => { window.quotaFull = false; });
  console.log(`storage full: ${full}\n  OPFS keeps ${kept.checkpoint} (step ${kept.step}: ${kept.names.join(', ')}); checkpoint folders ${kept.dirs.join(', ')}`);
  expect(/checkpoint of step \d+ was not saved/.test(full) && /\[storage\]/.test(full), `message: ${full}`);
  expect(kept.step >= saved && kept.dirs.length === 1 && ['adapter_model.safetensors', 'state.json'].every((n) => kept.names.includes(n)),
    `the checkpoint left in OPFS: ${JSON.stringify(kept)}`);

  // The engine dies mid-run (as when the GPU device is lost): the page starts a new one and
  // offers the last checkpoint, and the run goes on from there.
  await page.waitForFunction((at) => Number(document.querySelector('#train-status').dataset.saved) >= at,
    saved + 2, { timeout: timeoutMs });
  const middle = JSON.parse(await attr(page, 'loss-chart', 'data-losses'));
  await page.evaluate(() => webtune.client.worker.dispatchEvent(
    new ErrorEvent('error', { message: 'GPU device lost (simulated by the test)' })));
  await page.waitForSelector('#resume-panel:not([hidden])', { timeout: timeoutMs });
  const recovery = await text(page, 'resume-text');
  const lost = Number(recovery.match(/checkpoint at step (\d+)/)?.[1]);
  console.log(`engine lost: ${recovery}\n  message: ${await text(page, 'message')}`);
  expect(lost >= saved + 2, `recovery offer: ${recovery}`);
  await page.click('#resume');
  const done = await waitForStatus(page, 'train-status', ['done', 'paused']);
  const losses = JSON.parse(await attr(page, 'loss-chart', 'data-losses'));
  const evals = JSON.parse(await attr(page, 'loss-chart', 'data-evals'));
  console.log(`resumed at step ${await attr(page, 'train-status', 'data-resumed-at')}: ${done.text}; losses ${losses.map(([s, l]) => `${s}:${l.toFixed(3)}`).join(' ')}`);
  expect(done.status === 'done', `training: ${done.text}`);
  expect(Number(await attr(page, 'train-status', 'data-resumed-at')) === lost, 'not resumed at the checkpoint');
  expect(JSON.stringify(losses.map(([s]) => s)) === '[1,2,3,4,5,6]', `steps: ${JSON.stringify(losses)}`);
  for (const [s, l] of [...before.filter(([s]) => s <= saved), ...middle.filter(([s]) => s <= lost)]) {
    expect(losses[s - 1][1] === l, `step ${s}'s loss changed across the restart`);
  }
  const planned = Number(await attr(page, 'plan', 'data-total'));
  const used = Number(await attr(page, 'train-status', 'data-memory'));
  console.log(`memory: planned ${(planned / 2 ** 20).toFixed(0)} MiB before training; the worker's wasm memory peaked at ${(used / 2 ** 20).toFixed(0)} MiB`);
  // The planner predicts the CPU tier's memory (here all in wasm memory) to within a quarter.
  expect(Math.abs(planned - used) < used / 4, `planned ${planned} bytes, used ${used}`);
  expect(evals.length >= 2 && evals.at(-1)[1] < evals[0][1], `validation loss did not fall: ${JSON.stringify(evals)}`);
  // The learning-rate and speed charts hold every step: the cosine schedule from the rate
  // set (no warmup) down, and the tokens processed per second; the run's log tells the story.
  const lrs = JSON.parse(await attr(page, 'lr-chart', 'data-lrs'));
  const stepSpeeds = JSON.parse(await attr(page, 'speed-chart', 'data-speeds'));
  console.log(`learning rates ${lrs.map(([s, l]) => `${s}:${l.toExponential(2)}`).join(' ')}; tokens/s ${stepSpeeds.map(([s, v]) => `${s}:${v.toFixed(0)}`).join(' ')}`);
  expect(JSON.stringify(lrs.map(([s]) => s)) === '[1,2,3,4,5,6]' && Math.abs(lrs[0][1] - 0.002) < 1e-9
    && lrs.every(([, l], i) => i === 0 || l < lrs[i - 1][1]), `learning rates: ${JSON.stringify(lrs)}`);
  expect(stepSpeeds.length === 6 && stepSpeeds.every(([, v]) => v > 0), `speeds: ${JSON.stringify(stepSpeeds)}`);
  await page.click('#log-panel summary');
  await page.waitForFunction(() => {
    const log = document.querySelector('#run-log');
    return log.textContent && log.textContent.split('\n').length === Number(log.dataset.lines);
  }, null, { timeout: 10_000 }).catch(() => expect(false, 'the run\'s log did not show'));
  const log = await text(page, 'run-log');
  console.log(`the run's log (${log.split('\n').length} lines), its last 3:\n  ${log.split('\n').slice(-3).join('\n  ')}`);
  for (const line of [/ started: 6 steps, \{"method":"lora"/, / step 1 of 6: loss \d\.\d{4}, lr 2\.000e-3, gradient norm /,
    / checkpoint of step \d saved/, / the engine stopped: GPU device lost/, new RegExp(` resumed at step ${lost} of 6`),
    / step 6: validation loss /, / ended after step 6 \(completed\)/]) {
    expect(line.test(log), `the run's log lacks ${line}`);
  }

  // The same run from the command line: the command and config file the Train view shows,
  // run by the CLI on the same model and data files, give the same losses.
  const shownCommand = await page.$eval('#run-command', (e) => e.textContent);
  const shownConfig = await page.$eval('#run-config', (e) => e.textContent);
  console.log(`command shown: ${shownCommand}`);
  const words = shownCommand.split(' ');
  const arg = (flag) => words[words.indexOf(flag) + 1];
  expect(words.slice(0, 2).join(' ') === 'webtune train' && arg('--data') === 'support.jsonl'
    && arg('--tier') === 'cpu' && arg('--config') === 'webtune-run.json', `command: ${shownCommand}`);
  const cliRun = join(artifacts, 'cli-run');
  await rm(cliRun, { recursive: true, force: true });
  await mkdir(dirname(join(cliRun, arg('--model'))), { recursive: true });
  await symlink(join(root, 'models/SmolLM2-135M-Instruct.Q4_1.gguf'), join(cliRun, arg('--model')));
  await copyFile(join(root, 'demo/support.jsonl'), join(cliRun, 'support.jsonl'));
  await writeFile(join(cliRun, 'webtune-run.json'), shownConfig);
  const repeated = spawnSync('cargo', ['run', '-q', '--manifest-path', resolve('Cargo.toml'),
    '-p', 'webtune', '--bin', 'webtune', '--', ...words.slice(1)], { cwd: cliRun, stdio: 'inherit' });
  expect(repeated.status === 0, `the shown command failed (${repeated.status})`);
  const cliLosses = (await readFile(join(cliRun, 'adapter/training_log.jsonl'), 'utf8')).trim().split('\n')
    .map((l) => JSON.parse(l)).filter((e) => e.event === 'step').map((e) => [e.report.step + 1, e.report.loss]);
  console.log(`the CLI's losses: ${cliLosses.map(([st, l]) => `${st}:${l.toFixed(4)}`).join(' ')}`);
  expect(cliLosses.length === losses.length && cliLosses.every(([st, l], i) => st === losses[i][0]
    && Math.abs(l - losses[i][1]) < 1e-3 * Math.abs(losses[i][1])),
  `the CLI's losses ${JSON.stringify(cliLosses)} differ from the page's ${JSON.stringify(losses)}`);

  await page.fill('#prompt', 'How many days of annual leave do I get?');
  await page.fill('#max-tokens', '24');
  // A and B: the base model and (once trained) the fine-tuned one, offered by the pickers.
  await page.focus('#ab-b');
  await page.waitForSelector('#ab-b option[value="tuned"]', { state: 'attached', timeout: timeoutMs });
  expect(await page.inputValue('#ab-a') === 'base' && await page.inputValue('#ab-b') === 'tuned',
    `A/B pickers: ${await page.inputValue('#ab-a')} / ${await page.inputValue('#ab-b')}`);
  await page.click('#compare');
  const base = await waitForStatus(page, 'answer-a', ['done']);
  const tuned = await waitForStatus(page, 'answer-b', ['done']);
  const speeds = [await text(page, 'answer-a-speed'), await text(page, 'answer-b-speed')];
  console.log(`base: ${base.text.replace(/\n/g, ' ')}\ntuned: ${tuned.text.replace(/\n/g, ' ')}\n  speed (CPU tier): base ${speeds[0]}; tuned ${speeds[1]}`);
  expect(speeds.every((s) => / at \d+\.\d tokens\/s$/.test(s)), `no speed shown: ${speeds}`);
  expect(tuned.text.length > 0 && base.text.length > 0, 'no answers');
  // A long action says what runs and for how long, with a Stop: it ends the first answer
  // where it is, and the second is not asked.
  await page.fill('#max-tokens', '400');
  await page.click('#compare');
  await page.waitForFunction(() => document.querySelector('#answer-a').textContent.length > 0, null, { timeout: timeoutMs });
  const running = await text(page, 'busy-text');
  await page.click('#busy-stop');
  await page.waitForSelector('#busy[hidden]', { timeout: timeoutMs });
  const cut = await text(page, 'answer-a-speed');
  console.log(`stopped: "${running}" → ${cut}; B: ${await text(page, 'answer-b')}`);
  const cutTokens = Number(cut.match(/(\d+) new tokens/)?.[1]);
  expect(/^Generating… \d+ s$/.test(running) && cutTokens < 400 && / \(stopped\)$/.test(cut)
    && (await text(page, 'answer-b')) === 'Not asked: stopped.', `Stop: ${running} | ${cut}`);
  await page.fill('#max-tokens', '24');

  // Evaluate: the held-out examples scored with the base and the fine-tuned model.
  await page.click('#evaluate-start');
  const scored = await waitForStatus(page, 'eval-status', ['ready', 'failed']);
  const [baseLoss, tunedLoss] = [Number(await attr(page, 'eval-table', 'data-base')), Number(await attr(page, 'eval-table', 'data-tuned'))];
  const evalRows = await page.locator('#eval-table tr').allInnerTexts();
  const exampleRows = await page.locator('#eval-examples tr').count();
  console.log(`evaluate: ${scored.text}\n  ${evalRows.join('\n  ')}`);
  expect(scored.status === 'ready' && evalRows.length === 5 && exampleRows === 5, `evaluation: ${scored.text} ${evalRows.join(' | ')}`);
  expect(tunedLoss < baseLoss && Math.abs(tunedLoss - evals.at(-1)[1]) < 1e-3,
    `validation loss: base ${baseLoss}, fine-tuned ${tunedLoss}, training's last ${evals.at(-1)[1]}`);
  // Again, stopped once an answer is counted: the answers so far are kept and said to be so.
  await page.click('#evaluate-start');
  await page.waitForFunction(() => /: [1-9]\d* of \d+…$/.test(document.querySelector('#eval-status').textContent),
    null, { timeout: timeoutMs });
  await page.click('#busy-stop');
  await page.waitForSelector('body:not([data-busy])', { timeout: timeoutMs });
  const cutEval = await waitForStatus(page, 'eval-status', ['note', 'ready', 'failed']);
  const cutRows = await page.locator('#eval-examples tr').count();
  console.log(`evaluate, stopped: ${cutEval.text} (${cutRows - 1} rows)`);
  expect(cutEval.status === 'note' && /^Stopped: [1-9]\d* questions? answered/.test(cutEval.text) && cutRows >= 2,
    `stopped evaluation: ${cutEval.status} ${cutEval.text}`);

  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  await page.click('#download');
  await waitForStatus(page, 'download-status', ['done']);
  // One download (a browser asks before a second): the adapter's files in one ZIP.
  for (let i = 0; i < 20; i++) await page.waitForTimeout(100);
  expect(downloads.length === 1 && downloads[0].suggestedFilename() === 'webtune-adapter.zip',
    `adapter download: ${downloads.map((d) => d.suggestedFilename())}`);
  const folder = join(artifacts, 'page-download');
  const got = await unzipDownload(downloads[0], folder);
  console.log(`downloaded webtune-adapter.zip: ${Object.entries(got).map(([n, b]) => `${n} (${b.length} bytes)`).join(', ')}`);
  expect(got['adapter_model.safetensors']?.length > 1000, 'no adapter_model.safetensors');
  const adapterConfig = JSON.parse(got['adapter_config.json'] ?? '{}');
  expect(adapterConfig.peft_type === 'LORA' && adapterConfig.r === 8, `adapter_config.json: ${JSON.stringify(adapterConfig)}`);
  // The same adapter as GGUF for llama.cpp: byte for byte what the CLI writes from the PEFT
  // files just downloaded (the CLI's GGUF files are checked against llama.cpp itself).
  downloads.length = 0;
  await page.selectOption('#gguf-kind', 'adapter');
  await page.click('#download-gguf');
  // The status still says the PEFT download is done: wait for the file itself.
  for (let i = 0; i < 600 && downloads.length < 1; i++) await page.waitForTimeout(100);
  expect(downloads.length === 1 && downloads[0].suggestedFilename() === 'webtune-adapter-gguf.zip',
    `GGUF download: ${downloads.map((d) => d.suggestedFilename())}`);
  const ggufFiles = await unzipDownload(downloads[0], join(artifacts, 'page-download-gguf'));
  console.log(`GGUF downloads: ${Object.entries(ggufFiles).map(([n, b]) => `${n} (${b.length} bytes)`).join(', ')}`);
  expect(/ADAPTER \.\/adapter\.gguf/.test(ggufFiles.Modelfile ?? ''), `Modelfile: ${ggufFiles.Modelfile}`);
  const cliOut = join(artifacts, 'cli-gguf');
  const cli = spawnSync('cargo', ['run', '-q', '-p', 'webtune', '--bin', 'webtune', '--', 'export', '--tier', 'cpu',
    '--model', '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf', '--adapter', folder, '--gguf', '--out', cliOut],
    { stdio: 'inherit' });
  expect(cli.status === 0, `webtune export --gguf failed (${cli.status})`);
  const cliBytes = await readFile(join(cliOut, 'adapter.gguf'));
  expect(ggufFiles['adapter.gguf']?.equals(cliBytes),
    `the page's adapter.gguf (${ggufFiles['adapter.gguf']?.length} bytes) differs from the CLI's (${cliBytes.length})`);
  console.log(`GGUF adapter: the page's ${cliBytes.length} bytes are the CLI's`);
  // The same fine-tune as a job for TRL: one ZIP whose files are what `webtune export-job`
  // writes with the page's own settings (job.json's webtune_config) on the same data.
  downloads.length = 0;
  await page.fill('#job-base', 'HuggingFaceTB/SmolLM2-135M-Instruct');
  await page.click('#download-job');
  for (let i = 0; i < 600 && downloads.length < 1; i++) await page.waitForTimeout(100);
  expect(downloads[0]?.suggestedFilename() === 'webtune-job.zip', `job download: ${downloads.map((d) => d.suggestedFilename())}`);
  const jobZip = join(artifacts, 'page-job.zip');
  await downloads[0].saveAs(jobZip);
  const jobFolder = join(artifacts, 'page-job');
  unzip(jobZip, jobFolder);
  const job = JSON.parse(await readFile(join(jobFolder, 'job.json'), 'utf8'));
  expect(job.base_model === 'HuggingFaceTB/SmolLM2-135M-Instruct' && job.max_steps === 6,
    `job.json: ${JSON.stringify(job).slice(0, 300)}`);
  const jobConfig = join(artifacts, 'page-job-config.json');
  await writeFile(jobConfig, JSON.stringify(job.webtune_config));
  const cliJob = join(artifacts, 'cli-job');
  const exported = spawnSync('cargo', ['run', '-q', '-p', 'webtune', '--bin', 'webtune', '--', 'export-job',
    '--tier', 'cpu', '--model', '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf', '--data', 'static/demo/support.jsonl',
    '--config', jobConfig, '--base-model', job.base_model, '--out', cliJob], { stdio: 'inherit' });
  expect(exported.status === 0, `webtune export-job failed (${exported.status})`);
  const names = ['job.json', 'data/train.jsonl', 'data/validation.jsonl', 'data/order.json',
    'initial_adapter/adapter_config.json', 'initial_adapter/adapter_model.safetensors', 'train.py'];
  for (const name of names) {
    const [ours, theirs] = [await readFile(join(jobFolder, name)), await readFile(join(cliJob, name))];
    expect(ours.equals(theirs), `the page's job ${name} (${ours.length} bytes) differs from the CLI's (${theirs.length})`);
  }
  console.log(`training job: the page's ${names.join(', ')} are the CLI's`);
  // Into a folder the person picks (File System Access): the adapter's and the job's files,
  // byte for byte the ZIPs', no download; closing the picker saves nothing.
  downloads.length = 0;
  await page.check('#save-folder');
  await page.evaluate(() => { window.pickerCancels = true; });
  await page.click('#download');
  const unchosen = await waitForStatus(page, 'download-status', ['note']);
  await page.evaluate(() => { window.pickerCancels = false; });
  const intoFolders = [];
  for (const [button, zipped] of [['#download', folder], ['#download-job', jobFolder]]) {
    await page.click(button);
    await page.waitForSelector('body:not([data-busy])', { timeout: timeoutMs });
    const status = await waitForStatus(page, 'download-status', ['done', 'failed']);
    intoFolders.push(status.text);
    const picked = await page.evaluate(async (n) => {
      const hashes = {};
      const walk = async (dir, prefix) => {
        for await (const [name, handle] of dir.entries()) {
          if (handle.kind === 'directory') await walk(handle, `${prefix}${name}/`);
          else {
            const digest = await crypto.subtle.digest('SHA-256', await (await handle.getFile()).arrayBuffer());
            hashes[`${prefix}${name}`] = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
          }
        }
      };
      await walk(await (await navigator.storage.getDirectory()).getDirectoryHandle(`picked-${n}`), '');
      return hashes;
    }, intoFolders.length);
    const want = {};
    const walk = async (dir, prefix) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) await walk(join(dir, entry.name), `${prefix}${entry.name}/`);
        else want[`${prefix}${entry.name}`] = createHash('sha256').update(await readFile(join(dir, entry.name))).digest('hex');
      }
    };
    await walk(zipped, '');
    expect(status.status === 'done' && /into the folder "picked-\d"/.test(status.text)
      && JSON.stringify(Object.entries(picked).sort()) === JSON.stringify(Object.entries(want).sort()),
    `saved into a folder: ${status.text}; ${Object.keys(picked).length} files, the ZIP has ${Object.keys(want).length}`);
  }
  console.log(`into a folder: ${unchosen.text} | ${intoFolders.join(' | ')}`);
  expect(/Nothing saved/.test(unchosen.text) && !downloads.length, `picker closed: ${unchosen.text}, ${downloads.length} downloads`);
  await page.uncheck('#save-folder');
  // Several adapters on one model: the adapter just downloaded, kept beside the trained one,
  // answers exactly as the fine-tuned model does.
  await page.click('summary:has-text("More adapters")');
  await page.setInputFiles('#adapter-files', ['adapter_config.json', 'adapter_model.safetensors'].map((f) => join(folder, f)));
  await page.waitForSelector('#adapters-status[data-count="1"]', { timeout: timeoutMs });
  console.log(`adapters: ${await text(page, 'adapters-status')}`);
  await page.click('#compare-all');
  await page.waitForFunction(() => {
    const answers = [...document.querySelectorAll('#all-answers pre')];
    return answers.length === 3 && answers.every((p) => p.dataset.status === 'done');
  }, null, { timeout: timeoutMs });
  const all = Object.fromEntries(await page.$$eval('#all-answers pre', (ps) => ps.map((p) => [p.dataset.label, p.textContent])));
  console.log(`compare all: ${JSON.stringify(all)}`);
  expect(all['adapter 1'] === all['Fine-tuned'] && all['Fine-tuned'].length > 0,
    `the kept adapter answers ${JSON.stringify(all['adapter 1'])}, the fine-tuned model ${JSON.stringify(all['Fine-tuned'])}`);
  // A/B with the kept adapter as A: its answer is the fine-tuned model's, B's the base's.
  await page.focus('#ab-a');
  await page.waitForSelector('#ab-a option[value="kept:adapter 1"]', { state: 'attached', timeout: timeoutMs });
  await page.selectOption('#ab-a', 'kept:adapter 1');
  await page.selectOption('#ab-b', 'base');
  await page.click('#compare');
  await page.waitForSelector('#answer-b[data-choice="base"][data-status="done"]', { timeout: timeoutMs });
  const keptA = { text: await text(page, 'answer-b') };
  const aText = await text(page, 'answer-a');
  console.log(`A/B: ${await text(page, 'answer-a-label')} → ${aText.replace(/\n/g, ' ')} | ${await text(page, 'answer-b-label')} → ${keptA.text.replace(/\n/g, ' ')}`);
  expect(aText === all['adapter 1'] && keptA.text !== aText && /^A: kept adapter adapter 1/.test(await text(page, 'answer-a-label')),
    `A/B: A ${JSON.stringify(aText)}, B ${JSON.stringify(keptA.text)}`);
  await page.selectOption('#ab-a', 'base');
  await page.selectOption('#ab-b', 'tuned');
  // A conversation: the picker offers the base model, the fine-tuned one and the kept
  // adapter; the second turn is asked with the first in its prompt; Stop ends an answer.
  await page.click('#tab-chat');
  await page.focus('#chat-adapter');
  await page.waitForFunction(() => document.querySelectorAll('#chat-adapter option').length === 3, null, { timeout: timeoutMs });
  const pickable = await page.$$eval('#chat-adapter option', (os) => os.map((o) => o.value));
  expect(pickable.join() === 'base,tuned,kept:adapter 1', `chat picker: ${pickable}`);
  await page.selectOption('#chat-adapter', 'tuned');
  await page.fill('#chat-temperature', '0');
  await page.fill('#chat-max-tokens', '12');
  const turnTokens = [];
  for (const [message, turns] of [['How many days of annual leave do I get?', 2], ['And can I carry them over?', 4]]) {
    await page.fill('#chat-input', message);
    await page.click('#chat-send');
    await page.waitForSelector(`#chat-log[data-turns="${turns}"]`, { timeout: timeoutMs });
    turnTokens.push(Number((await text(page, 'chat-status')).split(' ')[0]));
  }
  const said = await page.locator('#chat-log .turn').allInnerTexts();
  console.log(`chat: ${said.join(' | ').replace(/\n/g, ' ')}\n  prompt tokens per turn ${turnTokens}`);
  expect(turnTokens[1] > turnTokens[0] + 8, `the second turn's prompt (${turnTokens[1]} tokens) does not hold the first (${turnTokens[0]})`);
  await page.fill('#chat-max-tokens', '400');
  await page.fill('#chat-input', 'Tell me everything about the leave policy.');
  await page.click('#chat-send');
  await page.waitForFunction(() => [...document.querySelectorAll('#chat-log pre')].pop().textContent.length > 0, null, { timeout: timeoutMs });
  await page.click('#chat-stop');
  await page.waitForSelector('#chat-log[data-turns="6"]', { timeout: timeoutMs });
  const stopped = await text(page, 'chat-status');
  expect(/ stopped/.test(stopped), `Stop did not end the answer: ${stopped}`);
  const history = await page.locator('#history li').count();
  expect(history === 1, `history has ${history} runs`);
  // Documents: the demo handbook indexed, a question answered from it with its sources.
  await page.click('#docs-demo');
  await page.waitForSelector('#docs-status[data-documents="7"]', { timeout: timeoutMs });
  console.log(`documents: ${await text(page, 'docs-status')}`);
  await page.fill('#rag-question', 'How long must a password be?');
  // Its own answer length, the model chosen and named, citations marked in the answer and
  // its sources, and a question box as wide as the section.
  await page.selectOption('#rag-model', 'tuned');
  await page.fill('#rag-max-tokens', '40');
  await page.click('#rag-ask');
  const rag = await waitForStatus(page, 'rag-answer', ['ready']);
  const sources = await page.locator('#rag-sources li').allInnerTexts();
  const ragBy = await text(page, 'rag-by');
  const cited = (await attr(page, 'rag-answer', 'data-cited')).split(',').filter(Boolean).map(Number);
  const links = await page.locator('#rag-answer a.citation').allInnerTexts();
  const citedSources = await page.locator('#rag-sources li[data-cited="true"]').count();
  console.log(`RAG answer: ${rag.text.replace(/\n/g, ' ')}\n  ${ragBy}\n  citation links ${JSON.stringify(links)}; sources: ${sources.map((s) => s.slice(0, 60)).join(' | ')}`);
  expect(sources.length >= 1 && sources[0].includes('it.md'), `sources: ${sources.join(' | ')}`);
  expect(await attr(page, 'rag-answer', 'data-by') === 'tuned' && /^Answered by the fine-tuned model from \d+ passages/.test(ragBy), `answered by: ${ragBy}`);
  expect(links.length >= cited.length && links.every((l) => cited.includes(Number(l.slice(1, -1)))) && citedSources === cited.length,
    `citations: ${JSON.stringify({ cited, links, citedSources })}`);
  expect(cited.length > 0 || /cites none/.test(ragBy), `no word on citations: ${ragBy}`);
  const widths = await page.evaluate(() => [document.querySelector('#rag-question').getBoundingClientRect().width,
    document.querySelector('#rag-question').closest('section').getBoundingClientRect().width]);
  expect(widths[0] > 0.8 * widths[1], `the question box is ${widths[0]} px of ${widths[1]}`);
  // Training pairs written from the indexed handbook (quick: its first four passages, one
  // try each), reviewed — one question edited, one pair unticked — and loaded as data.
  await page.click('#pairs-panel summary');
  await page.click('#pairs-write');
  const written = await waitForStatus(page, 'pairs-status', ['ready']);
  const pairsKept = Number(await attr(page, 'pairs-status', 'data-kept'));
  console.log(`pairs: ${written.text}\n  ${(await page.locator('#pairs-table tr').allInnerTexts()).slice(1).join('\n  ').slice(0, 800)}`);
  expect(/^4 passages, \d+ questions written, \d+ pairs kept/.test(written.text) && pairsKept >= 1, `pairs: ${written.text}`);
  expect((await page.locator('#pairs-table tr').count()) === pairsKept + 1, 'a row per kept pair');
  await page.fill('#pair-0-question', 'Where do I park my bike at the office?');
  if (pairsKept > 1) await page.uncheck('#pair-1-keep');
  const chosen = pairsKept > 1 ? pairsKept - 1 : pairsKept;
  expect(Number(await attr(page, 'pairs-table', 'data-kept')) === chosen, 'the unticked pair still counts');
  await page.check('#advise-with-pairs');
  // The advisor (quick: one step, one question per set): four rows and a recommendation.
  await page.click('#advise');
  await waitForStatus(page, 'advise-status', ['ready']);
  const rows = await page.locator('#advise-table tr').allInnerTexts();
  console.log(`advisor:\n  ${rows.join('\n  ')}\n  ${await text(page, 'advise-recommendation')}`.slice(0, 1500));
  expect(rows.length === 5 && rows[4].startsWith('LoRA + RAG'), `advisor table: ${rows.join(' | ')}`);
  expect(await attr(page, 'advise-recommendation', 'data-choice'), 'no recommendation');
  expect(Number(await attr(page, 'advise-status', 'data-generated')) === chosen,
    `the advisor trained on ${await attr(page, 'advise-status', 'data-generated')} written pairs, ${chosen} chosen`);
  // The kept pairs become the training data (as edited), and the Train view opens.
  await page.click('#pairs-use');
  await page.waitForFunction(() => {
    const report = document.querySelector('#report');
    return report.dataset.status !== 'pending' && report.textContent.startsWith('pairs.jsonl');
  }, null, { timeout: timeoutMs });
  const pairsReport = await text(page, 'report');
  console.log(`pairs as data: ${pairsReport.split('\n')[0]}`);
  expect(pairsReport.startsWith(`pairs.jsonl: ${chosen} examples (messages)`), `report: ${pairsReport}`);
  // The preview loads after the report shows; the view changes once both are done.
  await page.waitForFunction(() => location.hash === '#train', null, { timeout: timeoutMs })
    .catch(() => { throw new Error('the Train view is not open'); });
  await page.click('#tab-data');
  await page.waitForSelector('#preview .preview-row', { timeout: timeoutMs });
  const pairRows = await page.locator('#preview .preview-row pre').allInnerTexts();
  expect(pairRows.some((t) => t.includes('Where do I park my bike at the office?')), `the edit is not in the data: ${pairRows.join(' | ').slice(0, 400)}`);
  await page.click('#tab-documents');
  await page.screenshot({ path: join(artifacts, 'page-flow-done.png'), fullPage: true });
  await tour(page, 'flow');

  // The network cut: the page, its model and the document index come from the browser.
  await context.setOffline(true);
  await page.reload();
  const offline = await waitForStatus(page, 'model-status', ['ready', 'failed']);
  console.log(`offline reload: ${offline.text}`);
  expect(offline.status === 'ready', `offline: ${offline.text}`);
  expect((await page.locator('#history li').count()) === 1, 'history lost offline');
  // The finished run is not offered for resume, and its adapter is back: it downloads, and
  // answers as before the reload.
  await page.waitForSelector('#train-status[data-restored]', { timeout: timeoutMs });
  console.log(`after reload: ${await text(page, 'train-status')}`);
  expect(await page.locator('#resume-panel').isHidden(), `resume offered for a finished run: ${await text(page, 'resume-text')}`);
  const left = await page.evaluate(async () => {
    const names = [];
    for await (const name of (await navigator.storage.getDirectory()).keys()) names.push(name);
    return names;
  });
  expect(!left.includes('run'), `the finished run's folder is still in OPFS: ${left}`);
  await page.waitForSelector('#download:not([disabled])', { timeout: timeoutMs });
  await page.fill('#prompt', 'How many days of annual leave do I get?');
  await page.fill('#max-tokens', '24');
  await page.click('#compare');
  const again = await waitForStatus(page, 'answer-b', ['done']);
  expect(again.text === tuned.text, `the restored adapter answers ${JSON.stringify(again.text)}, before the reload ${JSON.stringify(tuned.text)}`);
  await page.waitForSelector('#docs-status[data-documents="7"]', { timeout: timeoutMs });

  // Domain adaptation on the indexed documents (kept in OPFS, still offline): windows of
  // their text, one document held out, held-out loss before and after two steps.
  await page.click('#docs-adapt');
  await page.waitForSelector('#report[data-status="ready"][data-format="documents"]', { timeout: timeoutMs });
  const adaptReport = await text(page, 'report');
  console.log(`adapt to documents: ${adaptReport}`);
  expect(/7 documents, for domain adaptation: cut into \d+ windows to train on and [1-9]\d* held out/.test(adaptReport)
    && /held out for validation: [a-z-]+\.md/.test(adaptReport), `documents report: ${adaptReport}`);
  await page.waitForFunction(() => location.hash === '#train', null, { timeout: 10_000 })
    .catch(() => expect(false, 'the Train view did not open'));
  await page.fill('#steps', '2');
  await page.click('#train-start');
  const adapted = await waitForStatus(page, 'train-status', ['done', 'failed', 'paused']);
  const adaptEvals = JSON.parse(await attr(page, 'loss-chart', 'data-evals'));
  console.log(`adapted: ${adapted.text}; held-out loss ${JSON.stringify(adaptEvals)}`);
  expect(adapted.status === 'done' && adaptEvals.length >= 2 && adaptEvals.every(([, l]) => l > 0),
    `adaptation: ${adapted.text} ${JSON.stringify(adaptEvals)}`);
  await page.waitForFunction(() => document.querySelectorAll('#history li').length === 2, null, { timeout: timeoutMs });
  const latest = await page.locator('#history li').first().innerText();
  expect(/on 7 documents/.test(latest), `history: ${latest}`);
  // The two runs compared: both curves drawn, the settings that differ listed; then the
  // older one deleted with its adapter.
  await page.click('#tab-runs');
  await page.check('#run-pick-0');
  await page.check('#run-pick-1');
  await page.click('#runs-compare');
  await page.waitForSelector('#runs-chart[data-runs="2"]', { timeout: timeoutMs });
  const differing = (await attr(page, 'runs-diff', 'data-differing')).split(',');
  console.log(`runs compared: ${(await page.locator('#runs-diff tr').allInnerTexts()).join(' | ').replace(/\t/g, ' ')}`);
  expect(differing.includes('dataset'), `the runs' datasets should differ: ${differing}`);
  // A run's log, kept with it.
  await page.locator('#history li').nth(1).getByRole('button', { name: 'Log' }).click();
  const keptLog = await text(page, 'runs-log');
  expect(/ step 6 of 6: loss /.test(keptLog) && / ended after step 6 \(completed\)/.test(keptLog),
    `the older run's log: ${keptLog.slice(-300)}`);
  await page.screenshot({ path: join(artifacts, 'page-runs-compared.png'), fullPage: true });
  // The older run's kept adapter downloads as one ZIP: the files of the adapter downloaded
  // from the Export view right after that run, byte for byte.
  downloads.length = 0;
  await page.locator('#history li').nth(1).getByRole('button', { name: 'Download' }).click();
  for (let i = 0; i < 300 && downloads.length < 1; i++) await page.waitForTimeout(100);
  expect(downloads.length === 1 && /^webtune-adapter-run-\d+\.zip$/.test(downloads[0].suggestedFilename()),
    `run download: ${downloads.map((d) => d.suggestedFilename())}`);
  const runFiles = await unzipDownload(downloads[0], join(artifacts, 'page-download-run'));
  console.log(`run adapter ${downloads[0].suggestedFilename()}: ${Object.keys(runFiles).sort().join(', ')}`);
  expect(Object.keys(runFiles).sort().join() === Object.keys(got).sort().join()
    && Object.keys(got).every((n) => runFiles[n].equals(got[n])), 'the run\'s kept adapter is not the one downloaded after it');
  // ... and answers in Chat: loaded beside the model under the run's name and picked; greedy,
  // it gives the answer the fine-tuned model gave in Compare after the reload.
  await page.locator('#history li').nth(1).getByRole('button', { name: 'Chat' }).click();
  await page.waitForFunction(() => location.hash === '#chat'
    && document.querySelector('#chat-adapter').value.startsWith('kept:run '), null, { timeout: timeoutMs })
    .catch(() => expect(false, 'Chat did not open with the run\'s adapter picked'));
  await page.fill('#chat-temperature', '0');
  await page.fill('#chat-max-tokens', '24');
  const turnsBefore = Number(await attr(page, 'chat-log', 'data-turns') ?? 0);
  await page.fill('#chat-input', 'How many days of annual leave do I get?');
  await page.click('#chat-send');
  await page.waitForSelector(`#chat-log[data-turns="${turnsBefore + 2}"]`, { timeout: timeoutMs });
  const runAnswer = await page.locator('#chat-log .turn.assistant pre').last().innerText();
  console.log(`chat with the older run's adapter: ${JSON.stringify(runAnswer)}`);
  expect(runAnswer === again.text, `the run's adapter in Chat answers ${JSON.stringify(runAnswer)}, in Compare ${JSON.stringify(again.text)}`);
  await page.click('#tab-runs');
  await page.locator('#history li').nth(1).getByRole('button', { name: 'Delete' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#history li').length === 1, null, { timeout: timeoutMs });
  const leftRuns = await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('runs');
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    return names;
  });
  expect(leftRuns.length === 1, `kept adapters after the delete: ${leftRuns}`);
}));

// Scenario 3: bad input through the page, and a model from a Hugging Face–style URL.
record(await scenario('page-bad-input', { webgpu: false, origin, query: `?max_len=96&hub=${origin}/hf` }, async (page) => {
  await waitForStatus(page, 'model-status', ['ready', 'failed']);
  const problem = async (what) => {
    await page.waitForSelector('#message[data-status="error"]', { timeout: timeoutMs });
    const shown = await text(page, 'message');
    console.log(`${what}: ${shown}`);
    return shown;
  };
  await page.setInputFiles('#model-files', { name: 'broken.gguf', mimeType: 'application/octet-stream', buffer: Buffer.from('GGUF garbage') });
  const corrupt = await problem('corrupt model');
  expect(/broken\.gguf/.test(corrupt) && /\[gguf\]/.test(corrupt), `corrupt model: ${corrupt}`);
  const still = await waitForStatus(page, 'model-status', ['ready', 'failed']);
  expect(still.status === 'ready' && /SmolLM2/.test(still.text), `the open model was lost: ${still.text}`);

  // A model too large for the engine (a Llama-3-8B-shaped config.json beside a small
  // safetensors file): refused from its config, before any tensor is read.
  const tinyConfig = JSON.parse(await readFile(join(hub, 'config.json'), 'utf8'));
  const big = {
    ...tinyConfig, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
    num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128, vocab_size: 128256,
  };
  await page.setInputFiles('#model-files', [
    { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(big)) },
    { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: await readFile(join(hub, 'model-00001-of-00004.safetensors')) },
  ]);
  const huge = await problem('model too large');
  expect(/\[too_large\]/.test(huge) && /GiB/.test(huge) && /smaller model/.test(huge), `too large a model: ${huge}`);
  expect(/SmolLM2/.test(await text(page, 'model-status')), 'the open model was lost');

  await page.setInputFiles('#data-file', { name: 'bad.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [\n') });
  await page.click('#data-load');
  const malformed = await problem('malformed dataset');
  expect(/bad\.jsonl/.test(malformed) && /line 2/.test(malformed), `malformed dataset: ${malformed}`);
  expect((await attr(page, 'report', 'data-status')) === 'failed', 'the report does not show the failure');

  // Data the page has not seen, with planted problems: 30 questions answered No 27 times and
  // Yes 3 times, line 31 repeating line 4 in other case. The report names the rows; asked
  // to, the page drops the repeat and rebalances the answers.
  const ask = (i) => `Is parcel ${i} of the ${['red', 'green', 'blue'][i % 3]} batch ready to ship from dock ${i % 5}?`;
  const planted = [...Array(30).keys()].map((i) => [ask(i + 1), (i + 1) % 10 === 3 ? 'Yes' : 'No']);
  planted.push([ask(4).toUpperCase(), 'No']);
  const plantedJsonl = planted.map(([q, a]) => JSON.stringify({ messages: [
    { role: 'user', content: q }, { role: 'assistant', content: a }] })).join('\n');
  await page.setInputFiles('#data-file', { name: 'parcels.jsonl', mimeType: 'application/json', buffer: Buffer.from(plantedJsonl) });
  await page.click('#data-load');
  await page.waitForSelector('#report[data-status="ready"]', { timeout: timeoutMs });
  const plantedReport = await text(page, 'report');
  console.log(`planted problems: ${plantedReport}`);
  expect(/1 training row repeats an earlier one, exactly or nearly \(line 31\)/.test(plantedReport)
    && /the answers are imbalanced: "no" \d+ %/.test(plantedReport), `planted report: ${plantedReport}`);
  // Every view on this data the page has not seen: row 1 as the model sees it, only its
  // answer marked as trained; the command the Train view shows names this file; then the
  // tour (each view at 1280 and 375 px, axe-core).
  await page.waitForFunction((q) => document.querySelector('#preview .preview-row[data-line="1"]')?.textContent.includes(q),
    planted[0][0], { timeout: timeoutMs });
  const unseen = await page.$eval('#preview .preview-row[data-line="1"]', (r) => ({
    marked: [...r.querySelectorAll('mark')].map((m) => m.textContent), text: r.querySelector('pre').textContent,
  }));
  const unseenCommand = await page.$eval('#run-command', (e) => e.textContent);
  console.log(`unseen data: row 1 marked ${JSON.stringify(unseen.marked)}; command ${unseenCommand}`);
  expect(unseen.marked.length === 1 && /^No\b/.test(unseen.marked[0]) && unseen.text.includes(planted[0][0])
    && !unseen.marked[0].includes('parcel'), `unseen preview: ${JSON.stringify(unseen)}`);
  expect(/ --data parcels\.jsonl /.test(unseenCommand), `unseen command: ${unseenCommand}`);
  await tour(page, 'unseen', ['light']);
  // The rows the report names are links: line 31 (the repeat) opens the preview at its row,
  // marked and focused; line 4 (the row it repeats) at row 4.
  const problemText = await text(page, 'data-problems');
  console.log(`rows to look at: ${problemText}`);
  for (const line of [31, 4]) {
    await page.click(`#data-problems button[data-line="${line}"]`);
    await page.waitForSelector(`#preview .preview-row.focus[data-line="${line}"]`, { timeout: timeoutMs });
    const shown = await page.evaluate(() => ({
      first: document.querySelector('#preview .preview-row')?.dataset.line,
      focused: document.activeElement?.dataset?.line,
      offset: document.querySelector('#preview').dataset.offset,
    }));
    expect(shown.first === String(line) && shown.focused === String(line) && shown.offset === String(line - 1),
      `the link to line ${line} showed ${JSON.stringify(shown)} (${problemText})`);
  }
  await page.check('#data-drop-repeats');
  await page.check('#data-rebalance');
  await page.click('#data-load');
  await page.waitForFunction(() => /rebalanced to|cannot be used/.test(document.querySelector('#report').textContent),
    null, { timeout: timeoutMs });
  const fixed = await text(page, 'report');
  console.log(`fixed: ${fixed}`);
  const after = fixed.match(/rebalanced to "no" (\d+) \(50 %\), "yes" (\d+) \(50 %\)/);
  expect(after && after[1] === after[2] && /: dropped/.test(fixed), `fixed report: ${fixed}`);
  await page.uncheck('#data-drop-repeats');
  await page.uncheck('#data-rebalance');

  // Preference pairs (TRL's conversational format): the report says so, the Train view
  // switches to DPO, and two steps end with the held-out pairs measured. A pair without a
  // rejected answer is refused, naming its line.
  const pairsJsonl = planted.slice(0, 12).map(([q, a]) => JSON.stringify({
    prompt: [{ role: 'user', content: q }],
    chosen: [{ role: 'assistant', content: a }],
    rejected: [{ role: 'assistant', content: a === 'Yes' ? 'No' : 'Yes' }] })).join('\n');
  await page.setInputFiles('#data-file', { name: 'pairs.jsonl', mimeType: 'application/json',
    buffer: Buffer.from(`${pairsJsonl}\n{"prompt": "Ready?", "chosen": "Yes"}\n`) });
  await page.click('#data-load');
  const noRejected = await problem('pair without a rejected answer');
  expect(/pairs\.jsonl, line 13: `rejected` is missing/.test(noRejected), `missing rejected: ${noRejected}`);
  await page.setInputFiles('#data-file', { name: 'pairs.jsonl', mimeType: 'application/json', buffer: Buffer.from(pairsJsonl) });
  await page.click('#data-load');
  await page.waitForSelector('#report[data-status="ready"]', { timeout: timeoutMs });
  const pairsReport = await text(page, 'report');
  console.log(`preference pairs: ${pairsReport}`);
  expect(/12 preference pairs/.test(pairsReport) && (await page.inputValue('#objective')) === 'dpo',
    `pairs report: ${pairsReport}, objective ${await page.inputValue('#objective')}`);
  await page.fill('#steps', '2');
  await page.click('#train-start');
  const aligned = await waitForStatus(page, 'train-status', ['done', 'failed', 'paused']);
  console.log(`DPO: ${aligned.text}`);
  expect(aligned.status === 'done' && /Held-out pairs: chosen answer preferred \d+ % → \d+ %, reward accuracy \d+ %/.test(aligned.text),
    `DPO run: ${aligned.text}`);
  await page.click('#tab-data');

  // A run too large for the memory: the plan says so, names what would fit, and Train is
  // refused with that message.
  await page.check('#data-demo');
  await page.click('#data-load');
  await page.waitForSelector('#plan[data-status="ok"]', { timeout: timeoutMs });
  console.log(`plan: ${await text(page, 'plan')}`);
  await page.fill('#batch', '256');
  await page.waitForSelector('#plan[data-status="failed"]', { timeout: timeoutMs });
  const plan = await text(page, 'plan');
  console.log(`plan for batch 256: ${plan}`);
  expect(/does not fit/.test(plan) && /batch \d+ with \d+ accumulation steps/.test(plan), `plan: ${plan}`);
  await page.click('#train-start');
  const tooLarge = await problem('too large a run');
  expect(/\[too_large\]/.test(tooLarge) && /These would fit/.test(tooLarge), `too large: ${tooLarge}`);
  await page.fill('#batch', '2');
  await page.waitForSelector('#plan[data-status="ok"]', { timeout: timeoutMs });

  await page.click('#other-model summary');
  await page.fill('#hf-url', `${origin}/hf/no-such-repo`);
  await page.click('#hf-download');
  const missing = await problem('missing repository');
  expect(/404/.test(missing), `missing repository: ${missing}`);

  // The page keeps working: the demo data loads, and a model downloads from a hub-style URL.
  await page.check('#data-demo');
  await page.click('#data-load');
  await page.waitForSelector('#report[data-status="ready"]', { timeout: timeoutMs });
  await page.fill('#hf-url', `${origin}/hf/tiny-llama`);
  await page.click('#hf-download');
  await page.waitForSelector('#model-status[data-status="ready"]:has-text("tiny-llama")', { timeout: timeoutMs });
  const tiny = await text(page, 'model-status');
  console.log(`from the hub layout: ${tiny}`);
  expect(/llama/.test(tiny) && requests.get('/hf/tiny-llama/resolve/main/model-00004-of-00004.safetensors') === 1,
    `hub download: ${tiny}`);

  // The models kept in this browser: both, with their sizes (the tiny Llama's: the files the
  // server sent, and its manifest), the open one marked. Open reopens the other from the
  // cache (no download); Delete removes one from the storage.
  await page.waitForSelector('#model-cache[data-models="2"]', { timeout: 10_000 });
  const cachedList = () => page.$$eval('#model-cache li', (lis) => lis.map((li) => ({
    key: li.dataset.key, bytes: Number(li.dataset.bytes), text: li.textContent,
  })));
  const listed = await cachedList();
  console.log(`cached models: ${listed.map((m) => m.text).join(' | ')}; ${await text(page, 'model-cache-use')}`);
  let served = 0;
  for (const [path] of requests) {
    const name = path.match(/^\/hf\/tiny-llama\/resolve\/main\/(.+)$/)?.[1];
    if (name) served += (await readFile(join(hub, name))).length;
  }
  const tinyEntry = listed.find((m) => /tiny-llama/.test(m.text));
  const smol = listed.find((m) => /SmolLM2/.test(m.text));
  expect(tinyEntry && /\(open\)/.test(tinyEntry.text) && tinyEntry.bytes >= served && tinyEntry.bytes < served + 4096,
    `tiny-llama in the cache: ${JSON.stringify(tinyEntry)}, ${served} bytes served`);
  expect(smol && !/\(open\)/.test(smol.text) && smol.bytes > 50 * 2 ** 20, `SmolLM2 in the cache: ${JSON.stringify(smol)}`);
  await page.locator(`#model-cache li[data-key="${smol.key}"]`).getByRole('button', { name: 'Open' }).click();
  await page.waitForSelector('#model-status[data-status="ready"]:has-text("SmolLM2")', { timeout: timeoutMs });
  expect(/cache/.test(await text(page, 'model-status')) && requests.get('/models/SmolLM2-135M-Instruct.Q4_1.gguf') === 1,
    `reopened: ${await text(page, 'model-status')}`);
  await page.waitForSelector('body:not([data-busy])', { timeout: timeoutMs });
  await page.locator(`#model-cache li[data-key="${tinyEntry.key}"]`).getByRole('button', { name: 'Delete' }).click();
  await page.waitForSelector('#model-cache[data-models="1"]', { timeout: 10_000 });
  const gone = await page.evaluate(async (key) => {
    const models = await (await navigator.storage.getDirectory()).getDirectoryHandle('models');
    return models.getDirectoryHandle(key).then(() => false, () => true);
  }, tinyEntry.key);
  console.log(`after Delete: ${await text(page, 'model-cache-status')}`);
  expect(gone && /Deleted .*tiny-llama/.test(await text(page, 'model-cache-status')), 'the deleted model is still in OPFS');

  // The better models: each checked from its config.json alone — what it takes here and
  // whether a LoRA run fits, before any weights are asked for — then one downloaded through
  // the same code as a hub URL (its weights are not on this server: the download fails, 404).
  await page.click('#better-models summary');
  const verdicts = {};
  for (const repo of Object.keys(HUB_CONFIGS)) {
    await page.locator(`#model-presets li[data-repo="${repo}"]`).getByRole('button', { name: 'Check' }).click();
    await page.waitForSelector(`#model-presets li[data-repo="${repo}"][data-checked]`, { timeout: 10_000 });
    await page.waitForSelector('body:not([data-busy])', { timeout: 10_000 });
    verdicts[repo] = await page.$eval(`#model-presets li[data-repo="${repo}"]`, (li) => ({
      checked: li.dataset.checked, text: li.querySelector('.verdict').textContent,
      download: !li.querySelector('.get').disabled,
    }));
    console.log(`${repo}: ${verdicts[repo].checked}: ${verdicts[repo].text}`);
  }
  const weights = [...requests.keys()].filter((p) => /^\/hf\/[^/]+\/[^/]+\/resolve\/main\/model/.test(p));
  expect(!weights.length, `weights were asked for before a download: ${weights}`);
  const [small, qwenSmall, qwenLarge, smolLarge] = ['HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct',
    'Qwen/Qwen2.5-1.5B-Instruct', 'HuggingFaceTB/SmolLM2-1.7B-Instruct'].map((r) => verdicts[r]);
  expect(small.checked === 'fits' && small.download && /362 M parameters, 1\.3 GiB here in f32/.test(small.text),
    `SmolLM2-360M: ${JSON.stringify(small)}`);
  expect(/494 M parameters/.test(qwenSmall.text) && qwenSmall.download, `Qwen2.5-0.5B: ${JSON.stringify(qwenSmall)}`);
  for (const [name, v] of [['Qwen2.5-1.5B', qwenLarge], ['SmolLM2-1.7B', smolLarge]]) {
    expect(v.checked === 'too-large' && !v.download && /cannot be opened here: .*4-bit blocks/.test(v.text),
      `${name}: ${JSON.stringify(v)}`);
  }
  await page.locator(`#model-presets li[data-repo="HuggingFaceTB/SmolLM2-360M-Instruct"]`).getByRole('button', { name: 'Download and open' }).click();
  const notThere = await problem('a preset without weights here');
  expect(/SmolLM2-360M-Instruct\/resolve\/main\/model\.safetensors answered 404/.test(notThere), `preset download: ${notThere}`);
}));

// Scenario 4: soak. A run on the tiny Llama (CPU tier) whose engine is killed at 10 random
// points (its worker terminated mid-step; every third kill a page reload, which also cuts
// checkpoint writes short) and resumed each time ends with the adapter of the run that was
// never interrupted, byte for byte, and with the same loss at every step; after every kill the
// checkpoint the run points at in OPFS is whole.
record(await scenario('page-soak', { webgpu: false, origin, query: '?tier=cpu' }, async (page) => {
  const KILLS = 10;
  const STEPS = 20; // asked; the epochs end the run at 18, the quick preset checkpointing every step
  await waitForStatus(page, 'model-status', ['ready', 'failed']);
  await page.click('#other-model summary');
  await page.fill('#hf-url', `${origin}/hf/tiny-llama`);
  await page.click('#hf-download');
  await page.waitForSelector('#model-status[data-status="ready"]:has-text("tiny-llama")', { timeout: timeoutMs });
  await page.click('#data-load');
  await waitForStatus(page, 'report', ['ready']);
  await page.fill('#steps', String(STEPS));
  await page.fill('#lr', '0.005');

  // The adapter's SHA-256 and every step's loss, once the run is done.
  const result = async () => {
    const done = await waitForStatus(page, 'train-status', ['done', 'failed', 'paused']);
    expect(done.status === 'done', `training: ${done.text}`);
    const digest = await page.evaluate(async () => {
      const files = await webtune.client.exportAdapter();
      const bytes = await files['adapter_model.safetensors'].arrayBuffer();
      const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return [...hash].map((b) => b.toString(16).padStart(2, '0')).join('');
    });
    return { digest, losses: JSON.parse(await attr(page, 'loss-chart', 'data-losses')) };
  };
  await page.click('#train-start');
  const whole = await result();

  // The checkpoint the run record points at: its state parses, its adapter's header parses.
  const checkpoint = () => page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const run = await root.getDirectoryHandle('run');
    const record = JSON.parse(await (await (await run.getFileHandle('run.json')).getFile()).text());
    const dir = await run.getDirectoryHandle(record.checkpoint.split('/').pop());
    const state = JSON.parse(await (await (await dir.getFileHandle('state.json')).getFile()).text());
    const tensors = new DataView(await (await (await dir.getFileHandle('adapter_model.safetensors')).getFile()).arrayBuffer());
    const header = Number(tensors.getBigUint64(0, true));
    JSON.parse(new TextDecoder().decode(new Uint8Array(tensors.buffer, 8, header)));
    return state.step;
  });

  // Kill points: 10 distinct steps from 2 to 4 before the run's last (a step of tiny-llama
  // takes ms: the run must not end before the kill lands), in order, each with a delay of
  // 0-9 ms (a fixed sequence: a failure can be replayed).
  const total = whole.losses.length;
  expect(total >= KILLS + 5, `the run has ${total} steps: too few to kill ${KILLS} times`);
  let seed = 7;
  const random = () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
  const steps = new Set();
  while (steps.size < KILLS) steps.add(2 + Math.floor(random() * (total - 5)));
  const points = [...steps].sort((a, b) => a - b).map((step) => ({ step, delay: Math.floor(random() * 10) }));
  await page.click('#train-start');
  const kept = [];
  for (const [i, { step, delay }] of points.entries()) {
    const reload = i % 3 === 2;
    // Waits in the page for the step, then kills the worker there (no round trip to the test):
    // at once when the step shows (before the page reads the worker's next message), or after
    // a few ms (mid-step, or while a checkpoint is being written).
    const outcome = await page.evaluate(({ step, delay, reload }) => new Promise((settle) => {
      const status = document.querySelector('#train-status');
      const kill = () => {
        if (status.dataset.status !== 'training') return settle(`status ${status.dataset.status}`);
        // A reload stops the worker there too, as closing the tab would.
        if (reload) webtune.client.worker.terminate();
        else webtune.client.worker.dispatchEvent(new ErrorEvent('error', { message: 'killed by the soak test' }));
        return settle('killed');
      };
      const ready = () => Number(status.dataset.step ?? 0) >= step && Number(status.dataset.saved ?? 0) >= 1;
      const arm = () => (delay ? setTimeout(kill, delay) : kill());
      if (ready()) return arm();
      const watch = new MutationObserver(() => {
        if (status.dataset.status !== 'training') { watch.disconnect(); return settle(`status ${status.dataset.status}`); }
        if (ready()) { watch.disconnect(); arm(); }
      });
      watch.observe(status, { attributes: true });
    }), { step, delay, reload });
    expect(outcome === 'killed', `kill ${i + 1} at step ${step}: ${outcome}`);
    if (reload) await page.reload();
    await page.waitForSelector('#resume-panel:not([hidden])', { timeout: timeoutMs });
    kept.push(`${step}${reload ? ' (reload)' : ''} → ${await checkpoint()}`);
    if (reload) await waitForStatus(page, 'model-status', ['ready']);
    await page.click('#resume');
    // Training, or already done: the last few steps of tiny-llama can finish between two polls.
    await page.waitForFunction(() => ['training', 'done'].includes(document.querySelector('#train-status').dataset.status),
      null, { timeout: timeoutMs, polling: 1 }).catch(async (err) => {
      // What the page showed instead (for a failure that has not been explained yet).
      const state = await page.evaluate(() => ['train-status', 'message', 'resume-text']
        .map((id) => `#${id} [${document.getElementById(id).dataset.status ?? ''}] ${document.getElementById(id).textContent}`)
        .join(' | ') + ` | resume disabled: ${document.getElementById('resume').disabled}`);
      throw new Error(`kill ${i + 1}: after Resume: ${state}: ${err.message}`);
    });
  }
  const soaked = await result();
  console.log(`soak: ${KILLS} kills (step killed at → checkpoint resumed from): ${kept.join(', ')}\n`
    + `  adapter SHA-256 uninterrupted ${whole.digest.slice(0, 16)}…, killed ${KILLS} times ${soaked.digest.slice(0, 16)}…`);
  expect(soaked.digest === whole.digest, 'the adapter differs from the uninterrupted run\'s');
  expect(JSON.stringify(soaked.losses) === JSON.stringify(whole.losses), 'a step\'s loss differs from the uninterrupted run\'s');

  // "Find good settings for me": a budget too small for one trial of the 8 settings is refused
  // saying what it needs; 20 steps try 8, then 3, then 1, and put the chosen one in the form.
  await page.click('#search-panel summary');
  await page.fill('#search-budget', '8');
  await page.click('#search');
  await waitForStatus(page, 'search-status', ['failed']);
  const small = await text(page, 'search-status');
  console.log(`search, budget 8: ${small}`);
  expect(/too small for one trial/.test(small) && /at least 20 steps/.test(small), `small budget: ${small}`);
  await page.fill('#search-budget', '20');
  await page.click('#search');
  const searched = await waitForStatus(page, 'search-status', ['done', 'failed']);
  const rows = await page.locator('#search-table tr').count();
  console.log(`search, budget 20: ${searched.text} (${rows - 1} trials)`);
  expect(searched.status === 'done' && rows - 1 === 12 && /Chosen: learning rate/.test(searched.text)
    && (await page.inputValue('#lr')) === (await attr(page, 'search-status', 'data-lr')),
  `search: ${searched.text}, ${rows - 1} trials`);
}));

server.close();
console.log(`page: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
