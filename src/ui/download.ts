// Handing exported files to the person: one file as itself, several as a zip (fflate, in memory), through
// a temporary object URL and a clicked link. The metrics CSV/JSON and PEFT adapters are small; merged
// models and ONNX exports are as large as the model and are zipped without compression.

import { zipSync } from 'fflate';
import type { ExportFile } from '../engine/protocol.ts';

/** The files as one zip, each under `folder/` (stored, not deflated: safetensors do not compress). */
export function zipFiles(files: readonly ExportFile[], folder: string): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const f of files) entries[`${folder}/${f.path}`] = [f.bytes, { level: 0 }];
  return zipSync(entries);
}

/** The last path segment (downloads cannot name folders). */
export function baseName(path: string): string {
  return path.split('/').pop() || path;
}

export function saveBytes(name: string, bytes: Uint8Array, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
