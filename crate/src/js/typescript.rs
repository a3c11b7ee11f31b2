//! TypeScript declarations of the plain objects the API takes and gives, added to the
//! `.d.ts` that wasm-bindgen writes beside the module. They mirror the Rust types named in
//! each comment (serde field names).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A file given by name: what `File` already is, for a `Blob` from elsewhere. */
export interface NamedBlob { name: string; data: Blob }

/** `device()`. */
export interface DeviceInfo {
  tier: "CPU (flex)" | "GPU (wgpu)" | string;
  adapter: null | { name: string; backend: string; limits: Record<string, number>; [k: string]: unknown };
  /** `null` on the CPU tier (no binding limit). */
  max_tensor_bytes: number | null;
  /** The tier and adapter as `webtune doctor` prints them. */
  summary: string;
  /** Why the engine took this tier when left to choose ("auto"): no WebGPU, or a software one. */
  tier_note: { reason: "no_gpu" | "software_gpu" | "slow_gpu"; text: string } | null;
  tier_timing: { gpu_seconds: number; cpu_seconds: number } | null;
}

/** `selfCheck()`: the device's loss and its largest difference from the CPU's. */
export interface SelfCheck {
  tier: string; loss: number;
  vs_cpu: { max_abs_diff: number; max_rel_diff: number; [k: string]: unknown };
  tolerance: { atol: number; rtol: number };
}

/** `bench()` settings (all optional): training sequence, batch, LoRA rank, timed steps, prompt and new tokens (`timed`, each kernel's time, is native only: the browser refuses it; `warm_up` runs `warmUp()`'s work first). */
export interface BenchConfig {
  seq?: number; batch?: number; rank?: number; steps?: number; prompt_tokens?: number; new_tokens?: number;
  timed?: boolean; warm_up?: boolean;
}

/** `warmUp()`: whether the kernels were compiled ahead (`ran`), in how many seconds, and why not. */
export interface WarmUp { ran: boolean; seconds: number; reason: string }

/** `bench()`: seconds and tokens per second, and GPU kernel launches (0 on the CPU tier). */
export interface BenchReport {
  config: Required<BenchConfig>; warm_up_seconds: number | null;
  first_step_seconds: number; step_seconds: number; train_tokens_per_second: number;
  launches_per_step: number; first_token_seconds: number;
  step_kernels: { kernel: string; launches: number; seconds: number }[];
  prefill_tokens_per_second: number; decode_tokens_per_second: number;
  launches_per_prefill: number; launches_per_token: number;
  prefill_kernels: { kernel: string; launches: number; seconds: number }[];
  token_kernels: { kernel: string; launches: number; seconds: number }[];
}

/** `openModel()` / `modelInfo()`. */
export interface ModelInfo {
  name: string; architecture: string; parameters: number; weight_bytes: number;
  quantized: boolean; linear_layers: string[]; vocab_size: number; context_length: number;
  has_tokenizer: boolean; precision: "f32" | "f16";
}

/** `DataOptions` (all optional). */
export interface DataOptions {
  encode?: { max_len?: number; train_on_prompt?: boolean };
  validation_fraction?: number; seed?: number; packing?: boolean;
  csv_columns?: Record<string, string> | null;
  drop_repeats?: boolean; drop_leaked?: boolean; rebalance?: boolean;
}

/** `DataReport`. */
export interface DataReport {
  file: string; format: string; rows: number; blank_lines: number; empty_rows: number;
  duplicate_rows: number; truncated_rows: number; truncated_away_rows: number;
  length_histogram: [number, number][]; max_tokens: number; mean_tokens: number;
  trained_tokens: number; max_trained_tokens: number; train_rows: number;
  validation_rows: number; warnings: string[]; truncated_lines: number[];
  repeats: { lines: number[]; similarity: number }[];
  leaks: { validation_line: number; training_line: number; similarity: number }[];
  answers: { counts: [string, number][]; rebalanced: [string, number][] | null; imbalanced: boolean } | null;
}

/** `RunCommand`: a run as a `webtune train` command and the config file it reads. */
export interface RunCommand { config_file: string; config: string; command: string }

/** `Preview`: rows as the model sees them, in trained and untrained spans. */
export interface Preview {
  total: number;
  offset: number;
  rows: {
    line: number; split: "train" | "validation"; truncated: boolean; tokens: number;
    trained_tokens: number; spans: { text: string; trained: boolean }[];
  }[];
}

/** `LoraConfig` (all optional). */
export interface LoraConfig {
  r?: number; lora_alpha?: number; lora_dropout?: number;
  target_modules?: string[] | string; use_rslora?: boolean; use_dora?: boolean;
}

/** `TrainConfig` (all optional; the CLI's `--config` takes the same fields). */
export interface TrainConfig {
  method?: "lora" | "full" | "half"; hft_round_steps?: number; lora?: LoraConfig;
  objective?: { kind: "sft" } | { kind: "dpo"; beta?: number; label_smoothing?: number }
    | { kind: "orpo"; beta?: number };
  optimizer?: { lr?: number; betas?: [number, number]; eps?: number; weight_decay?: number };
  schedule?: "constant" | "linear" | "cosine"; warmup_steps?: number; epochs?: number;
  max_steps?: number | null; batch_size?: number; grad_accumulation?: number;
  pad_to_multiple_of?: number | null;
  max_grad_norm?: number | null; eval_every?: number; early_stopping_patience?: number | null;
  checkpoint_every?: number; seed?: number; data?: DataOptions;
}

/** One optimizer step (`StepReport`). */
export interface StepReport {
  step: number; loss: number; lr: number; grad_norm: number; tokens: number; processed_tokens: number; skipped: boolean;
  preference?: PreferenceStats;
}

/** Preference training: the pairs' rewards as TRL logs them (`PreferenceStats`). */
export interface PreferenceStats {
  pairs: number; rewards_chosen: number; rewards_rejected: number; margins: number;
  accuracy: number; preferred: number; logps_chosen: number; logps_rejected: number;
  nll_loss?: number; log_odds_ratio?: number; log_odds_chosen?: number;
}

/** `Event`: what a run reports as it goes. */
export type TrainEvent =
  | { event: "started"; total_steps: number; train_rows: number; validation_rows: number; resumed_at: number | null }
  | { event: "step"; report: StepReport; tokens_per_second: number; processed_tokens_per_second: number; eta_seconds: number; total_steps: number }
  | { event: "eval"; step: number; validation_loss: number; perplexity: number; best: boolean; preference?: PreferenceStats }
  | { event: "checkpoint"; step: number }
  | { event: "finished"; steps: number; reason: "completed" | "early_stopping" | "stopped"; best_validation_loss: number | null; seconds: number };

/** `searchSettings()`: what to search (all optional). */
export interface SearchConfig {
  lr?: number[]; rank?: number[]; budget_steps?: number; keep_one_in?: number;
}

/** One candidate's result at one rung of the search. */
export interface SearchTrial {
  candidate: number; lr: number; rank: number; rung: number; steps: number;
  validation_loss: number | null; seconds: number;
}

/** `SearchEvent`: what a search reports as it goes. */
export type SearchEvent =
  | { search: "started"; candidates: number; rungs: { candidates: number; steps: number }[] }
  | { search: "run"; candidate: number; rung: number; event: TrainEvent }
  | { search: "trial"; trial: SearchTrial };

/** `searchSettings()`'s result: every trial, and the chosen setting (the model's adapter). */
export interface SearchReport {
  trials: SearchTrial[]; rungs: { candidates: number; steps: number }[]; skipped: string[];
  best: TrainConfig; steps: number; stopped: boolean;
}

/** `generatePairs()`: how pairs are written and checked (all optional; `QaConfig`). */
export interface QaConfig {
  questions_per_passage?: number; attempts?: number; max_question_tokens?: number;
  max_answer_tokens?: number; min_overlap?: number; repeat_similarity?: number;
  keep_passage?: boolean; chunks?: { max_tokens: number; overlap_tokens: number };
  seed?: number; max_passages?: number | null;
}

/** A question/answer pair written from a passage (`overlap`: its answer's words found there). */
export interface QaPair { question: string; answer: string; passage: Chunk; overlap: number }

/** Why a pair was dropped. */
export type QaDropped = "too_long" | "not_a_question" | "off_passage" | "repeat" | "no_answer" | "ungrounded" | "restates";

/** `generatePairs()`'s progress. */
export type QaEvent =
  | { kind: "passage"; done: number; total: number; kept: number }
  | ({ kind: "kept" } & QaPair);

/** `generatePairs()`'s result. */
export interface QaReport {
  passages: number; candidates: number; kept: QaPair[];
  dropped: { question: string; answer: string; doc_id: string; reason: QaDropped }[];
  seconds: number; stopped: boolean;
}

/** `plan()`: predicted peak memory of a training run, in bytes. */
export interface MemoryPlan {
  weights: number; trainable_parameters: number; optimizer: number; activations: number;
  logits: number; total: number; largest_tensor: number; budget: number | null;
  max_tensor_bytes: number | null; fits: boolean; problems: string[];
  suggestions: { change: string; total: number; seq_len: number }[];
}

/** `trainFields()`: one setting of a run, as a form shows it. */
export interface TrainField {
  path: string; label: string; help: string; optional: boolean; stage: "run" | "data";
  kind:
    | { type: "integer"; min: number }
    | { type: "number"; min: number; max: number | null; step: number }
    | { type: "bool" } | { type: "list" } | { type: "pair" } | { type: "columns" }
    | { type: "choice"; options: string[] };
  when: { path: string; values: string[] } | null;
  default: unknown;
}

/** `runLength()`: how long a run is on the loaded data. */
export interface RunLength {
  steps: number; steps_per_epoch: number; train_rows: number; rows_per_step: number;
  ended_by: "epochs" | "max_steps"; summary: string;
}

/** `presets()`: a planner-sized starting point. */
export interface Preset {
  name: "quick" | "balanced" | "thorough"; purpose: string; config: TrainConfig;
  length: RunLength; plan: MemoryPlan;
}

/** `modelPresets()`: a better model on the Hugging Face hub. */
export interface HubModel { repo: string; note: string }

/** `sizeUp()`: what a model would take here before it is fetched. */
export interface ModelFit {
  name: string; architecture: string; parameters: number; weight_bytes: number;
  precision: "f32" | "f16"; opens: boolean; problem: string | null; training: MemoryPlan;
  summary: string;
}

/** `evaluate()`: the same report `webtune eval` prints. */
export interface Evaluation {
  data: string; examples: number;
  loss: number | null; perplexity: number | null; exact_match: number | null;
  first_word_accuracy: number | null;
  answers: { expected: string; got: string; correct: boolean; first_word_correct: boolean }[];
  /** The answers were stopped (`stop()`) before every question was asked. */
  stopped: boolean;
}

/** `generate()` options: a `GenerateConfig` plus the adapter to answer with (`adapter: false`
 * for the base model; `adapter_name` for one kept by `loadAdapter()`; `adapter_scale`) and
 * `raw`. */
export interface GenerateOptions {
  max_new_tokens?: number; stop_strings?: string[];
  sampling?: { temperature?: number; top_k?: number; top_p?: number; repetition_penalty?: number; seed?: number };
  adapter?: boolean; adapter_name?: string; adapter_scale?: number; raw?: boolean;
  /** The conversation so far; the prompt is the next user turn. */
  history?: { role: "system" | "user" | "assistant"; content: string }[];
}

/** An adapter kept by `loadAdapter()`: `bytes` is the device memory it takes. */
export interface AdapterSummary { name: string; r: number; layers: number; bytes: number }

/** `generate()`. */
export interface Generation {
  text: string; tokens: number; prompt_tokens: number; dropped_turns: number; stop: string;
  first_text_seconds: number; seconds: number;
  prefill_tokens_per_second: number; decode_tokens_per_second: number;
}

/** `openEncoder()`. */
export interface EncoderInfo { name: string; dimension: number; pooling: "Mean" | "Cls"; normalize: boolean; max_len: number }

/** `addDocuments()`, per document. */
export interface DocumentUpdate { id: string; title: string; added: number; removed: number }

/** `documents()` / `importIndex()` (`DocumentRecord`). */
export interface IndexedDocument { id: string; title: string; hash: string; chunk_ids: number[] }

/** A chunk of a document (`Chunk`; `start`/`end` are byte offsets in its text). */
export interface Chunk { doc_id: string; title: string; heading: string; start: number; end: number; text: string; tokens: number }

/** `search()` (`Hit`). */
export interface Hit { id: number; chunk: Chunk; score: number }

/** `search()` / `ask()` options (all optional). */
export interface AskOptions { k?: number; mode?: "dense" | "keyword" | "hybrid"; max_new_tokens?: number; adapter?: boolean }

/** `ask()` (`rag::Answer`). */
export interface RagAnswer { text: string; sources: { number: number; chunk: Chunk }[]; cited: number[] }

/** `advise()`'s texts: the training data and the question files (`{name, text}`). */
export interface AdviseTexts {
  training: { name: string; text: string }; questions: { name: string; text: string };
  changedQuestions?: { name: string; text: string };
  /** Pairs written from the documents (`generatePairs()` → `pairsJsonl()`), trained on too. */
  generated?: { name: string; text: string };
}

/** `AdviseConfig` (all optional). */
export interface AdviseConfig { train?: TrainConfig; k?: number; max_new_tokens?: number; format_share?: number; max_questions?: number | null }

type Arm = "base" | "rag" | "lora" | "lora_rag";

/** One marked answer (`Marked`). */
export interface MarkedAnswer {
  arm: Arm; set: "held_out" | "changed"; question: string; answer: string; facts_stated: boolean;
  stale: boolean; format_followed: boolean; seconds: number; prompt_tokens: number;
}

/** `advise()`'s progress (`Progress`). */
export type AdviseEvent =
  | { kind: "stage"; stage: string; done: number; total: number }
  | { kind: "training"; arm: Arm; event: TrainEvent }
  | ({ kind: "answer" } & MarkedAnswer);

/** `advise()` (`Report`). */
export interface AdviseReport {
  training_examples: number; generated_examples: number; held_out_questions: number;
  changed_questions: number;
  changed_documents: string[]; format: { kind: "label" | "line"; text: string }[];
  arms: {
    arm: Arm; format: number | null; facts: number; changed_facts: number; stale: number;
    seconds_per_answer: number; prompt_tokens: number; memory_bytes: number;
    training_seconds: number | null;
    absorb: { by: "reindex"; documents: number; seconds: number } | { by: "retrain"; seconds: number } | { by: "never" };
  }[];
  recommendation: { choice: Arm; reasons: string[] };
  answers: MarkedAnswer[];
}

/** Every failure is an `Error` with a `kind` ("gguf", "data", "adapter", "device", "busy", …). */
export interface WebtuneError extends Error { kind: string }
"#;
