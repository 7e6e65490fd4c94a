// The manifest of a cached model: what the weight cache wrote, piece by piece, with each piece's size and
// SHA-256. It is written after every piece, in its own transaction: a crash or a closed tab mid-download
// leaves pieces without a manifest, which never load (and are swept on the next write of that model).

import type { TensorStorage } from '../hub/convert.ts';

export const MANIFEST_VERSION = 1;

export interface PartRecord {
  bytes: number;
  sha256: string;
}

export interface TensorManifest {
  name: string;
  shape: number[];
  sourceDtype: string;
  storage: TensorStorage;
  /** Bytes of the values (f32/f16) or the packed codes (nf4). */
  dataBytes: number;
  /** Bytes of the NF4 statistics after the data (absmax, or q + absmax2 + code). */
  auxBytes: number;
  nf4: {
    blocksize: number;
    blocks: number;
    /** Present when the absmax is double-quantized. */
    nested: { offset: number; blocksize: number; groups: number; codeLength: number } | null;
  } | null;
  parts: PartRecord[];
}

export interface FileManifest {
  path: string;
  bytes: number;
  parts: PartRecord[];
}

export interface WeightManifest {
  version: number;
  /** `${repo}@${sha}:${storage}` */
  key: string;
  repo: string;
  sha: string;
  revision: string;
  storage: string;
  createdAt: number;
  totalBytes: number;
  files: FileManifest[];
  tensors: TensorManifest[];
}

export const entryKey = (repo: string, sha: string, storage: string): string => `${repo}@${sha}:${storage}`;
