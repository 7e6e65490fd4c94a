// The schema a notebook must satisfy to be opened from a share link (valibot): every field typed and
// bounded (string lengths, array sizes, integers where counts are meant, finite numbers in range, known
// cell and source kinds, no unknown keys), then the cross-field rules a schema cannot say (unique cell
// ids, LoRA settings present in LoRA mode, hidden cells and recorded losses that name existing cells).
// A link is untrusted input: what passes here is a whole, well-formed Notebook, or nothing is.

import * as v from 'valibot';
import { NOTEBOOK_VERSION, type Notebook } from './notebook.ts';

// ---- bounds (exported so the UI's forms can use the same limits) ----
export const LIMITS = {
  idChars: 64,
  titleChars: 200,
  cells: 200,
  markdownChars: 20_000,
  nameChars: 256,
  urlChars: 2048,
  /** Inline dataset text before compression (its compressed size is checked by the link codec). */
  inlineTextChars: 256 * 1024,
  prompts: 32,
  promptChars: 4000,
  labels: 64,
  labelChars: 128,
  targetModules: 32,
  hideControls: 100,
  lossesPerCell: 2000,
  maxSeq: 131_072,
  maxSteps: 10_000_000,
  seed: 2 ** 32 - 1,
  timestamp: 8.64e15,
} as const;

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const HUB_REPO = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.idChars), v.regex(ID, 'letters, digits, _ and -'));
const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const real = (min: number, max: number) => v.pipe(v.number(), v.finite(), v.minValue(min), v.maxValue(max));
/** Strictly between 0 and max. */
const positive = (max: number) =>
  v.pipe(
    v.number(),
    v.finite(),
    v.check((x) => x > 0, 'must be > 0'),
    v.maxValue(max),
  );
const below1 = v.pipe(
  v.number(),
  v.finite(),
  v.minValue(0),
  v.check((x) => x < 1, 'must be < 1'),
);
const seed = int(0, LIMITS.seed);
const httpUrl = v.pipe(
  v.string(),
  v.maxLength(LIMITS.urlChars),
  v.url(),
  v.check((u) => /^https?:\/\//i.test(u), 'an http(s) URL'),
);

export const ModelSourceSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('builtin'), id }),
  v.strictObject({
    kind: v.literal('hub'),
    repo: v.pipe(v.string(), v.maxLength(96), v.regex(HUB_REPO, 'owner/name')),
    revision: v.pipe(v.string(), v.minLength(1), v.maxLength(128), v.regex(REVISION, 'a branch, tag or commit')),
    resolvedSha: v.optional(v.pipe(v.string(), v.regex(SHA1, 'a 40-digit hex commit sha'))),
  }),
  v.strictObject({ kind: v.literal('local'), name: text(LIMITS.nameChars) }),
]);

export const DatasetSourceSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('builtin'), id }),
  v.strictObject({ kind: v.literal('inline'), name: text(LIMITS.nameChars), text: text(LIMITS.inlineTextChars) }),
  v.strictObject({
    kind: v.literal('url'),
    url: httpUrl,
    sha256: v.pipe(v.string(), v.regex(SHA256, 'a 64-digit lowercase hex SHA-256')),
    name: text(LIMITS.nameChars),
  }),
  v.strictObject({ kind: v.literal('local'), name: text(LIMITS.nameChars) }),
]);

const fraction = real(0, 1);
export const DatasetCellConfigSchema = v.strictObject({
  source: v.nullable(DatasetSourceSchema),
  shape: v.picklist(['auto', 'text', 'prompt-completion', 'alpaca', 'chat', 'sharegpt', 'classification']),
  maxLength: int(1, LIMITS.maxSeq),
  overLength: v.picklist(['drop', 'truncate', 'truncate-prompt']),
  fractions: v.pipe(
    v.strictTuple([fraction, fraction, fraction]),
    v.check((f) => Math.abs(f[0] + f[1] + f[2] - 1) < 1e-6, 'fractions must add up to 1'),
  ),
  seed,
  limitRows: int(0, LIMITS.maxSteps),
});

export const LoraConfigSchema = v.strictObject({
  r: int(1, 1024),
  alpha: positive(1e4),
  dropout: below1,
  targetModules: v.union([
    v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
      v.minLength(1),
      v.maxLength(LIMITS.targetModules),
    ),
  ]),
  useRslora: v.boolean(),
  bias: v.literal('none'),
  modulesToSave: v.optional(
    v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64))), v.maxLength(LIMITS.targetModules)),
  ),
});

export const TrainConfigSchema = v.strictObject({
  mode: v.picklist(['lora', 'full']),
  lora: v.optional(LoraConfigSchema),
  epochs: int(1, 10_000),
  maxSteps: int(0, LIMITS.maxSteps),
  microBatch: int(1, 4096),
  gradAccum: int(1, 4096),
  seq: int(1, LIMITS.maxSeq),
  packing: v.boolean(),
  lr: positive(1),
  schedule: v.picklist(['constant', 'linear', 'cosine']),
  warmupSteps: int(0, LIMITS.maxSteps),
  weightDecay: real(0, 10),
  beta1: below1,
  beta2: below1,
  eps: positive(1),
  maxGradNorm: real(-1, 1e6),
  seed,
  checkpointing: v.boolean(),
  evalEvery: int(0, LIMITS.maxSteps),
  evalExamples: int(0, LIMITS.maxSteps),
  earlyStopping: v.nullable(v.strictObject({ patience: int(1, 10_000), threshold: real(0, 1e3) })),
  checkpointEvery: int(0, LIMITS.maxSteps),
  labels: v.optional(
    v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.labelChars))), v.maxLength(LIMITS.labels)),
  ),
});

export const GenerateCellConfigSchema = v.strictObject({
  prompts: v.pipe(v.array(text(LIMITS.promptChars)), v.maxLength(LIMITS.prompts)),
  maxNewTokens: int(1, 8192),
  temperature: real(0, 10),
  topK: int(0, 1_000_000),
  topP: real(0, 1),
  seed,
});

export const ExportCellConfigSchema = v.strictObject({
  formats: v.pipe(
    v.array(v.picklist(['peft', 'merged', 'onnx', 'metrics'])),
    v.maxLength(4),
    v.check((f) => new Set(f).size === f.length, 'formats must not repeat'),
  ),
});

export const CellSchema = v.variant('type', [
  v.strictObject({ id, type: v.literal('markdown'), source: text(LIMITS.markdownChars) }),
  v.strictObject({ id, type: v.literal('model'), source: v.nullable(ModelSourceSchema) }),
  v.strictObject({ id, type: v.literal('dataset'), config: DatasetCellConfigSchema }),
  v.strictObject({
    id,
    type: v.literal('train'),
    config: TrainConfigSchema,
    label: v.optional(text(LIMITS.titleChars)),
  }),
  v.strictObject({ id, type: v.literal('evaluate') }),
  v.strictObject({ id, type: v.literal('generate'), config: GenerateCellConfigSchema }),
  v.strictObject({ id, type: v.literal('export'), config: ExportCellConfigSchema }),
  v.strictObject({ id, type: v.literal('device') }),
]);

export const LessonViewSchema = v.strictObject({
  readOnly: v.boolean(),
  hideConfig: v.pipe(v.array(id), v.maxLength(LIMITS.cells)),
  hideControls: v.pipe(
    v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64), v.regex(/^[A-Za-z0-9._-]+$/, 'a control name'))),
    v.maxLength(LIMITS.hideControls),
  ),
});

const loss = real(0, 1e4);
export const NotebookSchema = v.strictObject({
  version: v.literal(NOTEBOOK_VERSION),
  id,
  title: text(LIMITS.titleChars),
  cells: v.pipe(v.array(CellSchema), v.maxLength(LIMITS.cells)),
  createdAt: int(0, LIMITS.timestamp),
  updatedAt: int(0, LIMITS.timestamp),
  lesson: v.optional(LessonViewSchema),
  recordedLosses: v.optional(
    v.pipe(
      v.record(id, v.pipe(v.array(loss), v.maxLength(LIMITS.lossesPerCell))),
      v.check((r) => Object.keys(r).length <= LIMITS.cells, `at most ${LIMITS.cells} train cells`),
    ),
  ),
});

// The schema's output must be a Notebook (a compile-time check that the two stay in step).
type SchemaNotebook = v.InferOutput<typeof NotebookSchema>;
export const schemaMatchesNotebook: (n: SchemaNotebook) => Notebook = (n) => n;

/** The first problem with a value, as a field path ("cells[3].config.lr") and a message. */
export interface SchemaProblem {
  path: string;
  message: string;
}

function pathOf(issue: v.BaseIssue<unknown>): string {
  let out = '';
  for (const item of issue.path ?? []) {
    const key = (item as { key?: unknown }).key;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(notebook)';
}

/** Checks a value against the schema and the cross-field rules; returns the notebook or the first problem. */
export function validateNotebook(
  value: unknown,
): { ok: true; notebook: Notebook } | { ok: false; problem: SchemaProblem } {
  const r = v.safeParse(NotebookSchema, value, { abortEarly: true });
  if (!r.success) {
    const issue = r.issues[0];
    return { ok: false, problem: { path: pathOf(issue), message: issue.message } };
  }
  const nb: Notebook = r.output;
  const problem = crossCheck(nb);
  return problem ? { ok: false, problem } : { ok: true, notebook: nb };
}

function crossCheck(nb: Notebook): SchemaProblem | null {
  const ids = new Set<string>();
  const trainIds = new Set<string>();
  for (const [i, c] of nb.cells.entries()) {
    if (ids.has(c.id)) return { path: `cells[${i}].id`, message: `cell id "${c.id}" is used twice` };
    ids.add(c.id);
    if (c.type === 'train') {
      trainIds.add(c.id);
      if (c.config.mode === 'lora' && !c.config.lora) {
        return { path: `cells[${i}].config.lora`, message: 'LoRA mode needs its LoRA settings' };
      }
    }
  }
  for (const [i, h] of (nb.lesson?.hideConfig ?? []).entries()) {
    if (!ids.has(h)) return { path: `lesson.hideConfig[${i}]`, message: `no cell has the id "${h}"` };
  }
  for (const k of Object.keys(nb.recordedLosses ?? {})) {
    if (!trainIds.has(k)) return { path: `recordedLosses.${k}`, message: `no train cell has the id "${k}"` };
  }
  return null;
}
