// The Documents view's "Write training pairs": the engine writes question/answer pairs about
// the indexed passages with the open model (and checks them); the person reviews them here —
// edits a question or an answer, drops a pair — and trains on them, downloads them, or gives
// them to the advisor. No logic of its own: writing, checking and the JSONL are the engine's.

let pairs = []; // the engine's QaPair objects, edited in place
let dropped = []; // the engine's dropped pairs, with reasons

function field(pair, key, i) {
  const box = Object.assign(document.createElement('textarea'), { rows: 2, value: pair[key] });
  box.id = `pair-${i}-${key}`;
  box.setAttribute('aria-label', `${key} ${i + 1}`);
  box.oninput = () => { pair[key] = box.value; };
  return box;
}

function render(ctx) {
  const head = document.createElement('tr');
  head.append(...['keep', 'passage', 'question', 'answer'].map((t) => Object.assign(document.createElement('th'), { textContent: t })));
  const rows = pairs.map((pair, i) => {
    const row = document.createElement('tr');
    row.dataset.doc = pair.passage.doc_id;
    const keep = Object.assign(document.createElement('input'), { type: 'checkbox', checked: pair.keep !== false });
    keep.id = `pair-${i}-keep`;
    keep.setAttribute('aria-label', `keep pair ${i + 1}`);
    keep.onchange = () => { pair.keep = keep.checked; counts(ctx); };
    const cell = (...children) => { const td = document.createElement('td'); td.append(...children); return td; };
    const where = `${pair.passage.title} — ${pair.passage.heading || 'start'} (${Math.round(100 * pair.overlap)} % of the answer's words in it)`;
    const passage = document.createElement('details');
    passage.append(Object.assign(document.createElement('summary'), { textContent: where }), pair.passage.text);
    row.append(cell(keep), cell(passage), cell(field(pair, 'question', i)), cell(field(pair, 'answer', i)));
    return row;
  });
  ctx.$('pairs-table').replaceChildren(head, ...rows);
  counts(ctx);
}

/// The pairs the person keeps, as the engine's `QaPair`s.
function chosen() {
  return pairs.filter((p) => p.keep !== false && p.question.trim() && p.answer.trim())
    .map(({ keep, ...pair }) => pair);
}

function counts(ctx) {
  const n = chosen().length;
  ctx.$('pairs-table').dataset.kept = n;
  ctx.$('pairs-use').disabled = n === 0 || ctx.page.busy;
  ctx.$('pairs-download').disabled = n === 0;
  ctx.$('advise-with-pairs').disabled = n === 0;
  if (n === 0) ctx.$('advise-with-pairs').checked = false;
}

/// The chosen pairs as chat JSONL (`{name, text}`); `keepPassage` as the form says unless given.
export async function jsonl(ctx, keepPassage = ctx.$('pairs-keep-passage').checked) {
  const text = await ctx.page.wt.pairsJsonl(chosen(), { keepPassage });
  return { name: 'pairs.jsonl', text };
}

async function write(ctx) {
  await ctx.ensureEncoder();
  const bar = ctx.$('pairs-progress');
  const config = { questions_per_passage: Number(ctx.$('pairs-per-passage').value) || 3 };
  // `?pairs=quick`: the first four passages, one try each (for tests and a first look).
  if (ctx.params.get('pairs') === 'quick') Object.assign(config, { attempts: 1, max_passages: 4 });
  const start = performance.now();
  ctx.show('pairs-status', 'pending', 'Reading the first passage…');
  ctx.$('pairs-stop').disabled = false;
  try {
    const report = await ctx.page.wt.generatePairs(config, (e) => {
      if (e.kind !== 'passage') return;
      bar.value = e.total ? e.done / e.total : 0;
      const left = e.done ? ` — about ${Math.round(((performance.now() - start) / e.done) * (e.total - e.done) / 1000)} s left` : '';
      ctx.show('pairs-status', 'pending', `Passage ${e.done + 1} of ${e.total}: ${e.kept} pairs kept so far${left}.`);
    });
    bar.value = 1;
    pairs = report.kept;
    dropped = report.dropped;
    render(ctx);
    const reasons = {};
    for (const d of dropped) reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
    const why = Object.entries(reasons).map(([r, n]) => `${n} ${r.replaceAll('_', ' ')}`).join(', ');
    ctx.$('pairs-status').dataset.kept = pairs.length;
    ctx.show('pairs-status', 'ready', `${report.stopped ? 'Stopped. ' : ''}${report.passages} passages, `
      + `${report.candidates} questions written, ${pairs.length} pairs kept`
      + `${dropped.length ? ` (dropped: ${why})` : ''}, in ${Math.round(report.seconds)} s. `
      + 'Check them: edit what is wrong, untick what is useless.');
  } finally {
    ctx.$('pairs-stop').disabled = true;
  }
}

function download(ctx) {
  return jsonl(ctx).then(({ name, text }) => {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/jsonl' }));
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
}

/// Turns the panel's buttons on or off.
export function buttons(ctx, ready, indexed) {
  ctx.$('pairs-write').disabled = !ready || !indexed;
  counts(ctx);
}

export function wire(ctx) {
  ctx.$('pairs-write').onclick = () => ctx.task('Writing training pairs', () => write(ctx), ctx.stopEngine);
  ctx.$('pairs-stop').onclick = () => ctx.page.wt.stop();
  ctx.$('pairs-download').onclick = () => ctx.task('Downloading the pairs', () => download(ctx));
  ctx.$('pairs-use').onclick = () => ctx.task('Loading the pairs as training data', async () => {
    const { name, text } = await jsonl(ctx);
    await ctx.useText(name, text);
  });
}
