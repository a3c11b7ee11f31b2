#!/usr/bin/env node
// The page's CPU tier (wasm in headless Chromium, in a worker as the page runs it) timed on
// two builds side by side, alternated twice: opening SmolLM2, seconds per LoRA step (batch 2,
// the demo data; the first step apart) and greedy decode tokens/s. Each argument is a Trunk
// `dist/` folder, e.g. this checkout's and one built from an older revision:
//
//   git worktree add /tmp/old REV && ln -s "$PWD/.cache" "$PWD/node_modules" /tmp/old/
//   (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old/target trunk build --release)
//   node benches/page/run.mjs /tmp/old/dist dist
//
// Needs the model (scripts/setup.sh) and Chromium ($CHROMIUM, default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { copyFile, mkdir, mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const builds = process.argv.slice(2);
if (builds.length === 0) {
  console.error('usage: node benches/page/run.mjs DIST [DIST…]');
  process.exit(2);
}
const site = await mkdtemp(join(tmpdir(), 'webtune-page-bench-'));
for (const f of ['index.html', 'worker.js']) await copyFile(join(here, f), join(site, f));
await symlink(join(root, '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf'), join(site, 'model.gguf'));
await copyFile(join(root, 'static/demo/support.jsonl'), join(site, 'support.jsonl'));
const names = [];
for (const [i, dist] of builds.entries()) {
  const name = `build${i}`;
  await mkdir(join(site, name));
  for (const f of ['webtune-web.js', 'webtune-web_bg.wasm']) {
    await copyFile(join(resolve(dist), f), join(site, name, f));
  }
  names.push(name);
}
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer(async (req, res) => {
  try {
    const path = join(site, new URL(req.url, 'http://x').pathname);
    const body = await readFile(path);
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
});
const fixed = (x, n = 2) => x.toFixed(n);
console.log('build | open s | first step s | later steps s/step | trained tok/s | first token s | decode tok/s | losses');
for (const round of [1, 2]) {
  for (const [i, name] of names.entries()) {
    const page = await browser.newPage();
    await page.goto(`${base}/index.html?pkg=${name}`);
    await page.waitForFunction(() => window.result, null, { timeout: 1_800_000, polling: 500 });
    const r = await page.evaluate(() => window.result);
    await page.close();
    if (r.error) {
      console.log(`${builds[i]} (round ${round}): ${r.error}`);
      continue;
    }
    const later = r.steps.slice(1);
    const seconds = later.reduce((a, s) => a + s.s, 0);
    const trained = later.reduce((a, s) => a + s.trained, 0);
    console.log([
      `${builds[i]} (round ${round})`, fixed(r.open_s, 1), fixed(r.steps[0].s),
      fixed(seconds / later.length), fixed(trained / seconds, 1), fixed(r.first_token_s),
      fixed(r.decode_tok_s), r.steps.map((s) => fixed(s.loss, 4)).join(' '),
    ].join(' | '));
  }
}
await browser.close();
server.close();
