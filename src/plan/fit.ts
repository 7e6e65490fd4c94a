// Whether a planned run fits: every buffer under the adapter's maxBufferSize and
// maxStorageBufferBindingSize (every tensor is bound as a storage buffer), and the total under a memory
// budget when one is known (WebGPU does not report the device's memory; the caller may pass one). When a
// run does not fit, `assertFits` refuses before anything is allocated, with the nearest configurations
// that would fit: checkpointing on, NF4 storage, a smaller batch or sequence, a smaller rank or fewer
// adapted modules, a smaller vocabulary chunk.

import { OutOfMemory } from '../errors.ts';
import { planMemory, type MemoryPlan, type PlanRequest } from './memory.ts';

export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface Suggestion {
  change: string;
  request: PlanRequest;
  totalBytes: number;
}

export interface FitReport {
  fits: boolean;
  plan: MemoryPlan;
  problems: string[];
  suggestions: Suggestion[];
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

function problemsOf(plan: MemoryPlan, limits: DeviceLimits, budget: number | null): string[] {
  const out: string[] = [];
  const perBuffer = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  if (plan.largestBuffer.bytes > perBuffer) {
    const which =
      limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
    out.push(
      `${plan.largestBuffer.label} needs one ${mib(plan.largestBuffer.bytes)} buffer; this adapter's ${which} is ${mib(perBuffer)}`,
    );
  }
  if (budget !== null && plan.totalBytes > budget) {
    out.push(`the run needs ${mib(plan.totalBytes)} of GPU memory; the budget is ${mib(budget)}`);
  }
  return out;
}

function variants(req: PlanRequest): { change: string; request: PlanRequest }[] {
  const v: { change: string; request: PlanRequest }[] = [];
  if (!req.checkpointing)
    v.push({ change: 'turn gradient checkpointing on', request: { ...req, checkpointing: true } });
  if (req.storage !== 'nf4' && (req.mode ?? 'lora') === 'lora') {
    v.push({ change: 'store the base weights as NF4 (QLoRA)', request: { ...req, storage: 'nf4' } });
    if (req.storage === 'f32') v.push({ change: 'store the base weights as f16', request: { ...req, storage: 'f16' } });
  }
  for (let b = req.batch >> 1; b >= 1; b >>= 1) v.push({ change: `batch ${b}`, request: { ...req, batch: b } });
  for (let s = req.seq >> 1; s >= 128; s >>= 1) v.push({ change: `sequence length ${s}`, request: { ...req, seq: s } });
  if (req.lora && req.lora.r > 4)
    v.push({ change: `LoRA rank ${req.lora.r >> 1}`, request: { ...req, lora: { ...req.lora, r: req.lora.r >> 1 } } });
  const chunk = req.vocabChunk ?? 8192;
  if (chunk > 1024) v.push({ change: `vocabulary chunk ${chunk >> 1}`, request: { ...req, vocabChunk: chunk >> 1 } });
  // Combinations of the strongest levers, for runs far over the limits.
  const strong: PlanRequest = {
    ...req,
    checkpointing: true,
    storage: (req.mode ?? 'lora') === 'lora' ? 'nf4' : req.storage,
  };
  for (let b = req.batch; b >= 1; b >>= 1) {
    if (b !== req.batch || strong.checkpointing !== req.checkpointing || strong.storage !== req.storage) {
      v.push({ change: `checkpointing, ${strong.storage} weights, batch ${b}`, request: { ...strong, batch: b } });
    }
  }
  return v;
}

export function checkFit(req: PlanRequest, limits: DeviceLimits, budgetBytes: number | null = null): FitReport {
  const plan = planMemory(req);
  const problems = problemsOf(plan, limits, budgetBytes);
  const suggestions: Suggestion[] = [];
  if (problems.length > 0) {
    for (const { change, request } of variants(req)) {
      const p = planMemory(request);
      if (problemsOf(p, limits, budgetBytes).length === 0)
        suggestions.push({ change, request, totalBytes: p.totalBytes });
      if (suggestions.length >= 3) break;
    }
  }
  return { fits: problems.length === 0, plan, problems, suggestions };
}

/** Refuses a run that does not fit, before any allocation: OutOfMemory naming what would fit instead. */
export function assertFits(req: PlanRequest, limits: DeviceLimits, budgetBytes: number | null = null): MemoryPlan {
  const r = checkFit(req, limits, budgetBytes);
  if (r.fits) return r.plan;
  const hint = r.suggestions.length
    ? ` What would fit: ${r.suggestions.map((s) => `${s.change} (${mib(s.totalBytes)})`).join('; ')}.`
    : ' No nearby configuration fits; pick a smaller model.';
  throw new OutOfMemory(`This run does not fit: ${r.problems.join('; ')}.${hint}`, r.plan.totalBytes, 0);
}
