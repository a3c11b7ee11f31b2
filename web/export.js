// The Export view: the trained adapter (PEFT), GGUF with an Ollama Modelfile, and the same
// fine-tune as a TRL job — each as one ZIP download (a browser asks before a second download),
// or, where the browser has the File System Access API and the person ticks it, as the files
// themselves in a folder they pick. The engine writes every byte; this only delivers them.
import * as store from './store.js';

/** Saves `files` ({name: Blob}) as downloads; says what was saved. */
export function save(files) {
  for (const [name, blob] of Object.entries(files)) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }
  return `Downloaded ${Object.keys(files).join(' and ')}`;
}

/** Writes `files` ({path: Blob}; `a/b` makes the folder `a`) into the folder `dir`. */
async function saveInto(dir, files) {
  for (const [path, blob] of Object.entries(files)) await store.write(path, blob, undefined, dir);
  return `Saved ${Object.keys(files).join(', ')} into the folder "${dir.name}"`;
}

/// Whether the page offers saving into a folder (the File System Access API's picker).
const canPick = () => typeof window.showDirectoryPicker === 'function';

/// Runs the export `work(archive)` as a task, then delivers its files: as downloads (`archive`
/// true), or into the folder the person picks. The picker opens at the click, while the
/// browser still counts the person's gesture; closing it saves nothing.
function exportTask(ctx, what, work, then) {
  const folder = canPick() && ctx.$('save-folder').checked
    ? window.showDirectoryPicker({ id: 'webtune-export', mode: 'readwrite' }) : null;
  folder?.catch(() => {}); // seen below, inside the task
  return ctx.task(what, async () => {
    let dir = null;
    if (folder) {
      try {
        dir = await folder;
      } catch (err) {
        if (err?.name !== 'AbortError') throw err;
        ctx.show('download-status', 'note', 'Nothing saved: no folder was chosen.');
        return;
      }
    }
    const files = await work(!dir);
    const said = dir ? await saveInto(dir, files) : save(files);
    ctx.show('download-status', 'done', `${said}. ${then(dir !== null)}`);
  });
}

/// Turns the view's buttons on or off.
export function buttons(ctx, idle, ready) {
  ctx.$('download').disabled = !idle || !ctx.page.trained;
  ctx.$('download-gguf').disabled = !idle || !ctx.page.trained;
  ctx.$('download-job').disabled = !ready || ctx.page.dataset === null;
}

export function wire(ctx) {
  ctx.$('save-as').hidden = !canPick();
  const where = (folder, zip) => (folder ? 'Load that folder' : `Unzip it into a folder and ${zip}`);
  ctx.$('download').onclick = () => exportTask(ctx, 'Exporting the adapter',
    (archive) => ctx.page.wt.exportAdapter(false, archive),
    (folder) => `${where(folder, 'load that')} with PEFT's PeftModel.from_pretrained(base, folder).`);
  ctx.$('download-gguf').onclick = () => {
    const kind = ctx.$('gguf-kind').value;
    const merged = kind !== 'adapter';
    return exportTask(ctx, 'Writing GGUF',
      (archive) => ctx.page.wt.exportGguf(merged, merged ? kind : undefined, archive),
      (folder) => `${folder ? 'In that folder' : 'Unzip it; in that folder'}, \`ollama create NAME -f Modelfile\`, `
        + (merged ? 'or open the .gguf in llama.cpp / LM Studio.' : 'or `llama-cli -m BASE.gguf --lora adapter.gguf`.'));
  };
  ctx.$('download-job').onclick = () => {
    const base = ctx.$('job-base').value.trim() || undefined;
    return exportTask(ctx, 'Writing the training job',
      (archive) => ctx.page.wt.exportJob(ctx.config(), base, archive),
      (folder) => `${folder ? 'In that folder,' : 'Unzip it and'} run \`python train.py\`, or on N GPUs `
        + '`accelerate launch --num_processes N train.py` (its README.md says more).');
  };
}
