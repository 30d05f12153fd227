import { describe, expect, it } from 'vitest';
import {
  appendThroughput,
  latencyVerdict,
  ROUTE_ORDER,
  routeLabel,
  timeTicks,
  toRouteRows,
  trafficShares,
  type RouteCountsSeen,
} from './routes';
import type { RouteStats } from './types';

const stats: RouteStats = {
  window_seconds: 60,
  routes: [
    { route: 'rest', stored: 634, requests: 600, throughput_per_sec: 10, p50_ms: 5.4, p50_interval_ms: [5.1, 5.8], p99_ms: 30 },
    { route: 'grpc', stored: 600, requests: 580, throughput_per_sec: 9.7, p50_ms: 3, p50_interval_ms: [2.8, 3.3], p99_ms: 12 },
  ],
};

function withRoutes(rest: Partial<RouteStats['routes'][number]>, grpc: Partial<RouteStats['routes'][number]>): RouteStats {
  return { window_seconds: 60, routes: [{ ...stats.routes[0], ...rest }, { ...stats.routes[1], ...grpc }] };
}

describe('trafficShares', () => {
  it('computes shares in a fixed order', () => {
    const s = trafficShares({ rest: 75, grpc: 25 });
    expect(s.map((x) => x.route)).toEqual(['grpc', 'rest']);
    expect(s[0].share).toBe(0.25);
    expect(s[1].share).toBe(0.75);
    expect(s[0].label).toBe('gRPC');
  });
  it('always has grpc and rest, null shares without traffic', () => {
    const s = trafficShares({});
    expect(s.map((x) => [x.route, x.count, x.share])).toEqual([
      ['grpc', 0, null],
      ['rest', 0, null],
    ]);
    expect(trafficShares(undefined)).toHaveLength(2);
  });
  it('ignores routes this build does not know (a newer server) and reads numeric strings', () => {
    const seen = { zeta: 5, grpc: '1', rest: 3 } as RouteCountsSeen;
    const s = trafficShares(seen);
    expect(s.map((x) => [x.route, x.count])).toEqual([
      ['grpc', 1],
      ['rest', 3],
    ]);
    expect(s[1].share).toBe(0.75);
  });
});

describe('toRouteRows', () => {
  it('orders rows and derives share from stored', () => {
    const rows = toRouteRows(stats);
    expect(rows.map((r) => r.route)).toEqual(['grpc', 'rest']);
    expect(rows[0].share).toBeCloseTo(600 / 1234);
    expect(rows[0].throughput).toBe(9.7);
    expect(rows[0].p50).toBe(3);
    expect(rows[1].p99).toBe(30);
  });
  it('prefers the fresher live route_count', () => {
    const rows = toRouteRows(stats, { grpc: 700, rest: 300 });
    expect(rows[0].stored).toBe(700);
    expect(rows[0].share).toBe(0.7);
  });
  it('marks the fastest p50 only when the difference is supported', () => {
    expect(toRouteRows(stats).find((r) => r.fastest)?.route).toBe('grpc');
    const overlapping = withRoutes({ p50_interval_ms: [2.9, 5.8] }, {});
    expect(toRouteRows(overlapping).some((r) => r.fastest)).toBe(false);
  });
  it('handles null latencies and missing stats', () => {
    const rows = toRouteRows({
      window_seconds: 60,
      routes: [{ route: 'grpc', stored: 0, requests: 0, throughput_per_sec: 0, p50_ms: null, p50_interval_ms: null, p99_ms: null }],
    });
    expect(rows).toHaveLength(2);
    expect(rows[0].p50).toBeNull();
    expect(rows[0].share).toBeNull();
    expect(rows.some((r) => r.fastest)).toBe(false);
    expect(toRouteRows(null).map((r) => r.route)).toEqual(['grpc', 'rest']);
  });
});

describe('latencyVerdict', () => {
  it('states a difference when both routes have enough samples and the intervals are apart', () => {
    const v = latencyVerdict(toRouteRows(stats));
    expect(v?.kind).toBe('different');
    if (v?.kind !== 'different') return;
    expect(v.faster).toBe('gRPC');
    expect(v.slower).toBe('REST');
    expect(v.ratio).toBeCloseTo(1.8);
    expect(v.samples.map((s) => s.requests)).toEqual([580, 600]);
  });
  it('waits for enough samples on each route (one request right after a restart proves nothing)', () => {
    const v = latencyVerdict(toRouteRows(withRoutes({ requests: 1, p50_ms: 15, p50_interval_ms: null }, { requests: 1, p50_ms: 1, p50_interval_ms: null })));
    expect(v?.kind).toBe('waiting');
    expect(latencyVerdict(toRouteRows(withRoutes({ requests: 99 }, {})))?.kind).toBe('waiting');
  });
  it('says there is no clear difference when the intervals overlap', () => {
    expect(latencyVerdict(toRouteRows(withRoutes({ p50_interval_ms: [3.2, 5.8] }, {})))?.kind).toBe('similar');
  });
  it('says nothing without traffic on both', () => {
    expect(latencyVerdict(toRouteRows(null))).toBeNull();
  });
});

describe('appendThroughput', () => {
  it('keeps a bounded history, newest last', () => {
    let h = appendThroughput([], stats, 1);
    h = appendThroughput(h, stats, 2);
    h = appendThroughput(h, stats, 3, 2);
    expect(h.map((p) => p.t)).toEqual([2, 3]);
    expect(h[1].grpc).toBe(9.7);
    expect(h[1].rest).toBe(10);
  });
  it('replaces a sample with the same timestamp', () => {
    const h = appendThroughput(appendThroughput([], stats, 1), { window_seconds: 60, routes: [] }, 1);
    expect(h).toEqual([{ t: 1 }]);
  });
  it('labels routes', () => {
    expect(ROUTE_ORDER.map(routeLabel)).toEqual(['gRPC', 'REST']);
  });
  it('leaves routes it does not know out of the history', () => {
    const unknown = { window_seconds: 60, routes: [...stats.routes, { ...stats.routes[0], route: 'http3' }] } as RouteStats;
    expect(Object.keys(appendThroughput([], unknown, 1)[0]).sort()).toEqual(['grpc', 'rest', 't']);
  });
});

describe('timeTicks', () => {
  it('uses whole 15 s steps inside the range', () => {
    const h = Array.from({ length: 60 }, (_, i) => ({ t: 1_000_000 + i * 1000 }));
    expect(timeTicks(h)).toEqual([1_005_000, 1_020_000, 1_035_000, 1_050_000]);
  });
  it('falls back to the ends on short histories', () => {
    expect(timeTicks([{ t: 1000 }, { t: 3000 }])).toEqual([1000, 3000]);
    expect(timeTicks([{ t: 1000 }])).toEqual([1000]);
  });
});
