import type { RouteCount, RouteStat, RouteStats } from './types';

export const ROUTE_ORDER = ['grpc', 'rest'];

export const ROUTE_COLORS: Record<string, string> = {
  grpc: '#38bdf8',
  rest: '#c084fc',
};
const FALLBACK_COLORS = ['#fbbf24', '#f472b6', '#a3e635', '#2dd4bf'];

export function routeLabel(route: string): string {
  if (route === 'grpc') return 'gRPC';
  if (route === 'rest') return 'REST';
  return route.toUpperCase();
}

export function routeColor(route: string, index = 0): string {
  return ROUTE_COLORS[route] ?? FALLBACK_COLORS[index % FALLBACK_COLORS.length];
}

/** grpc, rest first; any other route after, alphabetically. */
export function compareRoutes(a: string, b: string): number {
  const ia = ROUTE_ORDER.indexOf(a);
  const ib = ROUTE_ORDER.indexOf(b);
  if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
  return a.localeCompare(b);
}

function num(n: unknown): number | null {
  const v = typeof n === 'string' && n.trim() !== '' ? Number(n) : n;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export interface TrafficShare {
  route: string;
  label: string;
  count: number;
  /** 0..1, null when no traffic at all. */
  share: number | null;
  color: string;
}

/** route_count -> ordered shares. grpc and rest are always present (with 0) so the bar never jumps. */
export function trafficShares(routeCount: RouteCount | null | undefined): TrafficShare[] {
  const counts: Record<string, number> = {};
  for (const r of ROUTE_ORDER) counts[r] = 0;
  for (const [k, v] of Object.entries(routeCount ?? {})) {
    const n = num(v);
    counts[k] = n !== null && n > 0 ? n : 0;
  }
  const sum = Object.values(counts).reduce((a, b) => a + b, 0);
  return Object.keys(counts)
    .sort(compareRoutes)
    .map((route, i) => ({
      route,
      label: routeLabel(route),
      count: counts[route],
      share: sum > 0 ? counts[route] / sum : null,
      color: routeColor(route, i),
    }));
}

export interface RouteRow {
  route: string;
  label: string;
  color: string;
  stored: number;
  share: number | null;
  requests: number;
  throughput: number;
  p50: number | null;
  p99: number | null;
  /** True for the route with the lowest p50 when at least two routes have one. */
  fastest: boolean;
}

/**
 * Route stats (+ the live route_count, which is fresher than `stored`) -> one row per route.
 * Shares come from route_count when given, else from `stored`.
 */
export function toRouteRows(stats: RouteStats | null | undefined, routeCount?: RouteCount | null): RouteRow[] {
  const byRoute = new Map<string, RouteStat>();
  for (const r of stats?.routes ?? []) if (r && typeof r.route === 'string') byRoute.set(r.route, r);
  const names = new Set<string>([...ROUTE_ORDER, ...byRoute.keys(), ...Object.keys(routeCount ?? {})]);

  const stored: Record<string, number> = {};
  for (const route of names) {
    const live = routeCount ? num(routeCount[route]) : null;
    stored[route] = Math.max(0, live ?? num(byRoute.get(route)?.stored) ?? 0);
  }
  const sum = Object.values(stored).reduce((a, b) => a + b, 0);

  const rows = [...names].sort(compareRoutes).map((route, i): RouteRow => {
    const s = byRoute.get(route);
    return {
      route,
      label: routeLabel(route),
      color: routeColor(route, i),
      stored: stored[route],
      share: sum > 0 ? stored[route] / sum : null,
      requests: Math.max(0, num(s?.requests) ?? 0),
      throughput: Math.max(0, num(s?.throughput_per_sec) ?? 0),
      p50: num(s?.p50_ms),
      p99: num(s?.p99_ms),
      fastest: false,
    };
  });

  const withP50 = rows.filter((r) => r.p50 !== null);
  if (withP50.length >= 2) {
    const best = withP50.reduce((a, b) => ((b.p50 as number) < (a.p50 as number) ? b : a));
    best.fastest = true;
  }
  return rows;
}

export interface LatencyVerdict {
  faster: string;
  slower: string;
  /** slower p50 / faster p50, >= 1. */
  ratio: number;
}

/** "gRPC p50 is 1.8x lower than REST", or null when it cannot be said. */
export function latencyVerdict(rows: RouteRow[]): LatencyVerdict | null {
  const c = rows.filter((r) => r.p50 !== null && r.p50 > 0 && r.requests > 0);
  if (c.length < 2) return null;
  const sorted = [...c].sort((a, b) => (a.p50 as number) - (b.p50 as number));
  const fast = sorted[0];
  const slow = sorted[sorted.length - 1];
  return { faster: fast.label, slower: slow.label, ratio: (slow.p50 as number) / (fast.p50 as number) };
}

/** A point of the throughput history chart: `t` (ms) plus one key per route. */
export interface ThroughputPoint {
  t: number;
  [route: string]: number;
}

/** Appends one `routes` sample to a bounded history (oldest dropped first). */
export function appendThroughput(
  history: ThroughputPoint[],
  stats: RouteStats,
  t: number,
  max = 60,
): ThroughputPoint[] {
  const point: ThroughputPoint = { t };
  for (const r of stats.routes ?? []) {
    const v = num(r.throughput_per_sec);
    point[r.route] = v !== null && v > 0 ? v : 0;
  }
  const next = history.length && history[history.length - 1].t === t ? history.slice(0, -1) : history.slice();
  next.push(point);
  return next.length > max ? next.slice(next.length - max) : next;
}

/** X-axis ticks for the throughput history: whole multiples of `stepMs`, at most `max` of them. */
export function timeTicks(history: ThroughputPoint[], stepMs = 15_000, max = 4): number[] {
  if (history.length < 2) return history.map((p) => p.t);
  const first = history[0].t;
  const last = history[history.length - 1].t;
  let step = stepMs;
  while ((last - first) / step > max) step *= 2;
  const ticks: number[] = [];
  for (let t = Math.ceil(first / step) * step; t <= last; t += step) ticks.push(t);
  return ticks.length >= 2 ? ticks : [first, last];
}
