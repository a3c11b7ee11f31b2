// The Train view's starting points: the engine's quick, balanced and thorough runs, each
// sized by its memory planner for this device (`presets()`), with their length and memory.
// Picking one fills every setting; editing any setting picks "your own".
import * as settings from './settings.js';

let chosen = 'quick';
let shownPresets = [];

/// One preset as a radio choice: what it is for, its shape, its length and the planner's word.
function choice(ctx, preset) {
  const c = preset.config;
  const radio = Object.assign(document.createElement('input'), { type: 'radio', name: 'preset', value: preset.name });
  radio.id = `preset-${preset.name}`;
  radio.checked = chosen === preset.name;
  radio.onchange = () => { chosen = preset.name; use(ctx, preset); };
  const memory = preset.plan.fits
    ? `about ${ctx.mib(preset.plan.total)}${preset.plan.budget ? ` of ${ctx.mib(preset.plan.budget)}` : ''}`
    : `does not fit: it ${preset.plan.problems.join('; ')}`;
  const verdict = Object.assign(document.createElement('span'), { className: 'verdict', textContent: memory });
  verdict.dataset.fits = preset.plan.fits;
  const label = document.createElement('label');
  label.dataset.preset = preset.name;
  label.append(radio, ' ', Object.assign(document.createElement('strong'), {
    textContent: preset.name[0].toUpperCase() + preset.name.slice(1),
  }), `: ${preset.purpose}. Rank ${c.lora.r}, batch ${c.batch_size} × ${c.grad_accumulation}, `
    + `learning rate ${c.optimizer.lr}; ${preset.length.summary} Memory: `, verdict, '.');
  return label;
}

/// Fills the settings with `preset`; resolves once its plan is shown.
function use(ctx, preset) {
  settings.write(preset.config, 'run');
  return ctx.showPlan();
}

/// Asks the engine for the presets on the loaded data and shows them; the chosen one (unless
/// the person's own settings are) fills the settings.
export async function show(ctx) {
  shownPresets = await ctx.page.wt.presets();
  ctx.$('preset-list').replaceChildren(...shownPresets.map((p) => choice(ctx, p)));
  ctx.$('preset-custom').checked = chosen === 'custom';
  const preset = shownPresets.find((p) => p.name === chosen);
  if (preset) await use(ctx, preset);
}

/// Picks preset `name` and fills the settings with it; resolves once its plan is shown, to
/// false when no such preset is shown.
export async function choose(ctx, name) {
  const preset = shownPresets.find((p) => p.name === name);
  if (!preset) return false;
  chosen = name;
  ctx.$(`preset-${name}`).checked = true;
  await use(ctx, preset);
  return true;
}

/// The person changed a setting: their own settings are now the choice.
export function edited(ctx) {
  chosen = 'custom';
  ctx.$('preset-custom').checked = true;
}
