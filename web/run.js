// A training run's lifecycle, with no DOM: start, pause, stop, resume (in the engine, or from
// the checkpoint kept in OPFS after a reload), checkpoints saved one at a time in order, the
// run's record kept up to date in store.js, and what to do when the engine dies. app.js
// shows what it reports through the `view` callbacks; the engine decides everything else.
import * as store from './store.js';

/// Failures after which the engine cannot go on: its worker died, or its module or device did.
export const FATAL = new Set(['engine', 'internal', 'device', 'readback']);

/// A new run's record (what store.js keeps, and the history lists).
export function newRun(model, dataset, config) {
  return {
    status: 'training',
    started: new Date().toISOString(),
    model: { key: model.key, label: model.label },
    dataset: { name: dataset.name, options: dataset.options, documents: Boolean(dataset.documents) },
    config,
    step: 0,
    total_steps: null,
    losses: [],
    evals: [],
    // Per step: [step, learning rate, tokens/s processed, trained tokens/s].
    rates: [],
    // What happened, a line each ("12:03:04 step 3 of 20: loss 2.31, …").
    log: [],
    checkpoint: null,
  };
}

export class Lifecycle {
  /// `engine()` is the current client (it changes when a dead engine is replaced); `view`
  /// hears `started(run, event)`, `step(run, event)`, `evaluated(run)`, `saved(run, step)`
  /// and `failure(what, err)`.
  constructor(engine, view) {
    this.engine = engine;
    this.view = view;
    this.run = null; // the current run's record
    this.live = false; // whether its checkpoint is in the engine (not only in OPFS)
    this.halt = null; // 'pause' or 'stop' once asked
    this.saving = Promise.resolve();
  }

  /// Starts `run` (from newRun) on the dataset the engine has loaded (`dataset`: its name and
  /// text, or its documents, kept in OPFS so that the run can resume after a reload).
  async start(run, dataset) {
    this.run = run;
    this.live = true;
    if (await store.available()) await store.startRun(run, dataset);
    return this.train(false);
  }

  /// Asks the running run to pause after its step (it can resume) or to stop (it ends).
  pause() { this.halt = 'pause'; this.engine().pause(); }
  stop() { this.halt = 'stop'; this.engine().stop(); }

  /// Continues `run`: in the engine when it is paused there, else from its saved checkpoint.
  /// `hooks.model(model)` opens the run's model when another is open; `hooks.dataset(dataset,
  /// report, config)` hears the dataset reloaded for it.
  async resume(run, hooks) {
    if (run.status === 'paused' && this.live && this.run === run) return this.train(true);
    const saved = await store.loadRun(run);
    if (!saved.dataset.text && !saved.dataset.documents?.length) {
      throw Object.assign(new Error('the run\'s dataset is missing from the browser\'s storage'), { kind: 'checkpoint' });
    }
    await hooks.model(run.model);
    const { name, text, documents } = saved.dataset;
    const report = documents
      ? await this.engine().loadDocuments(name, documents, run.dataset.options)
      : await this.engine().loadDataset(name, text, run.dataset.options);
    await hooks.dataset({ ...saved.dataset, options: run.dataset.options }, report, run.config);
    const step = await this.engine().restoreCheckpoint(saved.files);
    run.losses = run.losses.filter(([s]) => s <= step);
    run.evals = run.evals.filter(([s]) => s <= step);
    run.rates = (run.rates ?? []).filter(([s]) => s <= step);
    run.status = 'training';
    this.run = run;
    this.live = true;
    return this.train(true);
  }

  /// Trains (or resumes) the current run to its end or a pause. Resolves to `{paused, end}`
  /// (`end`: the last event); the record is updated and stored.
  async train(resume) {
    const run = this.run;
    this.halt = null;
    const onEvent = (event) => this.event(event);
    let events;
    try {
      events = resume ? await this.engine().resume(onEvent) : await this.engine().train(run.config, onEvent);
    } finally {
      await this.saving;
    }
    const end = events.at(-1);
    if (end?.reason === 'stopped' && this.halt === 'pause') {
      run.status = 'paused';
      this.note(`paused after step ${end.steps}`);
      if (await store.available()) await store.updateRun(run);
      return { paused: true, end };
    }
    // The adapter is kept with the run, so that a reload still has it (to compare, download).
    // An engine that died after the last step leaves the run unfinished (its last checkpoint
    // resumes), not finished without its adapter.
    const keep = await store.available();
    const files = keep
      ? await this.engine().exportAdapter().catch((err) => { if (FATAL.has(err.kind)) throw err; return null; })
      : null;
    run.status = end?.reason ?? 'finished';
    run.final_validation_loss = run.evals.at(-1)?.[1] ?? null;
    run.first_validation_loss = run.evals[0]?.[1] ?? null;
    run.ended = new Date().toISOString();
    this.note(`ended after step ${end?.steps ?? run.step} (${run.status})`);
    this.live = false;
    if (keep) await store.endRun(run, true, files);
    return { paused: false, end };
  }

  /// Drops the current run (its saved checkpoint too).
  async discard() {
    if (this.run) await store.endRun(this.run, false);
    this.run = null;
    this.live = false;
  }

  /// After the engine died: `restart()` makes a new engine with the run's model open; then
  /// the run saved last (if it has a checkpoint) becomes the current one, to resume.
  async recover(restart) {
    this.live = false;
    await restart(this.run?.model);
    const saved = await store.savedRun();
    // The saved record's log ends at its checkpoint: the lines since (and the failure) stay.
    if (saved && this.run && saved.started === this.run.started) saved.log = this.run.log;
    if (saved?.checkpoint) this.run = saved;
    return saved?.checkpoint ? saved : null;
  }

  /// Adds a line to the current run's log, after the time of day (UTC).
  note(text) {
    if (!this.run) return;
    (this.run.log ??= []).push(`${new Date().toISOString().slice(11, 19)} ${text}`);
  }

  event(event) {
    const run = this.run;
    if (event.event === 'started') {
      run.total_steps = event.total_steps;
      this.note(event.resumed_at != null
        ? `resumed at step ${event.resumed_at} of ${event.total_steps}`
        : `started: ${event.total_steps} steps, ${JSON.stringify(run.config)}`);
      this.view.started(run, event);
    } else if (event.event === 'step') {
      // Steps counted from 1, as checkpoints count them (the report's `step` is 0-based).
      const r = event.report;
      const step = r.step + 1;
      run.losses.push([step, r.loss]);
      (run.rates ??= []).push([step, r.lr, event.processed_tokens_per_second, event.tokens_per_second]);
      this.note(`step ${step} of ${event.total_steps}: loss ${r.loss.toFixed(4)}, lr ${r.lr.toExponential(3)}, `
        + `gradient norm ${r.grad_norm.toFixed(3)}, ${r.tokens} tokens trained of ${r.processed_tokens} processed, `
        + `${event.processed_tokens_per_second.toFixed(1)} tokens/s${r.skipped ? ', update skipped (not finite)' : ''}`);
      this.view.step(run, event);
    } else if (event.event === 'eval') {
      run.evals.push([event.step, event.validation_loss]);
      this.note(`step ${event.step}: validation loss ${event.validation_loss.toFixed(4)}`);
      // Preference runs: held-out pairs' reward accuracy and how often the chosen answer is
      // the likelier one.
      if (event.preference) {
        (run.pairs ??= []).push([event.step, event.preference.accuracy, event.preference.preferred]);
      }
      this.view.evaluated(run);
    } else if (event.event === 'checkpoint') {
      // Saved in order, one at a time; a reload finds the newest complete one.
      this.saving = this.saving.then(async () => {
        const files = await this.engine().checkpointFiles();
        if (!files || !(await store.available())) return;
        // The engine keeps only its newest checkpoint, which may be later than this event's by
        // now: the record names the step the files hold, with the losses up to it.
        const step = heldStep(files) ?? event.step;
        // An earlier event's save may already have written these very files.
        if (this.lastSaved?.run === run && this.lastSaved.step >= step) return;
        const upTo = (points) => (points ?? []).filter(([s]) => s <= step);
        const record = { ...run, step, losses: upTo(run.losses), rates: upTo(run.rates) };
        await store.saveCheckpoint(record, files);
        run.checkpoint = record.checkpoint;
        this.lastSaved = { run, step };
        this.note(`checkpoint of step ${step} saved`);
        this.view.saved(run, step);
      }).catch((err) => this.view.failure('Saving the checkpoint', err));
    }
  }
}

/// The step a checkpoint's files hold (its `state.json`), or null.
function heldStep(files) {
  try {
    const step = JSON.parse(new TextDecoder().decode(files['state.json'])).step;
    return Number.isInteger(step) ? step : null;
  } catch {
    return null;
  }
}
