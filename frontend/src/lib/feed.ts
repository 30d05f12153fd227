import type { Grade } from './types';

export const FEED_SIZE = 20;

/**
 * Merges a `recent_grades` burst into the feed: de-duplicated by id (the newer copy wins),
 * newest (highest id) first, at most `max` entries.
 */
export function mergeRecent(existing: Grade[], incoming: Grade[] | null | undefined, max = FEED_SIZE): Grade[] {
  if (!Array.isArray(incoming) || incoming.length === 0) return existing.length > max ? existing.slice(0, max) : existing;
  const byId = new Map<number, Grade>();
  for (const g of existing) byId.set(g.id, g);
  for (const g of incoming) {
    if (g && typeof g.id === 'number' && Number.isFinite(g.id)) byId.set(g.id, g);
  }
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, Math.max(0, max));
}

/** Ids present in `next` but not in `prev` (used to flash new rows). */
export function newIds(prev: Grade[], next: Grade[]): Set<number> {
  const seen = new Set(prev.map((g) => g.id));
  return new Set(next.filter((g) => !seen.has(g.id)).map((g) => g.id));
}
