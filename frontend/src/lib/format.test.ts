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
  it('formats ratios', () => {
    expect(formatPercent(0.625)).toBe('62.5%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(0.5)).toBe('50%');
    expect(formatPercent(1 / 3)).toBe('33.3%');
    expect(formatPercent(2 / 3, 0)).toBe('67%');
    expect(formatPercent(0.99996)).toBe('100%');
  });
  it('dash when unknown', () => {
    expect(formatPercent(null)).toBe('—');
  });
});

describe('formatMs / formatRate / formatAverage', () => {
  it('adapts latency precision', () => {
    expect(formatMs(0.42)).toBe('0.42 ms');
    expect(formatMs(3.14159)).toBe('3.14 ms');
    expect(formatMs(12)).toBe('12.0 ms');
    expect(formatMs(123.4)).toBe('123 ms');
    expect(formatMs(1500)).toBe('1.50 s');
    expect(formatMs(12000)).toBe('12.0 s');
    expect(formatMs(null)).toBe('—');
  });
  it('formats throughput', () => {
    expect(formatRate(0)).toBe('0/s');
    expect(formatRate(9.66)).toBe('9.66/s');
    expect(formatRate(0.5)).toBe('0.5/s');
    expect(formatRate(42.25)).toBe('42.3/s');
    expect(formatRate(1234.4)).toBe('1,234/s');
  });
  it('formats averages', () => {
    expect(formatAverage(97.5)).toBe('97.50');
    expect(formatAverage(undefined)).toBe('—');
  });
});

describe('time', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');
  it('relative', () => {
    expect(formatRelative('2026-11-27T10:00:00Z', now)).toBe('just now');
    expect(formatRelative('2026-11-27T09:59:30Z', now)).toBe('30s ago');
    expect(formatRelative('2026-11-27T09:55:00Z', now)).toBe('5m ago');
    expect(formatRelative('2026-11-27T07:00:00Z', now)).toBe('3h ago');
    expect(formatRelative('2026-11-24T10:00:00Z', now)).toBe('3d ago');
    expect(formatRelative('garbage', now)).toBe('');
    expect(formatRelative(null, now)).toBe('');
  });
  it('clock', () => {
    expect(formatClock(new Date(2026, 0, 2, 3, 4, 5))).toBe('03:04:05');
    expect(formatClock('nope')).toBe('—');
  });
});

describe('formatAxisRate', () => {
  it('keeps small rates readable', () => {
    expect(formatAxisRate(0)).toBe('0');
    expect(formatAxisRate(0.045)).toBe('0.045');
    expect(formatAxisRate(0.015)).toBe('0.015');
    expect(formatAxisRate(2.5)).toBe('2.5');
    expect(formatAxisRate(12)).toBe('12');
    expect(formatAxisRate(15300)).toBe('15.3K');
  });
});
