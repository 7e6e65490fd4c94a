// Sharded checkpoints: model.safetensors.index.json = {"metadata": {"total_size": bytes, ...},
// "weight_map": {tensor name: shard file}}. Why parse it apart from the shards: the loader decides which
// shard files to fetch, and in what order, before downloading gigabytes; file names come from a remote repo,
// so anything but a plain relative path is refused.

import { SafetensorsError } from './safetensors-error.ts';

export const INDEX_FILE = 'model.safetensors.index.json';

export interface ShardIndex {
  metadata: Record<string, unknown>;
  /** metadata.total_size when present: the bytes of tensor data over all shards. */
  totalSize: number | null;
  /** Tensor name → shard file. */
  weightMap: Map<string, string>;
  /** The shard files, each once, sorted. */
  files: string[];
}

function safePath(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.includes('\\') || /^[a-zA-Z]:/.test(p)) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Parses the index from its JSON text or the already-parsed object. */
export function parseShardIndex(json: string | unknown, file = INDEX_FILE): ShardIndex {
  let doc: unknown = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json);
    } catch (e) {
      throw new SafetensorsError(`${file} is not valid JSON (${(e as Error).message})`, file, 'index-json');
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SafetensorsError(`${file} is not a JSON object`, file, 'index-json');
  }
  const { metadata = {}, weight_map: map } = doc as Record<string, unknown>;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new SafetensorsError(`${file} has no "weight_map" object`, file, 'index-weight-map');
  }
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !safePath(shard) || !shard.endsWith('.safetensors')) {
      throw new SafetensorsError(
        `${file} maps tensor "${name}" to ${JSON.stringify(shard)}, not a .safetensors file in the repository`,
        file,
        'index-file',
        name,
      );
    }
    weightMap.set(name, shard);
  }
  const meta = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {};
  const total = meta.total_size;
  return {
    metadata: meta,
    totalSize: typeof total === 'number' && Number.isSafeInteger(total) && total >= 0 ? total : null,
    weightMap,
    files: [...new Set(weightMap.values())].sort(),
  };
}

/** The shard file holding a tensor. */
export function shardOf(index: ShardIndex, tensor: string, file = INDEX_FILE): string {
  const shard = index.weightMap.get(tensor);
  if (shard === undefined) {
    throw new SafetensorsError(`${file} does not list tensor "${tensor}"`, file, 'not-found', tensor);
  }
  return shard;
}

/** Tensor names grouped by shard file, in the order of `files`. */
export function tensorsByShard(index: ShardIndex): Map<string, string[]> {
  const out = new Map<string, string[]>(index.files.map((f) => [f, []]));
  for (const [name, shard] of index.weightMap) out.get(shard)!.push(name);
  return out;
}
