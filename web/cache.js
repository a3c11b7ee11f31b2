// The Model view's list of the models kept in this browser's storage (OPFS, see store.js):
// each with its size, Open and Delete, and how much of the storage the browser allows the page
// uses. The page only lists and removes files here; opening goes through the engine.
import * as store from './store.js';

/// Lists the cached models (largest first), marking the open one.
export async function show(ctx) {
  const panel = ctx.$('model-cache-panel');
  if (!(await store.available())) {
    panel.hidden = true;
    return;
  }
  const models = await store.cachedModels();
  const open = ctx.page.model?.key;
  ctx.$('model-cache').replaceChildren(...models.map((m, i) => {
    const li = document.createElement('li');
    li.dataset.key = m.key;
    li.dataset.bytes = m.bytes;
    const button = (text, action) => ctx.button(text, action, `${text.toLowerCase()} cached model ${i + 1}`);
    const notes = [m.complete ? '' : ' (an unfinished download)', m.key === open ? ' (open)' : ''].join('');
    li.append(`${m.label}: ${ctx.mib(m.bytes)}${notes} `);
    if (m.complete && m.key !== open) {
      li.append(button('Open', () => ctx.task('Opening the model', () => ctx.openCached(m.key))));
    }
    li.append(button('Delete', () => ctx.task('Deleting the model', async () => {
      await store.deleteModel(m.key);
      ctx.show('model-cache-status', 'done', `Deleted ${m.label} (${ctx.mib(m.bytes)}) from this browser`
        + (m.key === open ? '; it stays open until another model is.' : '.'));
      await show(ctx);
    })));
    return li;
  }));
  ctx.$('model-cache').dataset.models = models.length;
  const total = models.reduce((n, m) => n + m.bytes, 0);
  const { usage, quota } = (await navigator.storage.estimate?.().catch(() => null)) ?? {};
  ctx.$('model-cache-use').textContent = `${models.length} ${models.length === 1 ? 'model' : 'models'}, `
    + `${ctx.mib(total)}` + (usage != null && quota
    ? `; the page uses ${ctx.mib(usage)} of the ${ctx.mib(quota)} this browser allows it.` : '.');
  panel.hidden = false;
}
