// Loader events as the engine API's progress events, so the notebook shows a download or a quantization
// the same way whether the model loads in the tab, the worker or the companion.

import type { EngineEvent } from '../engine/protocol.ts';
import type { LoadEvent } from './loader.ts';

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;

export function toEngineEvent(e: LoadEvent): EngineEvent {
  switch (e.type) {
    case 'download': {
      const rate = e.bytesPerSecond > 0 ? `, ${mb(e.bytesPerSecond)}/s` : '';
      const eta = e.etaSeconds !== null ? `, ${Math.ceil(e.etaSeconds)} s left` : '';
      return {
        type: 'progress',
        task: `download ${e.file}${rate}${eta}`,
        done: e.received,
        total: e.total ?? 0,
        unit: 'bytes',
      };
    }
    case 'tensor':
      return {
        type: 'progress',
        task: `convert to ${e.storage}: ${e.name}`,
        done: e.done,
        total: e.total,
        unit: 'tensors',
      };
    case 'resolved':
      return {
        type: 'log',
        level: 'info',
        message: `${e.repo}@${e.revision} is commit ${e.sha.slice(0, 12)}${e.offline ? ' (offline: from the cache)' : ''}`,
      };
    case 'cache':
      return {
        type: 'log',
        level: e.status === 'corrupt' ? 'warn' : 'info',
        message:
          e.status === 'corrupt'
            ? `cached copy is damaged (${e.detail}); downloading again`
            : `cache ${e.status}: ${e.detail}`,
      };
  }
}
