import { compareRoutes, isRouteName, routeColor, routeLabel } from './routes';
import type { CompareSummary, RouteName } from './types';

/** One route of the published comparison, as the route panel shows it. */
export interface BenchmarkRow {
  route: RouteName;
  label: string;
  color: string;
  /** grades/s; null when no step held. */
  maxSustainable: number | null;
  /** Max sustainable throughput relative to the first route's (REST in `just compare`). */
  ratio: number | null;
  p50: number | null;
  p99: number | null;
  /** CPU-seconds per 1,000 grades, every process of the route plus MySQL and Redis. */
  cpuPer1000: number | null;
}

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The comparison's routes in the panel's order (gRPC, REST), with the ratio to the first route measured. */
export function toBenchmarkRows(summary: CompareSummary | null | undefined): BenchmarkRow[] {
  const routes = Array.isArray(summary?.routes) ? summary.routes.filter((r) => r && isRouteName(r.route)) : [];
  const base = finite(routes[0]?.max_sustainable_per_sec);
  return routes
    .map((r): BenchmarkRow => {
      const max = finite(r.max_sustainable_per_sec);
      return {
        route: r.route,
        label: routeLabel(r.route),
        color: routeColor(r.route),
        maxSustainable: max,
        ratio: max !== null && base ? max / base : null,
        p50: finite(r.half_load?.p50_ms),
        p99: finite(r.half_load?.p99_ms),
        cpuPer1000: finite(r.half_load?.cpu_seconds_per_1000),
      };
    })
    .sort((a, b) => compareRoutes(a.route, b.route));
}

/** "2026-11-28 00:10 UTC" from the RFC 3339 time the comparison was measured ("unknown date" when unreadable). */
export function benchmarkDate(measuredAt: string | null | undefined): string {
  const d = measuredAt ? new Date(measuredAt) : null;
  if (!d || Number.isNaN(d.getTime())) return 'unknown date';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The machine's first part ("2 cores (AMD EPYC)"): the whole description goes in a tooltip. */
export function shortMachine(machine: string | null | undefined): string {
  const first = (machine ?? '').split(', ')[0].trim();
  return first || 'unknown machine';
}
