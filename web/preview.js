// The Data view's preview: the loaded dataset's rows as the model sees them (from the
// engine's `preview`), the trained spans marked, a page at a time; and the rows the data
// report names (repeats, leaks, cut rows), each a link to its row. No logic of its own.
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

/// Shows `page` (an engine `Preview`); with `line`, marks that line's row and scrolls to it.
function render(ctx, preview, line) {
  offset = preview.offset;
  total = preview.total;
  const rows = preview.rows.map(row);
  ctx.$('preview').replaceChildren(...rows);
  ctx.$('preview').dataset.offset = offset;
  ctx.$('preview-range').textContent = total
    ? `Rows ${offset + 1}–${offset + preview.rows.length} of ${total}` : 'No rows.';
  buttons(ctx, true);
  const focus = line != null && rows.find((r) => Number(r.dataset.line) === line);
  if (focus) {
    focus.classList.add('focus');
    focus.tabIndex = -1;
    focus.focus();
  }
}

/// Shows the page of rows from `from` (0 after a dataset is loaded).
export async function show(ctx, from = 0) {
  render(ctx, await ctx.page.wt.preview(from, PAGE));
}

/// Shows the page that starts at `line` of the file, that row marked.
export async function showLine(ctx, line) {
  render(ctx, await ctx.page.wt.previewLine(line, PAGE), line);
}

/// Lists the rows the data `report` names (repeated rows, validation rows that repeat
/// training rows, rows cut to the longest sequence), each line a button to its row.
export function problems(ctx, report) {
  const link = (line) => {
    const b = ctx.button(`line ${line}`, () => ctx.task('Showing the row', () => showLine(ctx, line)));
    b.className = 'link';
    b.dataset.line = line;
    return b;
  };
  const item = (...parts) => {
    const li = document.createElement('li');
    li.append(...parts.map((p) => (typeof p === 'number' ? link(p) : p)));
    return li;
  };
  // The first lines of a long list, and how many more.
  const SHOWN = 20;
  const join = (lines) => [...lines.slice(0, SHOWN).flatMap((l, i) => (i ? [', ', l] : [l])),
    ...(lines.length > SHOWN ? [` and ${lines.length - SHOWN} more`] : [])];
  const items = [
    ...(report?.repeats ?? []).map((r) => item('Rows that repeat each other'
      + `${r.similarity < 1 ? ` (similarity ${r.similarity.toFixed(2)})` : ''}: `, ...join(r.lines))),
    // A validation line may be in a separate file: only the training row is linked.
    ...(report?.leaks ?? []).map((l) => item(`Validation row at line ${l.validation_line} `
      + 'repeats the training row at ', l.training_line)),
    ...(report?.truncated_lines?.length
      ? [item('Cut to the longest sequence: ', ...join(report.truncated_lines))] : []),
  ];
  ctx.$('data-problems').replaceChildren(...items);
  ctx.$('data-problems-title').hidden = items.length === 0;
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
