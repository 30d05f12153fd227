import { describe, expect, it } from 'vitest';
import { formatAverage, formatAxisRate, formatClock, formatCompact, formatMs, formatNumber, formatPercent, formatRate, formatRelative } from './format';

describe('formatNumber', () => {
  it('groups thousands', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1234)).toBe('1,234');
    expect(formatNumber(1234567)).toBe('1,234,567');
  });
  it('shows a dash for missing values', () => {
    expect(formatNumber(null)).toBe('—');
    expect(formatNumber(undefined)).toBe('—');
    expect(formatNumber(Number.NaN)).toBe('—');
  });
  it('compacts for axes', () => {
    expect(formatCompact(15300)).toBe('15.3K');
    expect(formatCompact(12)).toBe('12');
  });
});

describe('formatPercent', () => {
  it.each([
    [0.625, 1, '62.5%'],
    [1, 1, '100%'],
    [0, 1, '0%'],
    [0.5, 1, '50%'],
    [1 / 3, 1, '33.3%'],
    [2 / 3, 0, '67%'],
    [0.99996, 1, '100%'],
  ])('formats the ratio %f with %i decimals as %s', (ratio, digits, text) => {
    expect(formatPercent(ratio, digits)).toBe(text);
  });
  it('dash when unknown', () => {
    expect(formatPercent(null)).toBe('—');
  });
});

describe('one-number formatters', () => {
  // Each formatter's cases, [value, text]: latency precision, throughput, averages, axis rates.
  type Format = (value: number | null | undefined) => string;
  const cases: [string, Format, [number | null | undefined, string][]][] = [
    ['formatMs', formatMs, [[0.42, '0.42 ms'], [3.14159, '3.14 ms'], [12, '12.0 ms'], [123.4, '123 ms'], [1500, '1.50 s'], [12000, '12.0 s'], [null, '—']]],
    ['formatRate', formatRate, [[0, '0/s'], [9.66, '9.66/s'], [0.5, '0.5/s'], [42.25, '42.3/s'], [1234.4, '1,234/s']]],
    ['formatAverage', formatAverage, [[97.5, '97.50'], [undefined, '—']]],
    ['formatAxisRate', formatAxisRate, [[0, '0'], [0.045, '0.045'], [0.015, '0.015'], [2.5, '2.5'], [12, '12'], [15300, '15.3K'], [null, '']]],
  ];
  it.each(cases.flatMap(([name, format, pairs]) => pairs.map(([value, text]) => [name, format, value, text] as const)))(
    '%s(%s) is %s',
    (_, format, value, text) => {
      expect(format(value)).toBe(text);
    },
  );
});

describe('time', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');
  it.each([
    ['2026-11-27T10:00:00Z', 'just now'],
    ['2026-11-27T09:59:30Z', '30s ago'],
    ['2026-11-27T09:55:00Z', '5m ago'],
    ['2026-11-27T07:00:00Z', '3h ago'],
    ['2026-11-24T10:00:00Z', '3d ago'],
    ['garbage', ''],
    [null, ''],
  ])('relative: %s is "%s"', (at, text) => {
    expect(formatRelative(at, now)).toBe(text);
  });
  it('clock', () => {
    expect(formatClock(new Date(2026, 0, 2, 3, 4, 5))).toBe('03:04:05');
    expect(formatClock('nope')).toBe('—');
  });
});
