// The Runs view: the finished runs kept in this browser (store.js), newest first; two or more
// ticked are compared — their loss curves overlaid and the settings that differ side by
// side —, a kept adapter downloads as one ZIP or answers in Chat (on the run's own model), a
// run's log shows, and a run can be deleted with its adapter. Only what the runs recorded is
// shown.
import * as store from './store.js';
import * as chat from './chat.js';
import { plot } from './chart.js';
import { save } from './export.js';

const COLORS = ['#2f6fdf', '#e67e22', '#27ae60', '#8e44ad', '#c0392b', '#16a085'];
const when = (iso) => iso?.slice(0, 16).replace('T', ' ');

/// `{a: {b: 1}}` → `{"a.b": 1}`.
function flat(value, prefix = '', out = {}) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flat(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = JSON.stringify(value);
  }
  return out;
}

function label(run) {
  const val = run.final_validation_loss != null
    ? `, validation loss ${run.first_validation_loss?.toFixed(3)} → ${run.final_validation_loss.toFixed(3)}` : '';
  return `${when(run.ended)}: ${run.model.label} on ${run.dataset.name}, `
    + `${run.losses.at(-1)?.[0] ?? 0} steps (${run.status})${val}`;
}

/// Lists the runs: first the unfinished one offered for resume (Resume, Log), then the
/// finished ones, each with a tick to compare, Download and Chat for a kept adapter, Log and
/// Delete.
export async function show(ctx) {
  const open = ctx.unfinished();
  ctx.$('runs-open').hidden = !open;
  if (open) {
    ctx.$('runs-open-text').textContent = `Unfinished: started ${when(open.started)}, ${open.model.label} on `
      + `${open.dataset.name}, stopped at step ${open.step} of ${open.total_steps ?? '?'} (${open.status === 'training' ? 'interrupted' : open.status}). `;
    ctx.$('runs-resume').onclick = ctx.resumeRun;
    ctx.$('runs-open-log').onclick = () => showLog(ctx, open, 'the unfinished run');
  }
  const runs = await store.history();
  ctx.$('history').replaceChildren(...runs.map((run, i) => {
    const li = document.createElement('li');
    li.dataset.id = run.id;
    const pick = Object.assign(document.createElement('input'), { type: 'checkbox', id: `run-pick-${i}` });
    pick.value = run.id;
    pick.setAttribute('aria-label', `compare run ${i + 1}`);
    pick.onchange = () => { ctx.$('runs-compare').disabled = picked(ctx).length < 2; };
    const button = (text, aria, action) => ctx.button(text, action, aria && `${aria} of run ${i + 1}`);
    const buttons = [];
    if (run.adapter) {
      buttons.push(button('Download', 'download the adapter', () => ctx.task('Zipping the run\'s adapter', async () => {
        const said = save(await ctx.page.wt.zipFiles(`webtune-adapter-${run.id}.zip`, await adapter(run)));
        ctx.show('runs-status', 'done', `${said}. Unzip it into a folder and load that with PEFT's `
          + 'PeftModel.from_pretrained(base, folder).');
      })));
    }
    if (run.adapter && run.model.key === ctx.page.model?.key) {
      buttons.push(button('Chat', 'chat with the adapter', () => ctx.task('Loading the run\'s adapter', async () => {
        const name = `run ${when(run.ended)}`;
        if (!(await ctx.page.wt.adapters()).some((a) => a.name === name)) {
          await ctx.page.wt.loadAdapter(name, await adapter(run));
        }
        await chat.pick(ctx, `kept:${name}`);
        location.hash = '#chat';
      })));
    }
    buttons.push(button('Log', 'show the log', () => showLog(ctx, run, `run ${i + 1} (${when(run.ended)})`)));
    buttons.push(button('Delete', null, () => ctx.task('Deleting the run', async () => {
      await store.deleteRun(run.id);
      await show(ctx);
    })));
    li.append(pick, ` ${label(run)} `, ...buttons);
    return li;
  }));
  ctx.$('runs-compare').disabled = true;
}

/// Shows `run`'s log under the list.
function showLog(ctx, run, name) {
  ctx.$('runs-log').textContent = (run.log ?? ['(this run kept no log)']).join('\n');
  ctx.$('runs-log-title').textContent = `The log of ${name}`;
  ctx.$('runs-log-panel').hidden = false;
}

/// Run `run`'s kept adapter files, or an error saying they are gone.
async function adapter(run) {
  const files = await store.runAdapter(run);
  if (!files) throw Object.assign(new Error('this run\'s adapter is no longer in this browser\'s storage'), { kind: 'input' });
  return files;
}

function picked(ctx) {
  return [...ctx.$('history').querySelectorAll('input:checked')].map((c) => c.value);
}

function chart(ctx, runs) {
  const canvas = ctx.$('runs-chart');
  plot(canvas, runs.flatMap((run, i) => {
    const color = COLORS[i % COLORS.length];
    return [
      { points: run.losses, color, label: `run ${i + 1}` },
      { points: run.evals, color, dash: [4, 3] },
    ];
  }));
  canvas.dataset.runs = runs.length;
}

/// Overlays the ticked runs' curves (solid: training loss, dashed: validation) and lists the
/// settings in which they differ.
function compare(ctx) {
  const ids = picked(ctx);
  return store.history().then((all) => {
    const runs = ids.map((id) => all.find((r) => r.id === id)).filter(Boolean);
    chart(ctx, runs);
    const settings = runs.map((r) => flat({
      model: r.model.label, dataset: r.dataset.name, ...r.config,
    }));
    const keys = [...new Set(settings.flatMap(Object.keys))].sort()
      .filter((k) => new Set(settings.map((s) => s[k])).size > 1);
    const last = (pairs) => (pairs.length ? pairs.at(-1)[1].toFixed(3) : 'n/a');
    const rows = [
      ...keys.map((k) => [k, ...settings.map((s) => s[k] ?? '—')]),
      ['last training loss', ...runs.map((r) => last(r.losses))],
      ['last validation loss', ...runs.map((r) => last(r.evals))],
    ];
    ctx.table('runs-diff', ['setting', ...runs.map((r, i) => `run ${i + 1} (${when(r.ended)})`)], rows);
    ctx.$('runs-diff').dataset.differing = keys.join(',');
  });
}

export function wire(ctx) {
  ctx.$('runs-compare').onclick = () => ctx.task('Comparing runs', () => compare(ctx));
}
