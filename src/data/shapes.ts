// Dataset shapes: what the fields of a record mean. Recognised from field names, with an explicit override
// (shape and field names) for files whose columns are called something else:
//   text                        {text}
//   prompt-completion           {prompt, completion}
//   alpaca                      {instruction, input?, output}
//   chat                        {messages: [{role, content}]}      OpenAI style, system turns allowed
//   sharegpt                    {conversations: [{from, value}]}   becomes chat (human→user, gpt→assistant)
//   classification              {text, label}
// The dataset's shape is the one most of its rows have; a row that lacks the fields of that shape (mixed
// shapes) or has a field of the wrong type is a DatasetError naming the row and the column.

import type { DatasetError } from '../errors.ts';
import type { BadRowPolicy } from './read.ts';
import { jsonTypeName, rowError, type Fields, type RawRecord } from './record.ts';

export type ShapeName = 'text' | 'prompt-completion' | 'alpaca' | 'chat' | 'sharegpt' | 'classification';
export const SHAPES: readonly ShapeName[] = [
  'chat',
  'sharegpt',
  'alpaca',
  'prompt-completion',
  'classification',
  'text',
];

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: Role;
  content: string;
}

export type Example =
  | { kind: 'text'; row: number; text: string }
  | { kind: 'prompt-completion'; row: number; prompt: string; completion: string }
  | { kind: 'alpaca'; row: number; instruction: string; input: string; output: string }
  | { kind: 'chat'; row: number; messages: ChatMessage[] }
  | { kind: 'classification'; row: number; text: string; label: string };

/** Which record field holds each shape field, when it is not named as the shape names it. */
export interface FieldMap {
  text?: string;
  label?: string;
  prompt?: string;
  completion?: string;
  instruction?: string;
  input?: string;
  output?: string;
  messages?: string;
  conversations?: string;
}

export interface ShapeOptions {
  file: string;
  /** 'auto' (default) recognises the shape from the fields. */
  shape?: ShapeName | 'auto';
  fields?: FieldMap;
  badRows?: BadRowPolicy;
  /** Where a row is in the file, for messages: 'line' (JSONL, CSV, text) or 'element' (JSON array). */
  rowWord?: 'line' | 'element';
}

export interface ShapeResult {
  shape: ShapeName;
  examples: Example[];
  errors: DatasetError[];
  /** How many rows looked like each shape (those that looked like none are under 'none'). */
  shapeCounts: Partial<Record<ShapeName | 'none', number>>;
}

const REQUIRED: Record<ShapeName, (keyof FieldMap)[]> = {
  chat: ['messages'],
  sharegpt: ['conversations'],
  alpaca: ['instruction', 'output'],
  'prompt-completion': ['prompt', 'completion'],
  classification: ['text', 'label'],
  text: ['text'],
};

const name = (map: FieldMap, f: keyof FieldMap): string => map[f] ?? f;

/** The first shape (in SHAPES order) whose required fields the record has, or null. */
export function recogniseShape(fields: Fields, map: FieldMap = {}): ShapeName | null {
  for (const s of SHAPES) if (REQUIRED[s].every((f) => fields[name(map, f)] !== undefined)) return s;
  return null;
}

const SHAREGPT_ROLES: Record<string, Role> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  model: 'assistant',
  bot: 'assistant',
  chatgpt: 'assistant',
  bard: 'assistant',
  bing: 'assistant',
  function_call: 'assistant',
  tool: 'tool',
  function: 'tool',
  function_response: 'tool',
  observation: 'tool',
};

const OPENAI_ROLES: Record<string, Role> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool',
  function: 'tool',
};

class RowProblem extends Error {
  constructor(
    readonly column: string | null,
    readonly expected: string,
    readonly problem: string,
  ) {
    super(problem);
  }
}

function str(fields: Fields, key: string, optional = false): string {
  const v = fields[key];
  if (typeof v === 'string') return v;
  if ((v === undefined || v === null) && optional) return '';
  if (v === undefined) throw new RowProblem(key, 'a string', `missing field "${key}"`);
  throw new RowProblem(key, 'a string', `expected a string, got ${jsonTypeName(v)}`);
}

function labelOf(fields: Fields, key: string): string {
  const v = fields[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new RowProblem(key, 'a string, number or boolean label', `expected a label, got ${jsonTypeName(v)}`);
}

function contentOf(v: unknown, column: string): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) {
    // OpenAI content parts: [{type: 'text', text: '...'}]
    return v
      .map((p, i) => {
        const part = p as Fields;
        if (part && typeof part === 'object' && part.type === 'text' && typeof part.text === 'string') return part.text;
        throw new RowProblem(`${column}[${i}]`, 'a text part', `only text content parts are supported`);
      })
      .join('');
  }
  throw new RowProblem(column, 'a string', `expected the message text as a string, got ${jsonTypeName(v)}`);
}

function messagesOf(fields: Fields, key: string, sharegpt: boolean): ChatMessage[] {
  const list = fields[key];
  if (!Array.isArray(list)) {
    throw new RowProblem(key, 'an array of messages', `expected an array of messages, got ${jsonTypeName(list)}`);
  }
  if (list.length === 0) throw new RowProblem(key, 'at least one message', 'the conversation has no messages');
  return list.map((m, i) => {
    const col = `${key}[${i}]`;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      throw new RowProblem(col, 'a message object', `expected a message object, got ${jsonTypeName(m)}`);
    }
    const msg = m as Fields;
    // ShareGPT files use from/value; some use role/content inside `conversations` too.
    const roleKey = sharegpt && msg.from !== undefined ? 'from' : 'role';
    const textKey = sharegpt && msg.value !== undefined ? 'value' : 'content';
    const rawRole = msg[roleKey];
    if (typeof rawRole !== 'string') {
      throw new RowProblem(`${col}.${roleKey}`, 'a role name', `expected a role name, got ${jsonTypeName(rawRole)}`);
    }
    const table = sharegpt ? SHAREGPT_ROLES : OPENAI_ROLES;
    const role = table[rawRole.toLowerCase()];
    if (!role) {
      const known = Object.keys(table).join(', ');
      throw new RowProblem(`${col}.${roleKey}`, `one of ${known}`, `unknown role "${rawRole}"`);
    }
    return { role, content: contentOf(msg[textKey], `${col}.${textKey}`) };
  });
}

function toExample(shape: ShapeName, r: RawRecord, map: FieldMap): Example {
  const f = r.fields;
  const n = (k: keyof FieldMap) => name(map, k);
  const missing = REQUIRED[shape].filter((k) => f[n(k)] === undefined).map(n);
  if (missing.length > 0) {
    const want = REQUIRED[shape].map(n).join(', ');
    const has = Object.keys(f).join(', ') || 'none';
    throw new RowProblem(
      null,
      `the fields of a ${shape} row (${want})`,
      `this row lacks ${missing.join(', ')} of the dataset's ${shape} shape (its fields: ${has})`,
    );
  }
  switch (shape) {
    case 'text':
      return { kind: 'text', row: r.row, text: str(f, n('text')) };
    case 'prompt-completion':
      return {
        kind: 'prompt-completion',
        row: r.row,
        prompt: str(f, n('prompt')),
        completion: str(f, n('completion')),
      };
    case 'alpaca':
      return {
        kind: 'alpaca',
        row: r.row,
        instruction: str(f, n('instruction')),
        input: str(f, n('input'), true),
        output: str(f, n('output')),
      };
    case 'classification':
      return { kind: 'classification', row: r.row, text: str(f, n('text')), label: labelOf(f, n('label')) };
    case 'chat':
      return { kind: 'chat', row: r.row, messages: messagesOf(f, n('messages'), false) };
    case 'sharegpt':
      return { kind: 'chat', row: r.row, messages: messagesOf(f, n('conversations'), true) };
  }
}

/** The shape most records have (ties go to the earlier shape in SHAPES), and the per-shape counts. */
export function detectShape(records: RawRecord[], map: FieldMap = {}): Pick<ShapeResult, 'shape' | 'shapeCounts'> {
  const counts: Partial<Record<ShapeName | 'none', number>> = {};
  for (const r of records) {
    const s = recogniseShape(r.fields, map) ?? 'none';
    counts[s] = (counts[s] ?? 0) + 1;
  }
  let best: ShapeName | null = null;
  for (const s of SHAPES) if ((counts[s] ?? 0) > (best ? (counts[best] ?? 0) : 0)) best = s;
  return { shape: best ?? 'text', shapeCounts: counts };
}

/** Records to typed examples of one shape. Bad rows throw (policy 'stop') or are returned ('skip'). */
export function toExamples(records: RawRecord[], opts: ShapeOptions): ShapeResult {
  const map = opts.fields ?? {};
  const detected = detectShape(records, map);
  const shape = opts.shape && opts.shape !== 'auto' ? opts.shape : detected.shape;
  const examples: Example[] = [];
  const errors: DatasetError[] = [];
  const word = opts.rowWord ?? 'line';
  for (const r of records) {
    try {
      examples.push(toExample(shape, r, map));
    } catch (e) {
      if (!(e instanceof RowProblem)) throw e;
      const err = rowError(opts.file, `${word} ${r.row}`, r.row, e.column, e.expected, e.problem);
      if ((opts.badRows ?? 'stop') === 'stop') throw err;
      errors.push(err);
    }
  }
  return { shape, examples, errors, shapeCounts: detected.shapeCounts };
}
