import { describe, expect, it } from 'vitest';
import { DatasetError, VerifiedFetchError } from '../../errors.ts';
import { sha256Hex } from '../../share/hash.ts';
import type { Cell, Notebook } from '../../share/notebook.ts';
import { DEFAULT_DATASET, newCell } from './defaults.ts';
import { fakeEngine } from './fake-engine.ts';
import { NotebookDoc } from './notebook-doc.svelte.ts';
import { NotebookRunner } from './runner.svelte.ts';

function notebook(cells: Cell[], extra: Partial<Notebook> = {}): Notebook {
  return { version: 1, id: 'nb1', title: 't', cells, createdAt: 0, updatedAt: 0, ...extra };
}

const chain = (): Cell[] => [
  { id: 'md', type: 'markdown', source: '# hi' },
  { ...newCell('model'), id: 'model' },
  { id: 'data', type: 'dataset', config: { ...DEFAULT_DATASET, overLength: 'truncate-prompt' } },
  { ...newCell('train'), id: 'train' },
  { id: 'eval', type: 'evaluate' },
  { ...newCell('generate'), id: 'gen' },
  { id: 'export', type: 'export', config: { formats: ['peft', 'metrics'] } },
];

describe('NotebookRunner', () => {
  it('runs every cell in order, feeding handles downstream, and collects the train events', async () => {
    const fake = fakeEngine({ losses: [3, 2, 1.5, 1.2] });
    const doc = new NotebookDoc(notebook(chain()));
    const runner = new NotebookRunner(doc, () => fake.engine);
    expect(await runner.runAll()).toBe(true);
    expect(fake.calls).toEqual([
      'loadModel',
      'loadDataset',
      'startRun',
      'compare',
      'export peft',
      'export metrics-json',
      'export metrics-csv',
    ]);
    expect(fake.requests.dataset[0].modelId).toBe('m1');
    expect(fake.requests.dataset[0].options).toMatchObject({ overLength: 'truncate-prompt', maxLength: 128, seed: 42 });
    expect(fake.requests.run[0]).toMatchObject({ runId: 'nb1/train', modelId: 'm1', datasetId: 'd1', resume: false });
    const train = runner.runFor('train', 'train');
    expect(train.steps.map((s) => s.loss)).toEqual([3, 2, 1.5, 1.2]);
    expect(train.validation.map((e) => e.step)).toEqual([2, 4]);
    expect(train.summary?.test?.tuned.accuracy).toBe(0.9);
    expect(runner.runFor('gen', 'generate').outputs[0].tuned).toBe('Subject:  tuned');
    expect(runner.runFor('export', 'export').results.map((r) => r.kind)).toEqual([
      'peft',
      'metrics-json',
      'metrics-csv',
    ]);
    expect(runner.runningAll).toBe(false);
  });

  it('runs the cells a cell depends on first, and only once', async () => {
    const fake = fakeEngine();
    const doc = new NotebookDoc(notebook(chain()));
    const runner = new NotebookRunner(doc, () => fake.engine);
    expect(await runner.run('gen')).toBe(true);
    expect(fake.calls).toEqual(['loadModel', 'loadDataset', 'startRun', 'compare']);
    expect(await runner.run('export')).toBe(true);
    expect(fake.calls.filter((c) => c === 'startRun')).toHaveLength(1);
  });

  it('stops run-all at a failing cell and shows its typed error', async () => {
    const fake = fakeEngine({ failDataset: new DatasetError('bad row', 'x.jsonl', 3, 'text', 'a string') });
    const doc = new NotebookDoc(notebook(chain()));
    const runner = new NotebookRunner(doc, () => fake.engine);
    expect(await runner.runAll()).toBe(false);
    const data = runner.runFor('data', 'dataset');
    expect(data.status).toBe('failed');
    expect(data.problem).toMatchObject({ name: 'DatasetError', message: 'bad row' });
    expect(data.problem?.details).toContainEqual(['row', '3']);
    expect(fake.calls).not.toContain('startRun');
    expect(runner.runFor('train', 'train').status).toBe('idle');
  });

  it('says which cell is missing above', async () => {
    const fake = fakeEngine();
    const doc = new NotebookDoc(notebook([{ ...newCell('train'), id: 'train' }]));
    const runner = new NotebookRunner(doc, () => fake.engine);
    expect(await runner.run('train')).toBe(false);
    expect(runner.runFor('train', 'train').problem?.message).toMatch(/needs a Model cell above/);
  });

  it('marks early stopping and the restored best checkpoint', async () => {
    const fake = fakeEngine({ losses: [3, 2, 2.5, 2.8], earlyStopAt: 3 });
    const doc = new NotebookDoc(notebook(chain().slice(0, 4)));
    const runner = new NotebookRunner(doc, () => fake.engine);
    await runner.runAll();
    const train = runner.runFor('train', 'train');
    expect(train.markers).toEqual([
      { step: 3, kind: 'early-stop', label: 'early stop at step 3' },
      { step: 2, kind: 'best', label: 'best checkpoint (step 2) restored' },
    ]);
  });

  it('stops a training run in the engine when cancelled, and pauses/resumes it', async () => {
    const fake = fakeEngine();
    fake.holdRun();
    const doc = new NotebookDoc(notebook(chain().slice(0, 4)));
    const runner = new NotebookRunner(doc, () => fake.engine);
    const done = runner.run('train');
    await vi_waitFor(() => runner.runFor('train', 'train').steps.length === 1);
    await runner.pause('train');
    expect(runner.runFor('train', 'train').state).toBe('paused');
    await runner.resume('train');
    await runner.cancel('train');
    await done;
    expect(fake.calls).toEqual(['loadModel', 'loadDataset', 'startRun', 'pauseRun', 'resumeRun', 'stopRun']);
  });

  it('abandons a cancelled load and ignores its late result', async () => {
    const fake = fakeEngine();
    const doc = new NotebookDoc(notebook(chain().slice(0, 2)));
    const runner = new NotebookRunner(doc, () => fake.engine);
    const p = runner.run('model');
    await runner.cancel('model');
    expect(await p).toBe(false);
    const model = runner.runFor('model', 'model');
    expect(model.status).toBe('cancelled');
    expect(model.info).toBeNull();
  });

  it('cancels a comparison in the engine with the operation it started; the cell shows Cancelled', async () => {
    const fake = fakeEngine();
    const doc = new NotebookDoc(notebook(chain()));
    const runner = new NotebookRunner(doc, () => fake.engine);
    expect(await runner.run('train')).toBe(true);
    fake.holdOperations();
    const p = runner.run('gen');
    const gen = runner.runFor('gen', 'generate');
    await vi_waitFor(() => gen.outputs[0]?.base === 'first');
    const id = fake.requests.operations.at(-1);
    expect(id).toMatch(/^nb1\//);
    expect(gen.operation).toBe(id);
    await runner.cancel('gen');
    expect(fake.calls.slice(-2)).toEqual(['compare', `cancelOperation ${id}`]);
    expect(await p).toBe(false);
    expect(gen.status).toBe('cancelled');
    expect(gen.problem).toBeNull();
    expect(gen.operation).toBeNull();
  });

  it('cancels a model load, a dataset preparation and an export in the engine; an export stops at its first format', async () => {
    const fake = fakeEngine();
    const doc = new NotebookDoc(notebook(chain()));
    const runner = new NotebookRunner(doc, () => fake.engine);
    fake.holdOperations();
    const model = runner.run('model');
    await vi_waitFor(() => fake.requests.operations.length === 1);
    await runner.cancel('model');
    expect(await model).toBe(false);
    expect(fake.calls).toEqual(['loadModel', `cancelOperation ${fake.requests.operations[0]}`]);
    expect(runner.runFor('model', 'model').status).toBe('cancelled');

    const f2 = fakeEngine();
    const r2 = new NotebookRunner(doc, () => f2.engine);
    expect(await r2.run('train')).toBe(true);
    f2.holdOperations();
    for (const [cellId, call] of [
      ['data', 'loadDataset'],
      ['export', 'export peft'],
    ] as const) {
      const p = r2.run(cellId);
      await vi_waitFor(() => f2.calls.at(-1) === call);
      await r2.cancel(cellId);
      expect(await p).toBe(false);
      expect(f2.calls.slice(-2)).toEqual([call, `cancelOperation ${f2.requests.operations.at(-1)}`]);
      expect(r2.runOf(doc.cell(cellId)!).status).toBe('cancelled');
    }
    // every engine call had its own id; the export never went on to its metrics formats
    expect(new Set(f2.requests.operations).size).toBe(f2.requests.operations.length);
    expect(f2.calls).not.toContain('export metrics-json');
  });

  it('a Cancelled from the engine (not from the cell) shows the cell as cancelled, not failed', async () => {
    const fake = fakeEngine();
    const doc = new NotebookDoc(notebook(chain().slice(0, 2)));
    const runner = new NotebookRunner(doc, () => fake.engine);
    fake.holdOperations();
    const p = runner.run('model');
    await vi_waitFor(() => fake.requests.operations.length === 1);
    expect(await fake.engine.cancelOperation(fake.requests.operations[0]!)).toBe(true);
    expect(await p).toBe(false);
    expect(runner.runFor('model', 'model').status).toBe('cancelled');
    expect(runner.runFor('model', 'model').problem).toBeNull();
  });

  it('resumes a stored run after a reload, and deletes it when starting over', async () => {
    const stored = [{ runId: 'nb1/train', step: 2, bestStep: null, updatedAt: 1 }];
    const fake = fakeEngine({ stored, losses: [3, 2, 1.5, 1.2] });
    const doc = new NotebookDoc(notebook(chain().slice(0, 4)));
    const runner = new NotebookRunner(doc, () => fake.engine);
    await runner.findStoredRuns();
    expect(runner.runFor('train', 'train').stored?.step).toBe(2);
    await runner.runAll();
    expect(fake.requests.run[0].resume).toBe(true);
    expect(runner.runFor('train', 'train').steps.map((s) => s.step)).toEqual([3, 4]);

    const fake2 = fakeEngine({ stored });
    const runner2 = new NotebookRunner(doc, () => fake2.engine);
    await runner2.findStoredRuns();
    await runner2.run('train');
    expect(fake2.calls).toContain('deleteRun nb1/train');
    expect(fake2.requests.run[0].resume).toBe(false);
  });

  it('reports reproduction of the recorded losses, bitwise or where it diverged', async () => {
    const doc = new NotebookDoc(notebook(chain().slice(0, 4), { recordedLosses: { train: [3, 2, 1.5] } }));
    const same = new NotebookRunner(doc, () => fakeEngine({ losses: [3, 2, 1.5, 1.2] }).engine);
    await same.runAll();
    expect(same.runFor('train', 'train').reproduction).toEqual({ kind: 'bitwise', recorded: 3 });
    const other = new NotebookRunner(doc, () => fakeEngine({ losses: [3, 2.0000002, 1.5] }).engine);
    await other.runAll();
    expect(other.runFor('train', 'train').reproduction).toEqual({
      kind: 'diverged',
      step: 2,
      recorded: 2,
      got: 2.0000002,
    });
  });

  it('checks a URL dataset against its SHA-256 and refuses changed data', async () => {
    const text = '{"text":"a"}\n';
    const bytes = new TextEncoder().encode(text);
    const good = await sha256Hex(bytes);
    const cells = chain().slice(0, 3);
    const data = cells[2] as Extract<Cell, { type: 'dataset' }>;
    data.config.source = { kind: 'url', url: 'http://127.0.0.1/x.jsonl', sha256: good, name: 'x.jsonl' };
    const fake = fakeEngine();
    const doc = new NotebookDoc(notebook(cells));
    const runner = new NotebookRunner(
      doc,
      () => fake.engine,
      async () => bytes,
    );
    expect(await runner.run('data')).toBe(true);
    expect(fake.requests.dataset[0].text).toBe(text);
    // With no hash yet, the first load pins it.
    data.config.source = { ...data.config.source, sha256: '' };
    const pinning = new NotebookRunner(
      new NotebookDoc(notebook(cells)),
      () => fake.engine,
      async () => bytes,
    );
    expect(await pinning.run('data')).toBe(true);
    expect((pinning.doc.cell('data') as typeof data).config.source).toMatchObject({ sha256: good });
    const changed = new NotebookRunner(
      doc,
      () => fake.engine,
      async () => new TextEncoder().encode(text + 'more'),
    );
    expect(await changed.run('data')).toBe(false);
    const problem = changed.runFor('data', 'dataset').problem;
    expect(problem?.name).toBe(new VerifiedFetchError('', 'mismatch', '', '').name);
    expect(problem?.message).toMatch(/SHA-256/);
  });

  it('asks for a local file again after a reload', async () => {
    const cells = chain().slice(0, 3);
    (cells[2] as Extract<Cell, { type: 'dataset' }>).config.source = { kind: 'local', name: 'mine.jsonl' };
    const runner = new NotebookRunner(new NotebookDoc(notebook(cells)), () => fakeEngine().engine);
    expect(await runner.run('data')).toBe(false);
    expect(runner.runFor('data', 'dataset').problem?.message).toMatch(/pick the file "mine.jsonl" again/);
  });
});

async function vi_waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error('condition never held');
}
