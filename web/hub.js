// The Model view's better models: the engine's list of hub models (`modelPresets()`), each
// checked before it is fetched — its config.json read and sized by the engine for this device
// (`sizeUp()`: weights at rest, whether the engine can hold them, a LoRA run's memory) — and
// downloaded through the same code as any hub URL.
import { readConfig } from './download.js';

/// The hub the presets come from (`?hub=` points elsewhere, as the tests' local copy does).
const hub = (ctx) => (ctx.params.get('hub') ?? 'https://huggingface.co').replace(/\/+$/, '');

/// Reads the config.json of `repo` and shows what the engine says of it in `item`.
async function check(ctx, repo, item) {
  const json = await readConfig(`${hub(ctx)}/${repo}`);
  const maxLen = Number(ctx.$('set-data-encode-max_len').value);
  const fit = await ctx.page.wt.sizeUp(repo, json, ctx.$('quantize').checked, maxLen);
  const verdict = item.querySelector('.verdict');
  verdict.textContent = fit.summary;
  verdict.dataset.fits = fit.opens && fit.training.fits;
  item.dataset.checked = fit.opens ? (fit.training.fits ? 'fits' : 'opens') : 'too-large';
  item.querySelector('.get').disabled = !fit.opens;
}

/// Lists the presets, each with Check and Download.
export async function show(ctx) {
  const presets = await ctx.page.wt.modelPresets();
  ctx.$('model-presets').replaceChildren(...presets.map((p) => {
    const item = document.createElement('li');
    item.dataset.repo = p.repo;
    const verdict = Object.assign(document.createElement('span'), { className: 'verdict' });
    const get = ctx.button('Download and open', () => ctx.downloadTask(`${hub(ctx)}/${p.repo}`), `Download and open ${p.repo}`);
    get.className = 'get';
    get.disabled = true;
    item.append(Object.assign(document.createElement('strong'), { textContent: p.repo }), `: ${p.note}. `,
      ctx.button('Check', () => ctx.task('Checking the model', () => check(ctx, p.repo, item)), `Check ${p.repo}`),
      ' ', get, ' ', verdict);
    return item;
  }));
}
