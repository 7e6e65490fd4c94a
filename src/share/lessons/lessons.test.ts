// The built-in lessons as data: each validates against the share-link schema, travels through a link
// unchanged and well under the size limit, and is sized to run in minutes on a CPU WebGPU with the
// built-in model (seq within its 128 positions, small step counts and micro-batches, small row subsets,
// a learning rate for a tiny model that the text explains).

import { describe, expect, it } from 'vitest';
import { MAX_FRAGMENT_CHARS, decodeNotebookFragment, encodeNotebookFragment } from '../link.ts';
import type { Cell } from '../notebook.ts';
import { validateNotebook } from '../schema.ts';
import { LESSONS, lessonById } from './index.ts';

const BUILTIN_MAX_POSITIONS = 128;
const cellsOf = <T extends Cell['type']>(cells: Cell[], type: T) =>
  cells.filter((c): c is Extract<Cell, { type: T }> => c.type === type);

describe('built-in lessons', () => {
  it('are four, with stable distinct ids', () => {
    expect(LESSONS.map((l) => l.id)).toEqual([
      'lesson-lora-in-five-minutes',
      'lesson-rank-and-alpha',
      'lesson-overfitting',
      'lesson-full-vs-lora',
    ]);
    expect(lessonById('lesson-overfitting')?.title).toBe('Overfitting and early stopping');
  });

  for (const nb of LESSONS) {
    describe(nb.title, () => {
      it('validates and round-trips through a share link under the size limit', () => {
        const r = validateNotebook(JSON.parse(JSON.stringify(nb)));
        expect(r.ok ? null : r.problem).toBeNull();
        const frag = encodeNotebookFragment(nb);
        expect(frag.length).toBeLessThan(MAX_FRAGMENT_CHARS / 4);
        expect(decodeNotebookFragment(frag)).toEqual(JSON.parse(JSON.stringify(nb)));
        expect(encodeNotebookFragment(nb)).toBe(frag);
      });

      it('is real teaching material around runnable cells', () => {
        const words = cellsOf(nb.cells, 'markdown')
          .map((c) => c.source)
          .join(' ')
          .split(/\s+/).length;
        expect(words).toBeGreaterThan(300);
        expect(nb.cells[0].type).toBe('markdown');
        expect(cellsOf(nb.cells, 'model')).toEqual([
          expect.objectContaining({ source: { kind: 'builtin', id: 'lorabook-tiny' } }),
        ]);
        expect(cellsOf(nb.cells, 'dataset')).toHaveLength(1);
        expect(cellsOf(nb.cells, 'evaluate').length).toBeGreaterThan(0);
        expect(nb.lesson?.readOnly).toBe(true);
      });

      it('fits the built-in model and a CPU WebGPU', () => {
        const [data] = cellsOf(nb.cells, 'dataset');
        expect(data.config.source?.kind).toBe('builtin');
        expect(data.config.maxLength).toBeLessThanOrEqual(BUILTIN_MAX_POSITIONS);
        expect(data.config.limitRows).toBeGreaterThan(0);
        expect(data.config.limitRows).toBeLessThanOrEqual(600);
        const trains = cellsOf(nb.cells, 'train');
        expect(trains.length).toBeGreaterThan(0);
        let steps = 0;
        for (const t of trains) {
          const c = t.config;
          expect(c.seq).toBeLessThanOrEqual(BUILTIN_MAX_POSITIONS);
          expect(c.microBatch * c.gradAccum).toBeLessThanOrEqual(8);
          expect(c.maxSteps).toBeGreaterThan(0);
          expect(c.maxSteps).toBeLessThanOrEqual(150);
          if (c.mode === 'lora') {
            expect(c.lr).toBeGreaterThanOrEqual(1e-3);
            expect(c.lr).toBeLessThanOrEqual(5e-3);
          }
          if (data.config.shape === 'classification') expect(c.labels).toEqual(['ham', 'spam']);
          steps += c.maxSteps;
        }
        expect(steps).toBeLessThanOrEqual(240);
        // The text says why the learning rate is not the usual 1e-4.
        expect(cellsOf(nb.cells, 'markdown').some((m) => m.source.includes('1e-4'))).toBe(true);
      });
    });
  }

  it('lesson 1 classifies spam with truncate-prompt and scores against the majority baseline', () => {
    const nb = LESSONS[0];
    const [data] = cellsOf(nb.cells, 'dataset');
    expect(data.config).toMatchObject({ source: { kind: 'builtin', id: 'spam-ham' }, shape: 'classification' });
    expect(data.config.overLength).toBe('truncate-prompt');
    expect(cellsOf(nb.cells, 'markdown').some((m) => /majority baseline/i.test(m.source))).toBe(true);
  });

  it('lesson 2 overlays labelled runs that differ only in r and alpha', () => {
    const trains = cellsOf(LESSONS[1].cells, 'train');
    expect(trains.length).toBeGreaterThanOrEqual(3);
    expect(new Set(trains.map((t) => t.label)).size).toBe(trains.length);
    const strip = (t: (typeof trains)[number]) => ({ ...t.config, lora: { ...t.config.lora, r: 0, alpha: 0 } });
    for (const t of trains) expect(strip(t)).toEqual(strip(trains[0]));
    expect(new Set(trains.map((t) => `${t.config.lora?.r}/${t.config.lora?.alpha}`)).size).toBe(trains.length);
  });

  it('lesson 3 trains a small set too long, then with early stopping', () => {
    const nb = LESSONS[2];
    const [data] = cellsOf(nb.cells, 'dataset');
    expect(data.config.limitRows).toBeLessThanOrEqual(100);
    const [long, early] = cellsOf(nb.cells, 'train');
    expect(long.config.earlyStopping).toBeNull();
    expect(early.config.earlyStopping?.patience).toBeGreaterThan(0);
    const trainRows = Math.floor(data.config.limitRows * data.config.fractions[0]);
    const epochs = (long.config.maxSteps * long.config.microBatch) / trainRows;
    expect(epochs).toBeGreaterThan(10);
    expect(long.config.evalEvery).toBeGreaterThan(0);
  });

  it('lesson 4 trains the same data once in full and once with LoRA', () => {
    const trains = cellsOf(LESSONS[3].cells, 'train');
    expect(trains.map((t) => t.config.mode).sort()).toEqual(['full', 'lora']);
    expect(trains[0].config.seed).toBe(trains[1].config.seed);
    expect(trains[0].config.maxSteps).toBe(trains[1].config.maxSteps);
  });
});
