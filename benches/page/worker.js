// The timed work of `benches/page/run.mjs`, in a module worker as the page runs its engine:
// the CPU tier opens SmolLM2, trains 4 LoRA steps of the demo data at batch 2 and answers a
// question greedily (48 tokens, base model), through the JavaScript API every revision since
// the page's first shares. Posts the times back.
const pkg = new URL(self.location.href).searchParams.get('pkg');
const { default: init, Webtune } = await import(`./${pkg}/webtune-web.js`);
try {
  await init();
  const engine = await Webtune.create('cpu');
  const blob = await (await fetch('./model.gguf')).blob();
  let t = performance.now();
  await engine.openModel([new File([blob], 'SmolLM2-135M-Instruct.Q4_1.gguf')]);
  const open_s = (performance.now() - t) / 1e3;
  const text = await (await fetch('./support.jsonl')).text();
  await engine.loadDataset('support.jsonl', text, { validation_fraction: 0 });
  const steps = [];
  t = performance.now();
  await engine.train({ max_steps: 4, batch_size: 2, warmup_steps: 0, eval_every: 0 }, (e) => {
    if (e.event !== 'step') return;
    const now = performance.now();
    steps.push({ s: (now - t) / 1e3, loss: e.report.loss, trained: e.report.tokens });
    t = now;
  });
  let first = null;
  const asked = performance.now();
  const out = await engine.generate('How many vacation days do I get per year?',
    { max_new_tokens: 48, adapter: false }, () => { first ??= performance.now(); });
  const end = performance.now();
  self.postMessage({
    pkg, open_s, steps, tokens: out.tokens,
    first_token_s: (first - asked) / 1e3,
    decode_tok_s: (out.tokens - 1) / ((end - first) / 1e3),
  });
} catch (err) {
  self.postMessage({ pkg, error: String(err?.message ?? err) });
}
