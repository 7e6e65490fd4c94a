// The built-in datasets in public/datasets/ read through the real pipeline: shapes, counts, the class
// balance the README states, no mail headers left, sizes that suit the repository and the browser.

import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanExamples } from './clean.ts';
import { readDataset } from './read.ts';
import { toExamples } from './shapes.ts';
import { splitExamples, labelCounts } from './split.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'public', 'datasets');
const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
  id: string;
  file: string;
  shape: string;
  rows: number;
  bytes: number;
}[];

async function load(file: string) {
  const path = join(dir, file);
  const read = await readDataset(new Blob([readFileSync(path)]), { file });
  return { read, shaped: toExamples(read.records, { file }), bytes: statSync(path).size };
}

describe('built-in datasets', () => {
  it('index.json lists each dataset with its shape, rows and size; each has a README with source and licence', async () => {
    expect(index.map((d) => d.id)).toEqual(['spam-ham', 'sotu']);
    for (const d of index) {
      const { read, shaped, bytes } = await load(d.file);
      expect(read.badRowCount).toBe(0);
      expect(shaped.shape).toBe(d.shape);
      expect(shaped.examples).toHaveLength(d.rows);
      expect(bytes).toBe(d.bytes);
      expect(bytes).toBeLessThan(4_000_000);
      const readme = readFileSync(join(dir, d.id, 'README.md'), 'utf8');
      expect(readme).toMatch(/## Source and licence/);
      expect(readme).toMatch(/PDDL-1\.0/);
      expect(readme).toContain(`${d.rows}`);
    }
  });

  it('spam-ham: Subject + body only, clean already, about 70% ham as its README says', async () => {
    const { shaped } = await load('spam-ham/spam-ham.jsonl');
    const rows = shaped.examples.flatMap((e) => (e.kind === 'classification' ? [e] : []));
    expect(rows.every((e) => e.text.startsWith('Subject:'))).toBe(true);
    const headerLines = rows.filter((e) =>
      /^(Received|Return-Path|Message-Id|X-Mailer|Delivered-To|Content-Type): /im.test(e.text),
    );
    expect(headerLines.length).toBeLessThan(25); // some messages quote or forward headers in their body
    const ham = rows.filter((e) => e.label === 'ham').length;
    expect(ham / rows.length).toBeGreaterThan(0.68);
    expect(ham / rows.length).toBeLessThan(0.72);
    const readme = readFileSync(join(dir, 'spam-ham', 'README.md'), 'utf8');
    expect(readme).toContain(`| ham   | ${ham} |`);
    expect(readme).toContain(`${((100 * ham) / rows.length).toFixed(1)}%`);
    // the build script cleaned it: cleaning again finds nothing to drop
    const { report } = cleanExamples(shaped.examples);
    expect([report.exactDuplicates.count, report.normalizedDuplicates.count, report.empty.count]).toEqual([0, 0, 0]);
    // and a stratified split keeps the balance in the test split
    const c = labelCounts(splitExamples(shaped.examples, { seed: 0 })).test;
    expect(c.ham / (c.ham + c.spam)).toBeCloseTo(ham / rows.length, 2);
  });

  it('sotu: text passages of at most 1200 characters from 43 presidents', async () => {
    const { read, shaped } = await load('sotu/sotu.jsonl');
    expect(shaped.examples.every((e) => e.kind === 'text' && e.text.length <= 1200 && e.text.length > 0)).toBe(true);
    expect(new Set(read.records.map((r) => r.fields.president)).size).toBe(43);
  });
});
