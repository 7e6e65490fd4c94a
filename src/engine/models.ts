// The engine's loaded models, by handle: a model source (built-in, Hub id + revision, files the user
// picked) becomes config + spec + tokenizer files + stored tensors, kept on the engine's side. The UI gets
// a ModelInfo (architecture, parameters, the planner's fit estimate) and the handle. Built-in files come
// through the host (the worker fetches them from the app's origin; Node reads them from disk), so this
// module never touches the network or the file system itself.

import { HubError } from '../errors.ts';
import type { CapabilityReport } from '../gpu/capabilities.ts';
import { loadFromFiles, loadFromHub, type LoadEvent, type LoadedModel } from '../hub/loader.ts';
import { engineWeights } from '../hub/weights.ts';
import type { ModelSpec } from '../model/config.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { checkFit } from '../plan/fit.ts';
import type { ModelSource } from '../share/notebook.ts';
import type { WeightCache } from '../store/weight-cache.ts';
import type { LoadModelRequest, ModelInfo, RunEventSink } from './run-api.ts';

/** The files of a built-in model folder (public/models/<id>/). */
export const BUILTIN_MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'model.safetensors',
] as const;

/** What the host provides: built-in files by path under its public folder, and the weight cache if any. */
export interface EngineHost {
  /** e.g. 'models/lorabook-tiny/config.json' or 'datasets/spam-ham/spam-ham.jsonl'. */
  builtinFile(path: string): Promise<Blob>;
  weightCache?: () => Promise<WeightCache | null>;
}

export interface EngineModel {
  info: ModelInfo;
  source: ModelSource;
  loaded: LoadedModel;
  spec: ModelSpec;
  /** Weights by Hub name as f32 (materialized per tensor when read). */
  weights: Record<string, Float32Array>;
  /** Tokenizer and config files by path, for the tokenizer and exports. */
  files: Record<string, Uint8Array>;
}

const countParams = (loaded: LoadedModel) => {
  let n = 0;
  for (const t of loaded.tensors.values()) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
};

function nameOf(source: ModelSource): string {
  if (source.kind === 'builtin') return source.id;
  if (source.kind === 'hub') return source.repo;
  return source.name;
}

export class ModelRegistry {
  private readonly models = new Map<string, EngineModel>();
  private next = 1;

  constructor(private readonly host: EngineHost) {}

  get(modelId: string): EngineModel {
    const m = this.models.get(modelId);
    if (!m) throw new Error(`no model is loaded under the handle ${modelId}: run the model cell first`);
    return m;
  }

  /** Loads a model; an aborted `signal` stops it between files, chunks and tensors (nothing is registered). */
  async load(
    req: LoadModelRequest,
    caps: CapabilityReport,
    onEvent?: RunEventSink,
    signal?: AbortSignal,
  ): Promise<EngineModel> {
    const src = req.source;
    const emit = (e: LoadEvent) => {
      if (signal?.aborted) return; // nothing is reported after a cancel
      if (e.type === 'download') {
        onEvent?.({
          type: 'progress',
          task: `download ${e.file}`,
          done: e.received,
          total: e.total ?? e.received,
          unit: 'bytes',
        });
      } else if (e.type === 'tensor') {
        onEvent?.({ type: 'progress', task: `convert ${e.name}`, done: e.done, total: e.total, unit: 'tensors' });
      }
    };
    const storage = req.storage ?? 'f32';
    let loaded: LoadedModel;
    if (src.kind === 'builtin') {
      const picked = await Promise.all(
        BUILTIN_MODEL_FILES.map(async (f) => ({ path: f, blob: await this.host.builtinFile(`models/${src.id}/${f}`) })),
      );
      signal?.throwIfAborted();
      loaded = await loadFromFiles(src.id, picked, {
        storage,
        storageManager: null,
        cache: null,
        onEvent: emit,
        signal,
      });
    } else if (src.kind === 'hub') {
      const cache = (await this.host.weightCache?.()) ?? null;
      loaded = await loadFromHub(src.repo, { revision: src.revision, storage, cache, onEvent: emit, signal });
    } else {
      const files = req.files ?? {};
      const picked = Object.entries(files).map(([path, blob]) => ({ path, blob }));
      if (picked.length === 0) {
        throw new HubError(`${src.name}: no files were picked`, 'not-found', `${src.name}/config.json`, 404);
      }
      loaded = await loadFromFiles(src.name, picked, {
        storage,
        storageManager: null,
        cache: null,
        onEvent: emit,
        signal,
      });
    }
    signal?.throwIfAborted();
    const spec = loaded.spec;
    const modelId = `m${this.next++}`;
    const fit = checkFit(
      {
        spec,
        storage,
        mode: 'lora',
        lora: DEFAULT_LORA,
        batch: 8,
        seq: Math.min(128, spec.maxPositionEmbeddings),
        checkpointing: false,
      },
      caps.limits,
    );
    const info: ModelInfo = {
      modelId,
      name: nameOf(src),
      architecture: String(
        (loaded.config.architectures as string[] | undefined)?.[0] ?? loaded.config.model_type ?? 'unknown',
      ),
      resolvedRevision: loaded.sha,
      parameters: countParams(loaded),
      layers: spec.numLayers,
      hiddenSize: spec.hiddenSize,
      vocabSize: spec.vocabSize,
      maxPositions: spec.maxPositionEmbeddings,
      fit,
    };
    const files = Object.fromEntries([...loaded.files].filter(([p]) => !p.endsWith('.safetensors')));
    const model: EngineModel = { info, source: src, loaded, spec, weights: engineWeights(loaded.tensors), files };
    this.models.set(modelId, model);
    return model;
  }

  delete(modelId: string): void {
    this.models.delete(modelId);
  }
}
