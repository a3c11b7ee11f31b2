// Every setting of a run as form inputs, from the engine's table (`trainFields()`): the
// inputs the page writes by hand carry `data-path`; the others are made here, in the Train
// view's "Every setting" area (the run's) or the Data view's "More data options" (the
// data's). `read` builds a settings object from the inputs that apply, `write` shows one.

let fields = [];

/// The input of the setting at `path`.
const input = (path) => document.querySelector(`[data-path="${path}"]`);

/// An input for `field`.
function make(field) {
  const kind = field.kind;
  let el;
  if (kind.type === 'choice') {
    el = document.createElement('select');
    el.append(...kind.options.map((o) => Object.assign(document.createElement('option'), { value: o, textContent: o })));
  } else {
    el = document.createElement('input');
    if (kind.type === 'bool') el.type = 'checkbox';
    else if (kind.type === 'integer' || kind.type === 'number') {
      el.type = 'number';
      el.min = kind.min;
      if (kind.max != null) el.max = kind.max;
      el.step = kind.type === 'integer' ? 1 : 'any';
    } else el.type = 'text';
  }
  el.dataset.path = field.path;
  el.id = `set-${field.path.replaceAll('.', '-')}`;
  return el;
}

/// The labelled input, with its help, for the settings area.
function row(field) {
  const el = make(field);
  const label = document.createElement('label');
  const hint = Object.assign(document.createElement('small'), { id: `${el.id}-help`, textContent: field.help });
  el.setAttribute('aria-describedby', hint.id);
  label.append(field.label, ' ', el, hint);
  return label;
}

/// Makes the inputs the page does not have, from `table` (the engine's `trainFields()`), and
/// calls `changed(field)` when the person edits any setting.
export function render(table, changed) {
  fields = table;
  const areas = { run: document.getElementById('advanced-fields'), data: document.getElementById('data-fields') };
  for (const area of Object.values(areas)) area.replaceChildren();
  for (const field of fields) {
    if (!input(field.path)) areas[field.stage].append(row(field));
    const el = input(field.path);
    el.dataset.stage = field.stage;
    el.addEventListener('input', () => { refresh(); changed(field); });
  }
  for (const stage of ['run', 'data']) write(defaults(stage), stage);
}

/// The table's defaults of `stage`, as a settings object.
function defaults(stage) {
  const out = {};
  for (const f of fields) if (f.stage === stage && f.default !== null) put(out, f.path, f.default);
  return out;
}

function put(object, path, value) {
  const keys = path.split('.');
  const last = keys.pop();
  let slot = object;
  for (const k of keys) slot = (slot[k] ??= {});
  slot[last] = value;
}

function get(object, path) {
  return path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), object);
}

/// The value an input holds, as its setting takes it (`undefined`: left unset).
function value(field) {
  const el = input(field.path);
  const text = el.value.trim();
  switch (field.kind.type) {
    case 'bool': return el.checked;
    case 'choice': return el.value;
    case 'integer':
    case 'number': return text === '' ? undefined : Number(text);
    case 'list': return text.split(',').map((s) => s.trim()).filter(Boolean);
    case 'pair': return text.split(',').map((s) => Number(s.trim()));
    case 'columns': {
      const names = text.split(',').map((s) => s.trim()).filter(Boolean);
      if (names.length === 0) return undefined;
      if (names.length === 1) return { Text: names[0] };
      return { Chat: { prompt: names[0], response: names[1], system: names[2] ?? null } };
    }
    default: return text;
  }
}

/// How `v` reads in the input of `field`.
function shown(field, v) {
  if (v == null) return '';
  switch (field.kind.type) {
    case 'list':
    case 'pair': return v.join(', ');
    case 'columns': return v.Text ?? [v.Chat.prompt, v.Chat.response, v.Chat.system].filter(Boolean).join(', ');
    default: return String(v);
  }
}

/// Whether `field` applies, given the other inputs' values.
function applies(field) {
  if (!field.when) return true;
  return field.when.values.includes(input(field.when.path)?.value);
}

/// Turns off the inputs of settings that do not apply (a ORPO beta under SFT).
export function refresh() {
  for (const f of fields) input(f.path).disabled = !applies(f);
}

/// The settings of `stage` (`run` or `data`) the inputs hold, as the engine takes them.
export function read(stage) {
  const out = {};
  for (const f of fields.filter((f) => f.stage === stage && applies(f))) {
    const v = value(f);
    if (v !== undefined) put(out, f.path, v);
  }
  return out;
}

/// Shows `settings` (a `TrainConfig`, or data options under `data`) in the inputs of `stage`;
/// settings it leaves out show their defaults.
export function write(settings, stage) {
  for (const f of fields.filter((f) => f.stage === stage)) {
    const v = get(settings, f.path);
    const el = input(f.path);
    const use = v === undefined ? f.default : v;
    if (f.kind.type === 'bool') el.checked = Boolean(use);
    else el.value = shown(f, use);
  }
  refresh();
}

/// Every setting's path (for tests and the page's own checks).
export const paths = () => fields.map((f) => f.path);
