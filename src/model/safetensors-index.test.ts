// Sharded checkpoints: the index maps tensors to shard files, and each tensor is then read from its shard.

import { describe, expect, it } from 'vitest';
import {
  parseShardIndex,
  SafetensorsError,
  SafetensorsReader,
  shardOf,
  tensorsByShard,
  writeSafetensors,
} from './safetensors.ts';

const A = 'model-00001-of-00002.safetensors';
const B = 'model-00002-of-00002.safetensors';

// The shape of a real two-shard Llama index (TinyLlama-sized names, tiny tensors here).
const indexText = JSON.stringify({
  metadata: { total_size: 44 },
  weight_map: {
    'lm_head.weight': B,
    'model.embed_tokens.weight': A,
    'model.layers.0.input_layernorm.weight': A,
    'model.layers.0.self_attn.q_proj.weight': A,
    'model.norm.weight': B,
  },
});

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return (e as SafetensorsError).reason;
  }
  throw new Error('expected SafetensorsError');
}

describe('sharded index', () => {
  it('says which file holds each tensor', () => {
    const index = parseShardIndex(indexText);
    expect(index.totalSize).toBe(44);
    expect(index.files).toEqual([A, B]);
    expect(shardOf(index, 'model.norm.weight')).toBe(B);
    expect(shardOf(index, 'model.layers.0.self_attn.q_proj.weight')).toBe(A);
    expect(tensorsByShard(index)).toEqual(
      new Map([
        [
          A,
          [
            'model.embed_tokens.weight',
            'model.layers.0.input_layernorm.weight',
            'model.layers.0.self_attn.q_proj.weight',
          ],
        ],
        [B, ['lm_head.weight', 'model.norm.weight']],
      ]),
    );
    expect(reason(() => shardOf(index, 'model.layers.1.mlp.up_proj.weight'))).toBe('not-found');
  });

  it('reads every tensor through its shard', () => {
    const w = (name: string, n: number) => ({ name, dtype: 'BF16' as const, shape: [n], data: new Array(n).fill(n) });
    const shards = new Map([
      [
        A,
        writeSafetensors([
          w('model.embed_tokens.weight', 8),
          w('model.layers.0.input_layernorm.weight', 2),
          w('model.layers.0.self_attn.q_proj.weight', 4),
        ]),
      ],
      [B, writeSafetensors([w('lm_head.weight', 6), w('model.norm.weight', 2)])],
    ]);
    const index = parseShardIndex(JSON.parse(indexText));
    const readers = new Map([...shards].map(([f, bytes]) => [f, new SafetensorsReader(bytes, f)]));
    let total = 0;
    for (const [name, file] of index.weightMap) {
      const t = readers.get(file)!.tensorF32(name);
      expect(t.every((v) => v === t.length)).toBe(true);
      total += t.length * 2;
    }
    expect(total).toBe(index.totalSize);
  });

  it('refuses malformed indexes', () => {
    expect(reason(() => parseShardIndex('{"weight_map": '))).toBe('index-json');
    expect(reason(() => parseShardIndex([]))).toBe('index-json');
    expect(reason(() => parseShardIndex({ metadata: {} }))).toBe('index-weight-map');
    expect(reason(() => parseShardIndex({ weight_map: { x: 3 } }))).toBe('index-file');
    expect(reason(() => parseShardIndex({ weight_map: { x: '../../etc/model.safetensors' } }))).toBe('index-file');
    expect(reason(() => parseShardIndex({ weight_map: { x: '/abs/model.safetensors' } }))).toBe('index-file');
    expect(reason(() => parseShardIndex({ weight_map: { x: 'pytorch_model.bin' } }))).toBe('index-file');
    expect(parseShardIndex({ weight_map: { x: 'sub/model.safetensors' } }).totalSize).toBeNull();
  });
});
