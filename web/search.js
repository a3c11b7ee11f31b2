// The Train view's "Find good settings for me": the engine's settings search (successive
// halving over learning rates × ranks within a budget of steps), its trials as a table, and
// the chosen setting put into the form. No logic of its own: the engine decides.
const LRS = [1e-4, 3e-4, 1e-3, 3e-3];
const RANKS = [8, 16];

/// Runs the search on the loaded data with the form's other settings (`config`).
export async function run(ctx, config) {
  const { $, show, table, page } = ctx;
  const budget = Number($('search-budget').value);
  const trials = [];
  const shown = () => table('search-table', ['rung', 'learning rate', 'rank', 'steps', 'validation loss'],
    trials.map((t) => [t.rung, t.lr.toExponential(0), t.rank, t.steps,
      t.validation_loss == null ? 'n/a' : t.validation_loss.toFixed(4)]));
  show('search-status', 'pending', 'Searching…');
  const report = await page.wt.searchSettings(config, { lr: LRS, rank: RANKS, budget_steps: budget }, (e) => {
    if (e.search === 'started') {
      show('search-status', 'pending', `Trying ${e.candidates} settings: `
        + e.rungs.map((r) => `${r.candidates} to step ${r.steps}`).join(', then ') + '.');
    } else if (e.search === 'trial') {
      trials.push(e.trial);
      shown();
    }
  });
  const best = report.best;
  $('lr').value = best.optimizer.lr;
  $('rank').value = best.lora.r;
  $('steps').value = best.max_steps;
  $('search-status').dataset.lr = best.optimizer.lr;
  $('search-status').dataset.rank = best.lora.r;
  if (!report.stopped) page.trained = true;
  show('search-status', 'done', report.stopped
    ? `Stopped after ${report.steps} steps; the best so far: learning rate ${best.optimizer.lr}, rank ${best.lora.r} (now in the form).`
    : `Chosen: learning rate ${best.optimizer.lr}, rank ${best.lora.r}, ${best.max_steps} steps (now in the form), `
      + `from ${report.steps} steps in all. The model holds its adapter: compare, evaluate or download it.`);
  return report;
}
