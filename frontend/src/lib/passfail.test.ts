import { describe, expect, it } from 'vitest';
import { FAILED_COLOR, PASSED_COLOR, isPassing, toPassFailPie } from './passfail';

describe('toPassFailPie', () => {
  it('builds both slices and the pass rate', () => {
    const pie = toPassFailPie({ passed: 3, failed: 2 });
    expect(pie.total).toBe(5);
    expect(pie.passRate).toBeCloseTo(0.6);
    expect(pie.empty).toBe(false);
    expect(pie.slices).toEqual([
      { key: 'passed', name: 'Passed', value: 3, color: PASSED_COLOR },
      { key: 'failed', name: 'Failed', value: 2, color: FAILED_COLOR },
    ]);
  });
  it('drops zero slices', () => {
    const pie = toPassFailPie({ passed: 4, failed: 0 });
    expect(pie.slices.map((s) => s.key)).toEqual(['passed']);
    expect(pie.passRate).toBe(1);
  });
  it('is empty with no grades', () => {
    const pie = toPassFailPie({ passed: 0, failed: 0 });
    expect(pie.empty).toBe(true);
    expect(pie.passRate).toBeNull();
    expect(pie.slices).toEqual([]);
  });
  it('tolerates missing data, strings and junk', () => {
    expect(toPassFailPie(null).empty).toBe(true);
    expect(toPassFailPie({ passed: '7' as unknown as number, failed: -1 }).total).toBe(7);
  });
  it('pass mark is 61', () => {
    expect(isPassing(61)).toBe(true);
    expect(isPassing(60)).toBe(false);
  });
});
