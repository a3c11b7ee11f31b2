// Page smoke test: serves the Trunk build (dist/) on 127.0.0.1, opens it in Debian's headless
// Chromium through playwright-core, and checks what a person would see.
//
//   node tests/page/smoke.mjs      (after `trunk build --release --offline`)
//
// Scenario 1, WebGPU on (--enable-unsafe-webgpu, SwiftShader): the adapter report appears and
// names SwiftShader, the self-check passes, the default model loads by itself and answers the
// prompt box ("What is the capital of France?" → "The capital of France is Paris."). Scenario 2, WebGPU off: the page says so clearly
// instead of going blank. Both fail on any uncaught error, any console error (scenario 1), and
// any request that leaves the page's origin. Scenario 3: the engine in its Web Worker trains the
// default model on the demo data while the main thread keeps drawing frames (see below).
// Screenshots go to tests/artifacts/.
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

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

function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function scenario(name, { webgpu, origin }, check) {
  const browser = await chromium.launch({
    executablePath: browserPath,
    args: webgpu ? [...baseFlags, '--enable-unsafe-webgpu'] : baseFlags,
  });
  const problems = [];
  const console_ = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    page.on('console', (msg) => {
      console_.push(`[${msg.type()}] ${msg.text()}`);
      if (msg.type() === 'error' && webgpu) problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
    page.on('request', (req) => {
      const url = req.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) {
        problems.push(`request left the origin: ${url}`);
      }
    });
    await page.goto(`${origin}/`);
    await check(page);
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  } catch (err) {
    problems.push(String(err?.stack ?? err));
  } finally {
    await browser.close();
  }
  if (problems.length) {
    console.error(`FAIL ${name}\n  ${problems.join('\n  ')}\n  console:\n    ${console_.join('\n    ')}`);
    return false;
  }
  console.log(`ok   ${name}`);
  return true;
}

const expect = (cond, message) => { if (!cond) throw new Error(message); };

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

record(await scenario('page-webgpu', { webgpu: true, origin }, async (page) => {
  const adapter = await waitForStatus(page, 'adapter', ['ready', 'unavailable']);
  console.log(`browser adapter report:\n${adapter.text.replace(/^/gm, '    ')}`);
  expect(adapter.status === 'ready', `no adapter: ${adapter.text}`);
  expect(/swiftshader/i.test(adapter.text), 'the adapter is not SwiftShader');
  const check = await waitForStatus(page, 'selfcheck', ['ok', 'failed']);
  console.log(`self-check: ${check.text}`);
  expect(check.status === 'ok', `self-check failed: ${check.text}`);
  // The default model loads with no manual step and answers the prompt box, streaming.
  const model = await waitForStatus(page, 'model', ['ready', 'failed']);
  console.log(`model: ${model.text}`);
  expect(model.status === 'ready', `model failed: ${model.text}`);
  await page.click('#generate');
  await waitForStatus(page, 'answer', ['generating', 'done', 'failed']);
  const answer = await waitForStatus(page, 'answer', ['done', 'failed']);
  const stats = await page.locator('#answer-stats').innerText();
  console.log(`answer: ${answer.text} (${stats})`);
  expect(answer.status === 'done', `generation failed: ${answer.text}`);
  expect(answer.text.trim() === 'The capital of France is Paris.', `unexpected answer: ${answer.text}`);
}));

record(await scenario('page-no-webgpu', { webgpu: false, origin }, async (page) => {
  const adapter = await waitForStatus(page, 'adapter', ['ready', 'unavailable']);
  expect(adapter.status === 'unavailable', 'WebGPU was found without --enable-unsafe-webgpu');
  expect(/WebGPU is not available/.test(adapter.text), `unclear message: ${adapter.text}`);
  console.log(`message without WebGPU: ${adapter.text.split('\n')[0]}`);
  const model = await waitForStatus(page, 'model', ['unavailable', 'ready', 'failed']);
  expect(model.status === 'unavailable', `model section: ${model.status} ${model.text}`);
}));

// Scenario 3: the engine in its worker (CPU tier, so that it runs without WebGPU): the default
// model and the demo dataset load there, LoRA trains a few steps while the main thread keeps
// drawing frames (the longest gap between animation frames is measured), the adapter is
// exported as Blobs, and a corrupt model file is refused with a typed error.
record(await scenario('page-worker-training', { webgpu: false, origin }, async (page) => {
  const result = await page.evaluate(async () => {
    const { WebtuneClient } = await import('/client.js');
    const wt = new WebtuneClient('/worker.js');
    await wt.create('cpu');
    const model = await (await fetch('/models/SmolLM2-135M-Instruct.Q4_1.gguf')).blob();
    const info = await wt.openModel([{ name: 'SmolLM2-135M-Instruct.Q4_1.gguf', data: model }]);
    const text = await (await fetch('/demo/support.jsonl')).text();
    const report = await wt.loadDataset('support.jsonl', text, { encode: { max_len: 96 } });
    let gap = 0;
    let frames = 0;
    let last = performance.now();
    let running = true;
    const tick = (now) => {
      gap = Math.max(gap, now - last);
      last = now;
      frames += 1;
      if (running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    const events = [];
    const started = performance.now();
    await wt.train({
      lora: { r: 8, lora_alpha: 16 }, optimizer: { lr: 2e-3 }, max_steps: 3, batch_size: 2,
      warmup_steps: 0, eval_every: 0,
    }, (e) => events.push(e));
    running = false;
    const seconds = (performance.now() - started) / 1000;
    const files = await wt.exportAdapter();
    let error = null;
    try {
      await wt.openModel([{ name: 'broken.gguf', data: new Blob(['GGUF garbage']) }]);
    } catch (e) {
      error = { kind: e.kind, message: e.message };
    }
    return {
      info, report, events, gap, frames, seconds, error,
      files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.size])),
    };
  });
  const steps = result.events.filter((e) => e.event === 'step').map((e) => e.report.loss);
  const evals = result.events.filter((e) => e.event === 'eval').map((e) => e.validation_loss);
  console.log(`worker: ${result.info.architecture}, ${result.report.rows} demo rows, losses ${steps.map((l) => l.toFixed(3)).join(' ')}, validation ${evals.map((l) => l.toFixed(3)).join(' → ')}, ${result.seconds.toFixed(1)} s; longest main-thread frame gap ${result.gap.toFixed(0)} ms over ${result.frames} frames`);
  expect(result.info.architecture === 'llama', `model info: ${JSON.stringify(result.info)}`);
  expect(result.report.rows === 40, `report: ${JSON.stringify(result.report)}`);
  expect(steps.length === 3 && steps.every(Number.isFinite), `steps: ${steps}`);
  expect(evals.length >= 2 && evals.at(-1) < evals[0], `validation loss did not fall: ${evals}`);
  expect(result.frames > 10 && result.gap < 100, `the main thread stalled: ${result.gap} ms`);
  expect(result.files['adapter_model.safetensors'] > 0 && result.files['adapter_config.json'] > 0,
    `export: ${JSON.stringify(result.files)}`);
  expect(result.error?.kind === 'gguf' && /broken\.gguf/.test(result.error.message),
    `corrupt model: ${JSON.stringify(result.error)}`);
}));

server.close();
console.log(`page: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
