import { describe, expect, it } from 'vitest';
import { benchmarkDate, shortMachine, toBenchmarkRows } from './benchmark';
import { palette } from './palette';
import type { CompareSummary } from './types';

const half = (p50: number, p99: number, cpu: number) => ({
  offered_per_sec: 1,
  served_per_sec: 1,
  p50_ms: p50,
  p99_ms: p99,
  cpu_seconds_per_1000: cpu,
  processes: {},
});

const summary: CompareSummary = {
  measured_at: '2026-11-28T00:10:42Z',
  machine: '2 cores (AMD EPYC), Linux 6.18, MySQL/MariaDB 10.11',
  command: 'just compare (COMPARE_SECONDS=3)',
  slo_p99_ms: 20,
  students: 500,
  step_seconds: 3,
  routes: [
    { route: 'rest', max_sustainable_per_sec: 12000, half_load: half(2.2, 9.7, 0.215) },
    { route: 'grpc', max_sustainable_per_sec: 6000, half_load: half(2.5, 9.8, 0.428) },
  ],
};

describe('toBenchmarkRows', () => {
  it('orders gRPC first and gives each route its ratio to the first route measured', () => {
    const rows = toBenchmarkRows(summary);
    expect(rows.map((r) => r.route)).toEqual(['grpc', 'rest']);
    expect(rows[0]).toMatchObject({ label: 'gRPC', maxSustainable: 6000, ratio: 0.5, p50: 2.5, p99: 9.8, cpuPer1000: 0.428 });
    expect(rows[1]).toMatchObject({ label: 'REST', maxSustainable: 12000, ratio: 1 });
  });

  it('keeps a route that never held, without figures', () => {
    const rows = toBenchmarkRows({ ...summary, routes: [{ route: 'rest', max_sustainable_per_sec: null, half_load: null }] });
    expect(rows).toEqual([
      { route: 'rest', label: 'REST', color: palette.rest, maxSustainable: null, ratio: null, p50: null, p99: null, cpuPer1000: null },
    ]);
  });

  it('is empty for a missing or malformed summary', () => {
    expect(toBenchmarkRows(null)).toEqual([]);
    expect(toBenchmarkRows({ ...summary, routes: 'x' as never })).toEqual([]);
  });
});

describe('benchmarkDate and shortMachine', () => {
  it('formats the measurement time in UTC', () => {
    expect(benchmarkDate('2026-11-28T00:10:42Z')).toBe('2026-11-28 00:10 UTC');
    expect(benchmarkDate('not a date')).toBe('unknown date');
    expect(benchmarkDate(undefined)).toBe('unknown date');
  });

  it('keeps the first part of the machine description', () => {
    expect(shortMachine(summary.machine)).toBe('2 cores (AMD EPYC)');
    expect(shortMachine('')).toBe('unknown machine');
  });
});
