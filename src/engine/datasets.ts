// The engine's prepared datasets, by handle: a dataset source (built-in, pasted/inline rows, a URL checked
// against its SHA-256, a file the user picked) is read, cleaned, templated with the chosen model's
// tokenizer, tokenized and split on the engine's side. The UI gets the report (bad rows, cleaning, splits,
// class balance, a per-token preview), the handle, and the source's SHA-256 for share links. A URL source
// is fetched here and checked against the SHA-256 the notebook recorded.

import { prepareDatasetRequest, type DatasetInput } from '../data/engine-api.ts';
import type { PreparedDataset } from '../data/pipeline.ts';
import { DatasetError } from '../errors.ts';
import { sha256Hex } from '../hub/sha256.ts';
import { fetchVerified } from '../share/hash.ts';
import type { DatasetSource } from '../share/notebook.ts';
import type { EngineHost, EngineModel } from './models.ts';
import type { DatasetInfo, LoadDatasetRequest, RunEventSink } from './run-api.ts';

interface BuiltinDatasetEntry {
  id: string;
  file: string;
}

export interface EngineDataset {
  info: DatasetInfo;
  prepared: PreparedDataset;
  modelId: string;
  /** The model's name@revision whose tokenizer made the splits. */
  modelKey: string;
  /** The source's SHA-256 and the preparation options: equal fingerprints give equal splits. */
  fingerprint: string;
}

/** JSON with object keys sorted at every level, so equal options always print the same. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const fileName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

export class DatasetRegistry {
  private readonly datasets = new Map<string, EngineDataset>();
  private next = 1;

  constructor(private readonly host: EngineHost) {}

  get(datasetId: string): EngineDataset {
    const d = this.datasets.get(datasetId);
    if (!d) throw new Error(`no dataset is prepared under the handle ${datasetId}: run the dataset cell first`);
    return d;
  }

  /** The source's bytes as the pipeline reads them. */
  private async input(
    source: DatasetSource,
    req: LoadDatasetRequest,
  ): Promise<{ file: DatasetInput; bytes: Uint8Array }> {
    if (source.kind === 'builtin') {
      const index = JSON.parse(
        await (await this.host.builtinFile('datasets/index.json')).text(),
      ) as BuiltinDatasetEntry[];
      const entry = index.find((e) => e.id === source.id);
      if (!entry) {
        const known = index.map((e) => e.id).join(', ');
        throw new DatasetError(
          `there is no built-in dataset "${source.id}" (built-in: ${known})`,
          source.id,
          0,
          null,
          'a built-in dataset id',
        );
      }
      const blob = await this.host.builtinFile(`datasets/${entry.file}`);
      const bytes = new Uint8Array(await blob.arrayBuffer());
      return { file: { name: fileName(entry.file), text: '', blob: new Blob([bytes]) }, bytes };
    }
    if (source.kind === 'inline') {
      return { file: { name: source.name, text: source.text }, bytes: new TextEncoder().encode(source.text) };
    }
    if (source.kind === 'url') {
      const bytes = await fetchVerified(source.url, source.sha256); // a mismatch is a typed error, never a change
      return { file: { name: source.name, text: '', blob: new Blob([bytes as Uint8Array<ArrayBuffer>]) }, bytes };
    }
    // 'local': the UI read the file the user picked.
    const name = source.name;
    if (req.blob) {
      const bytes = new Uint8Array(await req.blob.arrayBuffer());
      return { file: { name, text: '', blob: new Blob([bytes]) }, bytes };
    }
    if (req.text === undefined) throw new DatasetError(`${name}: no file content was given`, name, 0, null, 'the file');
    return { file: { name, text: req.text }, bytes: new TextEncoder().encode(req.text) };
  }

  /** Prepares a dataset; an aborted `signal` stops it between read and tokenization batches (nothing is registered). */
  async load(
    req: LoadDatasetRequest,
    model: EngineModel,
    onEvent?: RunEventSink,
    signal?: AbortSignal,
  ): Promise<EngineDataset> {
    const { file, bytes } = await this.input(req.source, req);
    signal?.throwIfAborted();
    const progress = (done: number, total: number | null) => {
      if (signal?.aborted) return; // nothing is reported after a cancel
      onEvent?.({ type: 'progress', task: `read ${file.name}`, done, total: total ?? done, unit: 'bytes' });
    };
    const { result, prepared } = await prepareDatasetRequest(
      {
        file,
        tokenizer: { files: model.files, name: model.info.name },
        options: { ...req.options, limitRows: req.limitRows ?? req.options.limitRows },
        previewExamples: req.previewExamples,
      },
      progress,
      signal,
    );
    signal?.throwIfAborted();
    const datasetId = `d${this.next++}`;
    const info: DatasetInfo = { ...result, datasetId, sha256: sha256Hex(bytes) };
    const options = { ...req.options, limitRows: req.limitRows ?? req.options.limitRows ?? 0 };
    const fingerprint = `${info.sha256} ${stableJson(options)}`;
    const modelKey = `${model.info.name}@${model.info.resolvedRevision}`;
    const d: EngineDataset = { info, prepared, modelId: model.info.modelId, modelKey, fingerprint };
    this.datasets.set(datasetId, d);
    return d;
  }
}
