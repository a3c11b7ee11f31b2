// The Model view's speed check: a short LoRA step and a few generated tokens on the open
// model, timed by the engine (`bench()`), with the GPU kernels each launches. The numbers
// and their meaning come from the engine; this only shows them.

/// What one measurement takes: small enough for a few seconds on a CPU tier.
const SETTINGS = { seq: 64, batch: 1, steps: 1, prompt_tokens: 32, new_tokens: 8 };
/// `?bench=tiny`: the least that still measures (for tests on a software GPU).
const TINY = { seq: 8, batch: 1, steps: 1, prompt_tokens: 4, new_tokens: 2 };

/// The report as lines a person reads.
function lines(r, tier) {
  const c = r.config;
  const out = [
    `Training (LoRA r${c.rank}, ${c.batch} × ${c.seq} tokens): ${r.step_seconds.toFixed(2)} s per step, ${r.train_tokens_per_second.toFixed(0)} tokens/s (the first step: ${r.first_step_seconds.toFixed(2)} s).`,
    `Answers: the prompt read at ${r.prefill_tokens_per_second.toFixed(0)} tokens/s, then ${r.decode_tokens_per_second.toFixed(1)} tokens/s (the first answer's first token after ${r.first_token_seconds.toFixed(2)} s).`,
  ];
  if (r.launches_per_step > 0) {
    const top = r.token_kernels.slice(0, 3).map((k) => `${k.kernel} ${k.launches}`).join(', ');
    out.push(`GPU kernels launched: ${r.launches_per_step} per training step, ${Math.round(r.launches_per_token)} per generated token (most: ${top}).`);
  } else {
    out.push(`On ${tier}: no GPU kernels are launched.`);
  }
  return out.join('\n');
}

export function buttons(ctx, ready) {
  ctx.$('bench').disabled = !ready;
}

export function wire(ctx) {
  ctx.$('bench').onclick = () => ctx.task('Measuring speed', async () => {
    ctx.show('bench-status', 'pending', 'Measuring: one training step and a few tokens…');
    try {
      // One call at a time: the engine refuses a second while the first holds it.
      const device = await ctx.page.wt.device();
      const report = await ctx.page.wt.bench(ctx.params.get('bench') === 'tiny' ? TINY : SETTINGS);
      ctx.show('bench-status', 'ready', lines(report, device.tier));
      ctx.$('bench-status').dataset.launchesPerStep = report.launches_per_step;
      ctx.$('bench-status').dataset.trainTokensPerSecond = report.train_tokens_per_second;
    } catch (err) {
      if (err?.kind === 'stopped') ctx.show('bench-status', 'idle', 'Stopped: no measurement.');
      else ctx.show('bench-status', 'failed', `No measurement: ${err.message}`);
      throw err;
    }
  }, ctx.stopEngine);
}
