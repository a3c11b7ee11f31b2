// The page's documents panel (retrieval: index, ask with citations) and the advisor, over the
// engine's client. The index is kept in OPFS (store.js) and loaded back on the next visit.
import * as store from './store.js';
import * as pairs from './pairs.js';

const ENCODER = 'models/all-MiniLM-L6-v2';
const DEMO_DOCS = ['hr-leave.md', 'hr-work.md', 'hr-benefits.md', 'hr-employment.md', 'finance.md',
  'it.md', 'facilities.md'];
const INDEX = 'rag/index.wtindex';
const FILES = 'rag/files';
const pct = (x) => (x === null ? 'n/a' : `${Math.round(100 * x)} %`);
const LABELS = { base: 'base model', rag: 'RAG', lora: 'LoRA', lora_rag: 'LoRA + RAG' };

let encoder = null; // a promise of the encoder's info, once asked for
const kept = new Map(); // the indexed documents' files by id (also in OPFS under FILES)

async function files(base, names) {
  return Promise.all(names.map(async (name) => {
    const response = await fetch(`${base}/${name}`);
    if (!response.ok) throw Object.assign(new Error(`${base}/${name}: HTTP ${response.status}`), { kind: 'download' });
    return { name, data: await response.blob() };
  }));
}

/// The encoder's files: from OPFS, or fetched from this origin once and kept there.
async function encoderFiles(ctx) {
  const keep = await store.available();
  const out = [];
  // Which files: the library's list (rag::FOLDER_FILES), asked of the engine.
  for (const name of await ctx.page.wt.encoderFiles()) {
    const path = `encoder/all-MiniLM-L6-v2/${name}`;
    let data = keep ? await store.read(path) : null;
    if (!data) {
      [{ data }] = await files(ENCODER, [name]);
      if (keep) data = await store.write(path, data);
    }
    out.push({ name, data });
  }
  return out;
}

/// Opens the encoder once (and the saved index with it).
function ensureEncoder(ctx) {
  encoder ??= (async () => {
    ctx.show('docs-status', 'pending', 'Opening the sentence encoder…');
    const info = await ctx.page.wt.openEncoder(await encoderFiles(ctx));
    const saved = await store.read(INDEX).catch(() => null);
    if (saved) await ctx.page.wt.importIndex({ name: INDEX, data: saved });
    return info;
  })().catch((err) => { encoder = null; throw err; });
  return encoder;
}

async function showDocuments(ctx, note = '') {
  const docs = await ctx.page.wt.documents();
  const list = ctx.$('docs-list');
  list.replaceChildren(...docs.map((d) => {
    const item = document.createElement('li');
    const remove = ctx.button('Remove', () => ctx.task('Removing the document', async () => {
      await ctx.page.wt.removeDocument(d.id);
      kept.delete(d.id);
      await store.remove(`${FILES}/${d.id}`);
      await save(ctx);
      await showDocuments(ctx, `Removed ${d.id}.`);
    }));
    item.append(`${d.title} (${d.id}, ${d.chunk_ids.length} passages) `, remove);
    return item;
  }));
  const chunks = docs.reduce((n, d) => n + d.chunk_ids.length, 0);
  ctx.show('docs-status', docs.length ? 'ready' : 'idle',
    `${note} ${docs.length} documents, ${chunks} passages in the index.`.trim());
  ctx.$('docs-status').dataset.documents = docs.length;
}

/// The indexed documents' files (those this browser still has), by name.
function keptFiles() {
  return [...kept].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, data]) => ({ name, data }));
}

async function save(ctx) {
  if (!(await store.available())) return;
  const docs = await ctx.page.wt.documents();
  if (docs.length === 0) await store.remove(INDEX);
  else await store.write(INDEX, await ctx.page.wt.exportIndex());
}

async function add(ctx, docs) {
  await ensureEncoder(ctx);
  ctx.show('docs-status', 'pending', `Indexing ${docs.length} documents…`);
  const added = await ctx.page.wt.addDocuments(docs, ({ done, total, id }) => ctx.show('docs-status',
    'pending', `Indexing: ${done} of ${total} documents (${id})…`));
  // Stop ends indexing after a document: those indexed are kept, the rest are not.
  const indexed = new Set(added.map((a) => a.id));
  const keep = await store.available();
  for (const doc of docs.filter((d) => indexed.has(d.name))) {
    const name = doc.name;
    const data = doc.data ?? doc;
    kept.set(name, keep ? await store.write(`${FILES}/${name}`, data) : data);
  }
  await save(ctx);
  const passages = added.reduce((n, a) => n + a.added, 0);
  const left = docs.length - added.length;
  await showDocuments(ctx, `Indexed ${passages} new passages.`
    + (left ? ` Stopped: ${left} of ${docs.length} documents not indexed.` : ''));
}

async function ask(ctx) {
  await ensureEncoder(ctx);
  const answer = ctx.$('rag-answer');
  ctx.show('rag-answer', 'pending', '');
  const tuned = ctx.$('rag-model').value === 'tuned' && ctx.page.trained;
  const maxTokens = Number(ctx.$('rag-max-tokens').value) || 128;
  const by = tuned ? 'the fine-tuned model' : 'the base model';
  ctx.$('rag-by').textContent = `Answering with ${by}…`;
  const result = await ctx.page.wt.ask(ctx.$('rag-question').value,
    { k: 3, max_new_tokens: maxTokens, adapter: tuned },
    (text) => { answer.textContent += text; });
  ctx.show('rag-answer', 'ready', '');
  answer.replaceChildren(...cite(result.text, result.cited));
  answer.dataset.by = tuned ? 'tuned' : 'base';
  answer.dataset.cited = result.cited.join(',');
  const cites = result.cited.length
    ? `it cites ${result.cited.map((n) => `[${n}]`).join(', ')}`
    : 'it cites none of them: check the answer against the sources';
  ctx.$('rag-by').textContent = `Answered by ${by} from ${result.sources.length} passages; ${cites}.`;
  ctx.$('rag-sources').replaceChildren(...result.sources.map((s) => {
    const item = document.createElement('li');
    const c = s.chunk;
    const cited = result.cited.includes(s.number);
    item.id = `rag-source-${s.number}`;
    item.dataset.cited = cited;
    item.textContent = `${c.title} — ${c.heading} (${c.doc_id}, bytes ${c.start}–${c.end})`
      + `${cited ? ', cited' : ''}: ${c.text.slice(0, 160)}`;
    return item;
  }));
}

/// The answer's text with each citation of a source (`[2]`) as a link to it.
function cite(text, cited) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    if (!cited.includes(Number(m[1]))) continue;
    parts.push(text.slice(last, m.index));
    const link = Object.assign(document.createElement('a'), { href: `#rag-source-${m[1]}`, textContent: m[0] });
    link.className = 'citation';
    parts.push(link);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function table(ctx, report) {
  const head = ['approach', 'house format', 'facts (held-out)', 'changed facts', 'stale facts',
    's / answer', 'prompt tokens', 'memory', 'time to absorb the change'];
  const absorb = (a) => (a.by === 'reindex' ? `${a.seconds.toFixed(1)} s (re-index)`
    : a.by === 'retrain' ? `${Math.round(a.seconds)} s of training + new answers` : 'never');
  const rows = report.arms.map((a) => [LABELS[a.arm], pct(a.format), pct(a.facts), pct(a.changed_facts),
    pct(a.stale), a.seconds_per_answer.toFixed(2), Math.round(a.prompt_tokens),
    `${Math.round(a.memory_bytes / 2 ** 20)} MiB`, absorb(a.absorb)]);
  ctx.table('advise-table', head, rows);
  const rec = ctx.$('advise-recommendation');
  const title = Object.assign(document.createElement('p'), {
    textContent: `Recommendation: ${LABELS[report.recommendation.choice]}.`,
  });
  const reasons = document.createElement('ul');
  reasons.append(...report.recommendation.reasons.map((r) => Object.assign(document.createElement('li'), { textContent: r })));
  rec.replaceChildren(title, reasons);
  rec.dataset.choice = report.recommendation.choice;
}

async function advise(ctx) {
  await ensureEncoder(ctx);
  const demo = 'demo';
  const text = async (path) => ({ name: path, text: await (await fetch(`${demo}/${path}`)).text() });
  const texts = {
    training: await text('support.jsonl'),
    questions: await text('policy_questions.jsonl'),
    changedQuestions: await text('policy_changes/questions.jsonl'),
  };
  // The written pairs, as plain questions: the advisor adds each arm's sources itself.
  if (ctx.$('advise-with-pairs').checked) texts.generated = await pairs.jsonl(ctx, false);
  // `?advisor=quick`: one step, one source, one question per set (for tests and a first look).
  const quick = ctx.params.get('advisor') === 'quick';
  const config = quick ? {
    train: { max_steps: 1, batch_size: 1, warmup_steps: 0, eval_every: 0, data: { validation_fraction: 0 } },
    k: 1, max_new_tokens: 4, max_questions: 1,
  } : {};
  const progress = ctx.$('advise-progress');
  ctx.show('advise-status', 'pending', 'Indexing…');
  const report = await ctx.page.wt.advise(
    await files(`${demo}/policies`, DEMO_DOCS),
    await files(`${demo}/policy_changes`, ['hr-work.md']),
    texts, config,
    (e) => {
      if (e.kind === 'stage') {
        progress.value = e.total ? e.done / e.total : 0;
        ctx.show('advise-status', 'pending', `${e.stage}: ${e.done + 1} of ${e.total}`);
      } else if (e.kind === 'training' && e.event.event === 'step') {
        progress.value = (e.event.report.step + 1) / e.event.total_steps;
        ctx.show('advise-status', 'pending', `Training ${LABELS[e.arm]}: step ${e.event.report.step + 1} `
          + `of ${e.event.total_steps}, loss ${e.event.report.loss.toFixed(3)}`);
      }
    },
  );
  progress.value = 1;
  table(ctx, report);
  const written = report.generated_examples
    ? ` Both adapters also trained on ${report.generated_examples} written pairs.` : '';
  ctx.$('advise-status').dataset.generated = report.generated_examples;
  ctx.show('advise-status', 'ready', `Measured on ${report.held_out_questions} held-out and `
    + `${report.changed_questions} changed questions.${written}`);
}

/// Turns the panels' buttons on or off.
export function buttons(ctx, idle, ready) {
  ctx.$('docs-demo').disabled = !idle;
  ctx.$('docs-files').disabled = !idle;
  ctx.$('docs-adapt').disabled = !ready || kept.size === 0;
  ctx.$('rag-ask').disabled = !ready;
  ctx.$('rag-model').options[1].disabled = !ctx.page.trained;
  if (!ctx.page.trained) ctx.$('rag-model').value = 'base';
  ctx.$('advise').disabled = !ready;
  pairs.buttons(ctx, ready, Number(ctx.$('docs-status').dataset.documents) > 0);
}

/// Wires the panels (`ctx`: the page's `page`, `$`, `show`, `task`, `params`, `table`).
export function wire(ctx) {
  ctx.$('docs-demo').onclick = () => ctx.task('Indexing the demo handbook', async () => {
    await add(ctx, await files('demo/policies', DEMO_DOCS));
  }, ctx.stopEngine);
  ctx.$('docs-files').onchange = (e) => ctx.task('Indexing your documents',
    () => add(ctx, [...e.target.files]), ctx.stopEngine);
  ctx.$('rag-ask').onclick = () => ctx.task('Answering from the documents', () => ask(ctx), ctx.stopEngine);
  ctx.$('advise').onclick = () => ctx.task('Running the advisor', () => advise(ctx), ctx.stopEngine);
  ctx.$('docs-adapt').onclick = () => ctx.task('Reading the documents for training',
    () => ctx.adaptTo(keptFiles()));
  pairs.wire({ ...ctx, ensureEncoder: () => ensureEncoder(ctx) });
}

/// Shows the documents of an index saved on an earlier visit (opening the encoder only then).
export async function restore(ctx) {
  if (!(await store.available()) || !(await store.read(INDEX))) return;
  for (const name of await store.list(FILES)) kept.set(name, await store.read(`${FILES}/${name}`));
  await ensureEncoder(ctx);
  await showDocuments(ctx, 'From this browser:');
}
