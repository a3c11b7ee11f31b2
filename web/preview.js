// The Data view's preview: the loaded dataset's rows as the model sees them (from the
// engine's `preview`), the trained spans marked, a page at a time. No logic of its own.
const PAGE = 5;
let offset = 0;
let total = 0;

function row(r) {
  const item = document.createElement('article');
  item.className = 'preview-row';
  Object.assign(item.dataset, { line: r.line, split: r.split, truncated: r.truncated });
  const head = document.createElement('p');
  head.className = 'speed';
  head.textContent = `Line ${r.line} · ${r.split === 'train' ? 'training' : 'validation'} · `
    + `${r.tokens} tokens, ${r.trained_tokens} trained${r.truncated ? ' · cut to the longest sequence' : ''}`;
  const text = document.createElement('pre');
  text.append(...r.spans.map((s) => (s.trained
    ? Object.assign(document.createElement('mark'), { textContent: s.text })
    : document.createTextNode(s.text))));
  item.append(head, text);
  return item;
}

/// Shows the page of rows from `from` (0 after a dataset is loaded).
export async function show(ctx, from = 0) {
  const preview = await ctx.page.wt.preview(from, PAGE);
  offset = from;
  total = preview.total;
  ctx.$('preview').replaceChildren(...preview.rows.map(row));
  ctx.$('preview').dataset.offset = from;
  ctx.$('preview-range').textContent = total
    ? `Rows ${from + 1}–${from + preview.rows.length} of ${total}` : 'No rows.';
  buttons(ctx, true);
}

/// Turns the paging buttons on or off.
export function buttons(ctx, ready) {
  ctx.$('preview-prev').disabled = !ready || total === 0 || offset === 0;
  ctx.$('preview-next').disabled = !ready || offset + PAGE >= total;
}

export function wire(ctx) {
  ctx.$('preview-prev').onclick = () => ctx.task('Showing the data', () => show(ctx, Math.max(0, offset - PAGE)));
  ctx.$('preview-next').onclick = () => ctx.task('Showing the data', () => show(ctx, offset + PAGE));
}
