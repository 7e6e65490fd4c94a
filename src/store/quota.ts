// Browser storage quota: checked before a download starts (navigator.storage.estimate), persistence asked
// for (navigator.storage.persist) so the browser does not evict a cached model under pressure, and a
// failed write turned into QuotaExceeded. The error says how much is needed and what could be freed.

import { QuotaExceeded } from '../errors.ts';

export interface StorageLike {
  estimate(): Promise<{ usage?: number; quota?: number }>;
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

/** navigator.storage where it exists (browsers, Node 20 has none). */
export function defaultStorage(): StorageLike | null {
  const nav = (globalThis as { navigator?: { storage?: StorageLike } }).navigator;
  return nav?.storage && typeof nav.storage.estimate === 'function' ? nav.storage : null;
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;

/** What a quota message talks about: the thing to store, and what the user could delete instead. */
export interface QuotaWording {
  /** 'The model', 'The checkpoint' */
  subject: string;
  /** 'cached models', 'checkpoints of other runs' */
  freeable: string;
  /** Said when there is nothing listed to free. */
  otherwise: string;
}

const MODEL_WORDING: QuotaWording = {
  subject: 'The model',
  freeable: 'cached models',
  otherwise: 'Free space in the browser (site data) or pick a smaller model or storage type.',
};

/**
 * Throws QuotaExceeded when `neededBytes` does not fit in what the origin may still use. `freeable`
 * lists stored entries (name and size) the user could delete; the message names the largest.
 */
export async function checkQuota(
  neededBytes: number,
  storage: StorageLike | null = defaultStorage(),
  freeable: { name: string; bytes: number }[] = [],
  wording: QuotaWording = MODEL_WORDING,
): Promise<{ usage: number; quota: number } | null> {
  if (!storage) return null;
  const { usage = 0, quota = Infinity } = await storage.estimate();
  const available = Math.max(0, quota - usage);
  if (neededBytes > available) {
    const biggest = [...freeable].sort((a, b) => b.bytes - a.bytes).slice(0, 3);
    const hint = biggest.length
      ? ` Delete ${wording.freeable} to make room: ${biggest.map((f) => `${f.name} (${mb(f.bytes)})`).join(', ')}.`
      : ` ${wording.otherwise}`;
    throw new QuotaExceeded(
      `${wording.subject} needs ${mb(neededBytes)} of browser storage but only ${mb(available)} is available.${hint}`,
      neededBytes,
      available,
    );
  }
  return { usage, quota };
}

/** Asks the browser to keep this origin's storage (no eviction). True when granted or already so. */
export async function requestPersistence(storage: StorageLike | null = defaultStorage()): Promise<boolean> {
  if (!storage?.persist) return false;
  if (storage.persisted && (await storage.persisted())) return true;
  try {
    return await storage.persist();
  } catch {
    return false;
  }
}

/** A write that failed for lack of space becomes QuotaExceeded; anything else is returned as it was. */
export function toQuotaError(e: unknown, neededBytes: number): unknown {
  const name = (e as { name?: string } | null)?.name;
  if (name === 'QuotaExceededError') {
    return new QuotaExceeded(
      'The browser refused to store more data (quota exceeded): delete cached models or free site data',
      neededBytes,
      0,
    );
  }
  return e;
}
