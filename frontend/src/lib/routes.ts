import { palette } from './palette';
import type { RouteName, RouteStat, RouteStats } from './types';

/**
 * Every route, in the panel's order, with its label and colour. `RouteName` is generated from the
 * server's route type, so a route added there does not compile here until it has both.
 */
const ROUTES: Record<RouteName, { label: string; color: string }> = {
  grpc: { label: 'gRPC', color: palette.grpc },
  rest: { label: 'REST', color: palette.rest },
};

export const ROUTE_ORDER = Object.keys(ROUTES) as RouteName[];

/** Whether a route name read from an answer is one this build knows (a newer server may know more). */
export function isRouteName(name: unknown): name is RouteName {
  return typeof name === 'string' && Object.hasOwn(ROUTES, name);
}

/**
 * Counts per route as received (the wire's `RouteCounts`), read tolerantly: a count may be missing
 * or a numeric string, and names this build does not know are ignored.
 */
export type RouteCountsSeen = Readonly<Partial<Record<RouteName, unknown>>>;

export function routeLabel(route: RouteName): string {
  return ROUTES[route].label;
}

export function routeColor(route: RouteName): string {
  return ROUTES[route].color;
}

/** In the panel's order: grpc, rest. */
export function compareRoutes(a: RouteName, b: RouteName): number {
  return ROUTE_ORDER.indexOf(a) - ROUTE_ORDER.indexOf(b);
}

function num(n: unknown): number | null {
  const v = typeof n === 'string' && n.trim() !== '' ? Number(n) : n;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export interface TrafficShare {
  route: RouteName;
  label: string;
  count: number;
  /** 0..1, null when no traffic at all. */
  share: number | null;
  color: string;
}

/** route_count -> ordered shares. Every route is present (with 0) so the bar never jumps. */
export function trafficShares(routeCount: RouteCountsSeen | null | undefined): TrafficShare[] {
  const counts = ROUTE_ORDER.map((route) => {
    const n = num(routeCount?.[route]);
    return n !== null && n > 0 ? n : 0;
  });
  const sum = counts.reduce((a, b) => a + b, 0);
  return ROUTE_ORDER.map((route, i) => ({
    route,
    label: routeLabel(route),
    count: counts[i],
    share: sum > 0 ? counts[i] / sum : null,
    color: routeColor(route),
  }));
}

export interface RouteRow {
  route: RouteName;
  label: string;
  color: string;
  stored: number;
  share: number | null;
  requests: number;
  throughput: number;
  p50: number | null;
  /** 95 % confidence interval of p50, [low, high]. */
  p50Interval: [number, number] | null;
  p99: number | null;
  /** True for the route whose p50 is lower than the other's with the difference supported (see `latencyVerdict`). */
  fastest: boolean;
}

/**
 * Route stats (+ the live route_count, which is fresher than `stored`) -> one row per route.
 * Shares come from route_count when given, else from `stored`.
 */
export function toRouteRows(stats: RouteStats | null | undefined, routeCount?: RouteCountsSeen | null): RouteRow[] {
  const byRoute = new Map<RouteName, RouteStat>();
  for (const r of stats?.routes ?? []) if (r && isRouteName(r.route)) byRoute.set(r.route, r);

  const stored = {} as Record<RouteName, number>;
  for (const route of ROUTE_ORDER) {
    const live = routeCount ? num(routeCount[route]) : null;
    stored[route] = Math.max(0, live ?? num(byRoute.get(route)?.stored) ?? 0);
  }
  const sum = Object.values(stored).reduce((a, b) => a + b, 0);

  const rows = ROUTE_ORDER.map((route): RouteRow => {
    const s = byRoute.get(route);
    return {
      route,
      label: routeLabel(route),
      color: routeColor(route),
      stored: stored[route],
      share: sum > 0 ? stored[route] / sum : null,
      requests: Math.max(0, num(s?.requests) ?? 0),
      throughput: Math.max(0, num(s?.throughput_per_sec) ?? 0),
      p50: num(s?.p50_ms),
      p50Interval: interval(s?.p50_interval_ms),
      p99: num(s?.p99_ms),
      fastest: false,
    };
  });
  const verdict = latencyVerdict(rows);
  if (verdict?.kind === 'different') {
    for (const row of rows) row.fastest = row.label === verdict.faster;
  }
  return rows;
}

function interval(value: unknown): [number, number] | null {
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [low, high] = value.map(num);
  return low !== null && high !== null && low <= high ? [low, high] : null;
}

/** Requests each route needs in the window before the dashboard compares their latency. */
export const MIN_SAMPLES = 100;

/** What the route panel may say about p50. */
export type LatencyVerdict =
  /** Fewer than MIN_SAMPLES requests on a route: no comparison. */
  | { kind: 'waiting'; samples: { label: string; requests: number }[] }
  /** Enough samples, but the 95 % intervals of the medians overlap: no supported difference. */
  | { kind: 'similar'; samples: { label: string; requests: number }[] }
  /** The intervals do not overlap: the difference is supported. */
  | { kind: 'different'; faster: string; slower: string; ratio: number; samples: { label: string; requests: number }[] };

/**
 * Compares the two routes' p50 only when both have at least MIN_SAMPLES requests in the window,
 * and states a difference only when the 95 % confidence intervals of their medians do not
 * overlap. Null while no route has traffic.
 */
export function latencyVerdict(rows: RouteRow[]): LatencyVerdict | null {
  const routes = rows.slice(0, 2);
  if (routes.length < 2 || routes.every((r) => r.requests === 0)) return null;
  const samples = routes.map((r) => ({ label: r.label, requests: r.requests }));
  if (routes.some((r) => r.requests < MIN_SAMPLES || r.p50 === null || r.p50Interval === null)) return { kind: 'waiting', samples };
  const [a, b] = routes as [RouteRow & { p50: number; p50Interval: [number, number] }, RouteRow & { p50: number; p50Interval: [number, number] }];
  if (a.p50Interval[0] <= b.p50Interval[1] && b.p50Interval[0] <= a.p50Interval[1]) return { kind: 'similar', samples };
  const [fast, slow] = a.p50 <= b.p50 ? [a, b] : [b, a];
  return { kind: 'different', faster: fast.label, slower: slow.label, ratio: slow.p50 / Math.max(fast.p50, 0.001), samples };
}

/** A point of the throughput history chart: `t` (ms) plus grades/s of each route. */
export type ThroughputPoint = { t: number } & Partial<Record<RouteName, number>>;

/** Appends one `routes` sample to a bounded history (oldest dropped first). */
export function appendThroughput(
  history: ThroughputPoint[],
  stats: RouteStats,
  t: number,
  max = 60,
): ThroughputPoint[] {
  const point: ThroughputPoint = { t };
  for (const r of stats.routes ?? []) {
    if (!isRouteName(r.route)) continue;
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
