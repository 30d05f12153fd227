import { palette } from './palette';
import type { PassFail } from './types';

export const PASS_MARK = 61;
export const PASSED_COLOR = palette.pass;
export const FAILED_COLOR = palette.fail;

export interface PieSlice {
  key: 'passed' | 'failed';
  name: string;
  value: number;
  color: string;
}

export interface PassFailPie {
  passed: number;
  failed: number;
  total: number;
  /** passed / total, or null when there is nothing to divide. */
  passRate: number | null;
  /** Only the non-zero slices, so the pie never draws an empty wedge. */
  slices: PieSlice[];
  empty: boolean;
}

function count(n: unknown): number {
  const v = typeof n === 'string' ? Number(n) : n;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

export function toPassFailPie(pf: Pick<PassFail, 'passed' | 'failed'> | null | undefined): PassFailPie {
  const passed = count(pf?.passed);
  const failed = count(pf?.failed);
  const total = passed + failed;
  const all: PieSlice[] = [
    { key: 'passed', name: 'Passed', value: passed, color: PASSED_COLOR },
    { key: 'failed', name: 'Failed', value: failed, color: FAILED_COLOR },
  ];
  return {
    passed,
    failed,
    total,
    passRate: total > 0 ? passed / total : null,
    slices: all.filter((s) => s.value > 0),
    empty: total === 0,
  };
}

export function isPassing(nota: number): boolean {
  return nota >= PASS_MARK;
}
