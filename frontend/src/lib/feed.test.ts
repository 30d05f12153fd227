import { describe, expect, it } from 'vitest';
import { mergeRecent, newIds } from './feed';
import type { Grade } from './types';

const g = (id: number, nota = 70): Grade => ({
  id,
  carnet: 200000000 + id,
  nombre: `Alumno ${id}`,
  curso: 'SO1',
  nota,
  semestre: '2S',
  year: 2023,
  route: id % 2 ? 'grpc' : 'rest',
  created_at: '2026-11-27T09:30:00.123Z',
});

describe('mergeRecent', () => {
  it('puts newest first and bounds the feed', () => {
    const first = mergeRecent([], [g(3), g(2), g(1)], 4);
    expect(first.map((x) => x.id)).toEqual([3, 2, 1]);
    const next = mergeRecent(first, [g(5), g(4)], 4);
    expect(next.map((x) => x.id)).toEqual([5, 4, 3, 2]);
  });
  it('de-duplicates replays (newer copy wins)', () => {
    const merged = mergeRecent([g(2, 50), g(1)], [g(2, 99)], 20);
    expect(merged.map((x) => x.id)).toEqual([2, 1]);
    expect(merged[0].nota).toBe(99);
  });
  it('sorts out-of-order bursts', () => {
    expect(mergeRecent([g(4)], [g(1), g(6), g(5)]).map((x) => x.id)).toEqual([6, 5, 4, 1]);
  });
  it('defaults to 20 entries', () => {
    const many = Array.from({ length: 30 }, (_, i) => g(i + 1));
    const merged = mergeRecent([], many);
    expect(merged).toHaveLength(20);
    expect(merged[0].id).toBe(30);
    expect(merged[19].id).toBe(11);
  });
  it('ignores junk', () => {
    const prev = [g(1)];
    expect(mergeRecent(prev, null)).toBe(prev);
    expect(mergeRecent(prev, [{} as Grade]).map((x) => x.id)).toEqual([1]);
  });
  it('finds new ids', () => {
    expect([...newIds([g(1)], [g(2), g(1)])]).toEqual([2]);
  });
});
