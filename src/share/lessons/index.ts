// The built-in lessons: four notebooks of teaching material that run end to end on the built-in model
// (public/models/lorabook-tiny) on a CPU WebGPU in a few minutes each. Ids are stable: links and saved
// notebooks refer to them.

import type { Notebook } from '../notebook.ts';
import { LESSON_FULL_VS_LORA } from './full-vs-lora.ts';
import { LESSON_LORA_IN_FIVE_MINUTES } from './lora-in-five-minutes.ts';
import { LESSON_OVERFITTING } from './overfitting.ts';
import { LESSON_RANK_AND_ALPHA } from './rank-and-alpha.ts';

export const LESSONS: Notebook[] = [
  LESSON_LORA_IN_FIVE_MINUTES,
  LESSON_RANK_AND_ALPHA,
  LESSON_OVERFITTING,
  LESSON_FULL_VS_LORA,
];

export function lessonById(id: string): Notebook | undefined {
  return LESSONS.find((l) => l.id === id);
}
