// What a finished run produces for the notebook: the same prompts through the base model and the tuned
// one side by side (tokens streamed as text), and the exports (the merged model as safetensors or ONNX, the
// run's metrics as JSON or CSV). Both start from the plain TunedModel, never from a live training model.

import type { TextTokenizer } from '../data/tokenizer.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { EvalMetrics, StepMetrics } from '../train/run-types.ts';
import { runExport, runGenerate, type ExportFile, type ModelGiven } from './generate-export.ts';
import type { EngineModel } from './models.ts';
import type { EngineEvent } from './protocol.ts';
import type { CompareOutput, CompareRequest, RunEventSink } from './run-api.ts';
import { withTunedWeights, type TunedModel } from './tuned.ts';

function given(model: EngineModel, tuned: TunedModel | null): ModelGiven {
  const gen = model.files['generation_config.json'];
  return {
    config: model.loaded.config,
    generationConfig: gen ? (JSON.parse(new TextDecoder().decode(gen)) as Record<string, unknown>) : undefined,
    weights: tuned ? withTunedWeights(model.weights, tuned) : model.weights,
    lora: tuned?.lora ?? undefined,
  };
}

/** Each prompt through the base model, then through the tuned one; text streams as 'compare-token' events. */
export async function compareBaseTuned(
  gpu: Gpu,
  model: EngineModel,
  tok: TextTokenizer,
  tuned: TunedModel,
  req: CompareRequest,
  onEvent?: RunEventSink,
  signal?: AbortSignal,
): Promise<CompareOutput[]> {
  const out: CompareOutput[] = [];
  for (let i = 0; i < req.prompts.length; i++) {
    const prompt = [...tok.prefixIds, ...tok.encode(req.prompts[i])];
    const texts = { base: '', tuned: '' };
    for (const which of ['base', 'tuned'] as const) {
      signal?.throwIfAborted();
      const ids: number[] = [];
      const r = await runGenerate(
        gpu,
        {
          ...given(model, which === 'tuned' ? tuned : null),
          prompt,
          options: req.options,
          maxLength: model.spec.maxPositionEmbeddings,
        },
        (e) => {
          if (e.type !== 'token') return;
          ids.push(e.token);
          onEvent?.({ type: 'compare-token', runId: req.runId, prompt: i, which, text: tok.decode(ids) });
        },
        signal,
      );
      texts[which] = tok.decode(r.tokens);
    }
    out.push({ prompt: req.prompts[i], ...texts });
  }
  return out;
}

/** The merged model (adapter folded into the base weights) as a Hub-layout folder. */
export function exportMerged(
  gpu: Gpu,
  model: EngineModel,
  tuned: TunedModel,
  format: 'safetensors' | 'onnx',
  onEvent?: RunEventSink,
  signal?: AbortSignal,
): Promise<ExportFile[]> {
  const tokenizerFiles = Object.fromEntries(Object.entries(model.files).filter(([p]) => p.startsWith('tokenizer')));
  const request = { ...given(model, tuned), format, tokenizerFiles };
  const progress = (e: EngineEvent) => {
    if (e.type === 'progress') onEvent?.(e);
  };
  return runExport(gpu, request, progress, signal);
}

const csvCell = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/** The run's recorded metrics: every step and every evaluation. */
export function exportMetrics(
  runId: string,
  history: { steps: StepMetrics[]; evals: EvalMetrics[] },
  format: 'json' | 'csv',
): ExportFile[] {
  const enc = new TextEncoder();
  if (format === 'json') {
    return [{ path: `${runId}-metrics.json`, bytes: enc.encode(JSON.stringify({ runId, ...history }, null, 2)) }];
  }
  const stepCols = ['step', 'epoch', 'loss', 'lr', 'gradNorm', 'tokens', 'tokensPerSec', 'elapsedMs'] as const;
  const evalCols = ['split', 'step', 'examples', 'tokens', 'loss', 'perplexity', 'accuracy', 'macroF1'] as const;
  const steps = [stepCols.join(','), ...history.steps.map((s) => stepCols.map((c) => csvCell(s[c])).join(','))];
  const evals = [evalCols.join(','), ...history.evals.map((e) => evalCols.map((c) => csvCell(e[c])).join(','))];
  return [
    { path: `${runId}-steps.csv`, bytes: enc.encode(steps.join('\n') + '\n') },
    { path: `${runId}-evals.csv`, bytes: enc.encode(evals.join('\n') + '\n') },
  ];
}
