// The Chat view's conversation: several turns with the base model, the fine-tuned one or any
// kept adapter, streamed, with the sampling settings at hand and a Stop; and the pickers of
// its side-by-side A/B. The engine renders
// the chat template and leaves out the oldest turns when the conversation outgrows the
// context; the page keeps only the turns to show and send back.

let turns = []; // [{role, content}] of this conversation, without the system prompt

/// Fills `select` with `choices`, keeping its value, or — until the person picks one — the
/// first of `preferred` that is offered.
function fill(select, choices, preferred) {
  const wanted = select.dataset.picked ? select.value : preferred.find((p) => choices.some(([v]) => v === p));
  select.replaceChildren(...choices.map(([value, label]) => Object.assign(document.createElement('option'), { value, textContent: label })));
  select.value = choices.some(([v]) => v === wanted) ? wanted : choices[choices.length - 1][0];
}

/// The pickers' choices: the base model, the fine-tuned one (once trained), kept adapters.
/// While the engine is busy (a run, an answer), the pickers stay as they are.
export async function refresh(ctx) {
  let kept = [];
  if (ctx.page.wt && ctx.page.model) {
    try {
      kept = await ctx.page.wt.adapters();
    } catch (err) {
      if (err.kind === 'busy') return;
      throw err;
    }
  }
  const choices = [['base', 'the base model']];
  if (ctx.page.trained) choices.push(['tuned', 'the fine-tuned model']);
  for (const a of kept) choices.push([`kept:${a.name}`, `kept adapter ${a.name}`]);
  const last = choices[choices.length - 1][0];
  fill(ctx.$('chat-adapter'), choices, [last]);
  fill(ctx.$('ab-a'), choices, ['base']);
  fill(ctx.$('ab-b'), choices, ['tuned', last]);
}

/// Picks `value` (one of the pickers' choices, such as `kept:NAME`) for the conversation.
export async function pick(ctx, value) {
  await refresh(ctx);
  const select = ctx.$('chat-adapter');
  select.value = value;
  select.dataset.picked = '1';
}

/// The generation options that answer with picker value `value`.
export function choice(value) {
  if (value === 'base') return { adapter: false };
  if (value.startsWith('kept:')) return { adapter_name: value.slice(5) };
  return {};
}

function bubble(ctx, role, text, by = '') {
  const item = document.createElement('div');
  item.className = `turn ${role}`;
  item.dataset.role = role;
  const who = Object.assign(document.createElement('p'), { className: 'speed', textContent: role === 'user' ? 'You' : `Answer (${by})` });
  const body = Object.assign(document.createElement('pre'), { className: 'answer', textContent: text });
  item.append(who, body);
  ctx.$('chat-log').append(item);
  return body;
}

async function send(ctx) {
  const input = ctx.$('chat-input');
  const prompt = input.value.trim();
  if (!prompt) return;
  const picker = ctx.$('chat-adapter');
  const by = picker.selectedOptions[0].textContent;
  const system = ctx.$('chat-system').value.trim();
  const history = [...(system ? [{ role: 'system', content: system }] : []), ...turns];
  const options = {
    max_new_tokens: Number(ctx.$('chat-max-tokens').value) || 96,
    sampling: {
      temperature: Number(ctx.$('chat-temperature').value),
      top_p: Number(ctx.$('chat-top-p').value),
      seed: turns.length,
    },
    history,
    ...choice(picker.value),
  };
  bubble(ctx, 'user', prompt);
  input.value = '';
  const answer = bubble(ctx, 'assistant', '', by);
  answer.dataset.status = 'generating';
  ctx.$('chat-stop').disabled = false;
  try {
    const out = await ctx.page.wt.generate(prompt, options, (text) => { answer.textContent += text; });
    answer.textContent = out.text;
    answer.dataset.status = 'done';
    turns.push({ role: 'user', content: prompt }, { role: 'assistant', content: out.text });
    const left = out.dropped_turns ? `; the ${out.dropped_turns} oldest turns no longer fit the model's context and were left out` : '';
    ctx.$('chat-status').textContent = `${out.prompt_tokens} prompt tokens, ${out.tokens} new at `
      + `${out.decode_tokens_per_second.toFixed(1)} tokens/s${out.stop === 'caller' ? ', stopped' : ''}${left}.`;
    ctx.$('chat-log').dataset.turns = turns.length;
  } finally {
    ctx.$('chat-stop').disabled = true;
  }
}

/// Turns the panel's buttons on or off.
export function buttons(ctx, ready) {
  ctx.$('chat-send').disabled = !ready;
}

export function wire(ctx) {
  ctx.$('chat-send').onclick = () => ctx.task('Answering', () => send(ctx), ctx.stopEngine);
  ctx.$('chat-stop').onclick = () => ctx.page.wt.stop();
  ctx.$('chat-clear').onclick = () => {
    turns = [];
    ctx.$('chat-log').replaceChildren();
    ctx.$('chat-log').dataset.turns = 0;
    ctx.$('chat-status').textContent = '';
  };
  for (const id of ['chat-adapter', 'ab-a', 'ab-b']) {
    ctx.$(id).onfocus = () => refresh(ctx);
    ctx.$(id).addEventListener('change', () => { ctx.$(id).dataset.picked = '1'; });
  }
  addEventListener('hashchange', () => { if (location.hash === '#chat') refresh(ctx); });
}
