// The train form's modules_to_save control in real Chromium: ticking "Also train the final norm" puts
// 'model.norm' in the cell's LoRA config, the text field adds other norm layers, and clearing both removes the
// key (a config from before the control existed stays byte for byte what it was, and still passes the
// share-link schema). A lesson's hidden config or hidden LoRA controls hide it too.

import { flushSync, mount, unmount } from 'svelte';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoraConfig } from '../../model/lora.ts';
import { TrainConfigSchema } from '../../share/schema.ts';
import type { Cell, LessonView } from '../../share/notebook.ts';
import { TrainRun } from '../state/cell-runs.svelte.ts';
import { newCell } from '../state/defaults.ts';
import { NotebookDoc } from '../state/notebook-doc.svelte.ts';
import TrainCell from './TrainCell.svelte';
import '../app.css';

type TrainCellData = Extract<Cell, { type: 'train' }>;

const mounted: ReturnType<typeof mount>[] = [];
afterEach(() => {
  for (const m of mounted.splice(0)) void unmount(m);
  document.body.replaceChildren();
});

function open(lessonFor?: (cellId: string) => LessonView): { doc: NotebookDoc; root: HTMLElement } {
  const cell = newCell('train');
  const lesson = lessonFor?.(cell.id);
  const doc = new NotebookDoc({
    version: 1,
    id: 'nb-test',
    title: 'train form',
    cells: [cell],
    createdAt: 0,
    updatedAt: 0,
    ...(lesson ? { lesson } : {}),
  });
  const root = document.createElement('div');
  document.body.append(root);
  const c = doc.cells[0] as TrainCellData;
  mounted.push(
    mount(TrainCell, {
      target: root,
      props: {
        cell: c,
        run: new TrainRun(),
        model: { builtin: true, parameters: 870_000, maxPositions: 128 },
        readOnly: doc.readOnly,
        hideConfig: doc.hidesConfig(c.id),
        hides: (name: string) => doc.hidesControl(name),
        onpause: () => {},
        onresume: () => {},
        onstop: () => {},
        onresumestored: () => {},
      },
    }),
  );
  flushSync();
  return { doc, root };
}

/** The cell's LoRA config as it would be saved or shared. */
const saved = (doc: NotebookDoc): LoraConfig => {
  const cell = doc.toNotebook().cells[0] as TrainCellData;
  return cell.config.lora!;
};

function change(input: HTMLInputElement, update: () => void): void {
  update();
  input.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
}

describe('the train form: modules_to_save', () => {
  it('a new train cell carries no modulesToSave, and the checkbox starts off', () => {
    const { doc, root } = open();
    expect('modulesToSave' in saved(doc)).toBe(false);
    const box = root.querySelector<HTMLInputElement>('[data-testid="save-final-norm"]')!;
    expect(box).not.toBeNull();
    expect(box.checked).toBe(false);
    expect(root.querySelector('[data-testid="modules-to-save"]')!.textContent).toContain('final norm');
  });

  it('the checkbox sets and clears modulesToSave: ["model.norm"], leaving the config as it was', () => {
    const { doc, root } = open();
    const before = JSON.stringify(saved(doc));
    const box = root.querySelector<HTMLInputElement>('[data-testid="save-final-norm"]')!;

    change(box, () => (box.checked = true));
    expect(saved(doc).modulesToSave).toEqual(['model.norm']);
    expect(() => v.parse(TrainConfigSchema, (doc.toNotebook().cells[0] as TrainCellData).config)).not.toThrow();

    change(box, () => (box.checked = false));
    expect('modulesToSave' in saved(doc)).toBe(false);
    expect(JSON.stringify(saved(doc))).toBe(before);
  });

  it('the text field adds other norm layers beside the final norm and clears to no key', () => {
    const { doc, root } = open();
    const box = root.querySelector<HTMLInputElement>('[data-testid="save-final-norm"]')!;
    const text = root.querySelector<HTMLInputElement>('[data-testid="other-saved-modules"]')!;

    change(text, () => (text.value = 'input_layernorm,  post_attention_layernorm input_layernorm'));
    expect(saved(doc).modulesToSave).toEqual(['input_layernorm', 'post_attention_layernorm']);
    expect(box.checked).toBe(false);

    change(box, () => (box.checked = true));
    expect(saved(doc).modulesToSave).toEqual(['model.norm', 'input_layernorm', 'post_attention_layernorm']);
    expect(text.value).toBe('input_layernorm, post_attention_layernorm');

    change(text, () => (text.value = ''));
    expect(saved(doc).modulesToSave).toEqual(['model.norm']);
    change(box, () => (box.checked = false));
    expect('modulesToSave' in saved(doc)).toBe(false);
  });

  it('typing "model.norm" in the text field ticks the checkbox', () => {
    const { doc, root } = open();
    const text = root.querySelector<HTMLInputElement>('[data-testid="other-saved-modules"]')!;
    change(text, () => (text.value = 'model.norm'));
    expect(saved(doc).modulesToSave).toEqual(['model.norm']);
    expect(root.querySelector<HTMLInputElement>('[data-testid="save-final-norm"]')!.checked).toBe(true);
    expect(text.value).toBe('');
  });

  it('a lesson that hides the LoRA controls, or this one, hides it; the rest of the form shows', () => {
    for (const hidden of ['train.lora', 'train.modulesToSave']) {
      const { root } = open(() => ({ readOnly: true, hideConfig: [], hideControls: [hidden] }));
      expect(root.querySelector('[data-testid="modules-to-save"]')).toBeNull();
      expect(root.querySelector('[data-testid="lr"]')).not.toBeNull();
    }
    const { root } = open(() => ({ readOnly: true, hideConfig: [], hideControls: ['train.lr'] }));
    expect(root.querySelector('[data-testid="modules-to-save"]')).not.toBeNull();
  });

  it("a lesson that hides the cell's configuration hides it with the whole form", () => {
    const { root } = open((id) => ({ readOnly: true, hideConfig: [id], hideControls: [] }));
    expect(root.querySelector('[data-testid="modules-to-save"]')).toBeNull();
    expect(root.querySelector('[data-testid="lr"]')).toBeNull();
  });
});
