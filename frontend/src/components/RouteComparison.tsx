import { memo, type ReactNode } from 'react';
import { Area, AreaChart, CartesianGrid, Tooltip, XAxis, YAxis } from 'recharts';
import { useNow, usePolled } from '../hooks';
import { benchmarkDate, shortMachine, toBenchmarkRows } from '../lib/benchmark';
import { formatAxisRate, formatClock, formatMs, formatNumber, formatPercent, formatRate } from '../lib/format';
import { palette } from '../lib/palette';
import { isRouteName, latencyVerdict, MIN_SAMPLES, routeLabel, timeTicks, toRouteRows, type LatencyVerdict } from '../lib/routes';
import type { RouteName } from '../lib/types';
import { useConnection, useLiveTotals, useRealtimeApi, useRouteLive } from '../realtime';
import { Chart, EmptyState, Panel, Swatch, tooltipStyle } from './ui';

const verdictExplanation =
  `A difference in p50 is stated only when both routes have at least ${MIN_SAMPLES} requests in the window ` +
  'and the 95 % confidence intervals of their medians do not overlap.';

function samples(verdict: LatencyVerdict): string {
  return verdict.samples.map((s) => formatNumber(s.requests)).join(' / ');
}

function VerdictText({ verdict }: { verdict: LatencyVerdict }) {
  switch (verdict.kind) {
    case 'waiting':
      return <>Not enough data yet to compare · n = {samples(verdict)} (needs {MIN_SAMPLES} each)</>;
    case 'similar':
      return <>No clear p50 difference · n = {samples(verdict)}</>;
    case 'different':
      return (
        <>
          <strong>{verdict.faster}</strong> p50 {verdict.ratio.toFixed(1)}× lower than {verdict.slower} · n = {samples(verdict)}, 95 % intervals apart
        </>
      );
  }
}

/** A table with a row per route: its swatch and label (and `name`'s addition), then `cells`, under `head`. */
function RouteTable<R extends { route: RouteName; label: string; color: string }>({
  className,
  rowTestId,
  rows,
  head,
  name,
  cells,
}: {
  className: string;
  rowTestId: string;
  rows: R[];
  head: ReactNode;
  name?: (row: R) => ReactNode;
  cells: (row: R) => ReactNode;
}) {
  return (
    <table className={`table table-compact stack-table ${className}`}>
      <thead>
        <tr>
          <th>Route</th>
          {head}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.route} data-testid={`${rowTestId}-${r.route}`}>
            <td data-label="Route">
              <span className="route-name">
                <Swatch color={r.color} />
                {r.label}
                {name?.(r)}
              </span>
            </td>
            {cells(r)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RouteComparison() {
  const { routes, throughput, routesAt } = useRouteLive();
  const live = useLiveTotals();
  const conn = useConnection();
  const rows = toRouteRows(routes, live?.route_count);
  const verdict = latencyVerdict(rows);
  const maxP99 = Math.max(1, ...rows.map((r) => r.p99 ?? 0));
  const windowS = routes?.window_seconds ?? 60;
  const now = useNow(5000);
  const stale = routesAt !== null && now - routesAt > 15_000;

  return (
    <Panel
      title="Route comparison"
      subtitle={
        <>
          gRPC vs REST · throughput and latency over the last {windowS}s
          {conn.status !== 'connected' && routes ? ' · via HTTP fallback' : ''}
          {stale ? ' · stale' : ''}
        </>
      }
      className="area-routes"
      testId="panel-routes"
      actions={
        verdict ? (
          <span className="verdict" data-testid="routes-verdict" data-kind={verdict.kind} title={verdictExplanation}>
            <VerdictText verdict={verdict} />
          </span>
        ) : null
      }
    >
      {!routes && !live ? (
        <EmptyState message="Waiting for route statistics…" testId="routes-empty" />
      ) : (
        <div className="routes">
          <div className="routes-left">
            <div className="share">
              <div className="share-head">
                <span className="share-title">Share of stored grades</span>
                <span className="share-total">{formatNumber(rows.reduce((a, r) => a + r.stored, 0))} total</span>
              </div>
              <div className="share-bar">
                {rows.some((r) => r.share) ? (
                  rows.map((r) =>
                    r.share ? (
                      <span key={r.route} style={{ width: `${r.share * 100}%`, background: r.color }} title={`${r.label} ${formatPercent(r.share)}`}>
                        {r.share >= 0.12 ? `${r.label} ${formatPercent(r.share, 0)}` : ''}
                      </span>
                    ) : null,
                  )
                ) : (
                  <span className="share-none">no traffic yet</span>
                )}
              </div>
            </div>
            <RouteTable
              className="routes-table"
              rowTestId="routes-row"
              rows={rows}
              head={
                <>
                  <th className="num">Stored</th>
                  <th className="num">Share</th>
                  <th className="num">Throughput</th>
                  <th className="num" title={`Requests in the last ${windowS}s: the latency figures rest on these`}>n</th>
                  <th className="num">p50</th>
                  <th className="num">p99</th>
                </>
              }
              name={(r) => (r.fastest ? <span className="fastest" title="Lowest p50">fastest</span> : null)}
              cells={(r) => (
                <>
                  <td className="num" data-label="Stored">{formatNumber(r.stored)}</td>
                  <td className="num" data-label="Share" data-testid={`routes-share-${r.route}`} data-value={r.share ?? ''}>{formatPercent(r.share)}</td>
                  <td className="num" data-label="Throughput" data-testid={`routes-throughput-${r.route}`}>{formatRate(r.throughput)}</td>
                  <td className="num" data-label="n" data-testid={`routes-samples-${r.route}`}>{formatNumber(r.requests)}</td>
                  <td className="num" data-label="p50" data-testid={`routes-p50-${r.route}`}>{formatMs(r.p50)}</td>
                  <td className="num" data-label="p99">
                    <span className="p99" data-testid={`routes-p99-${r.route}`}>
                      <span className="p99-bar" style={{ width: `${((r.p99 ?? 0) / maxP99) * 100}%`, background: r.color }} />
                      <span className="p99-value">{formatMs(r.p99)}</span>
                    </span>
                  </td>
                </>
              )}
            />
          </div>
          <div className="routes-chart">
            <div className="mini-title">Throughput (req/s), live</div>
            {throughput.length < 2 ? (
              <div className="chart-placeholder">collecting samples…</div>
            ) : (
              <Chart>
                <AreaChart data={throughput} margin={{ top: 6, right: 6, bottom: 0, left: -14 }}>
                  <defs>
                    {rows.map((r) => (
                      <linearGradient key={r.route} id={`tp-${r.route}`} x1="0" y1="0" x2="0" y2="1">
                        <stop offset="0%" stopColor={r.color} stopOpacity={0.35} />
                        <stop offset="100%" stopColor={r.color} stopOpacity={0} />
                      </linearGradient>
                    ))}
                  </defs>
                  <CartesianGrid vertical={false} stroke={palette.grid} />
                  <XAxis dataKey="t" type="number" domain={['dataMin', 'dataMax']} ticks={timeTicks(throughput)} tickFormatter={(t) => formatClock(Number(t))} tick={{ fill: palette.tick, fontSize: 11 }} tickLine={false} axisLine={false} />
                  <YAxis tick={{ fill: palette.tick, fontSize: 11 }} tickLine={false} axisLine={false} allowDecimals width={52} tickFormatter={(v) => formatAxisRate(Number(v))} />
                  <Tooltip {...tooltipStyle} labelFormatter={(t) => formatClock(Number(t))} formatter={(v, name) => [formatRate(Number(v)), isRouteName(name) ? routeLabel(name) : String(name)]} />
                  {rows.map((r) => (
                    <Area key={r.route} type="monotone" dataKey={r.route} stroke={r.color} strokeWidth={2} fill={`url(#tp-${r.route})`} isAnimationActive={false} dot={false} connectNulls />
                  ))}
                </AreaChart>
              </Chart>
            )}
          </div>
        </div>
      )}
      <PublishedBenchmark />
    </Panel>
  );
}

/** The published comparison is re-read this often (a new `just compare` shows up without a reload). */
const PUBLISHED_REFRESH_MS = 5 * 60_000;

/**
 * The last published `just compare` result (GET /api/compare), labelled with its date and machine
 * so it is never read as live figures. Memoised: the route panel re-renders on every `routes`
 * push, this part only when its own answer changes.
 */
const PublishedBenchmark = memo(function PublishedBenchmark() {
  const { api } = useRealtimeApi();
  const { data, error } = usePolled('compare', (signal) => api.compare(signal), 0, PUBLISHED_REFRESH_MS);
  const rows = toBenchmarkRows(data);
  if (error || !data) {
    // realtime's 404 says to run `just compare`: the normal state before the first measurement.
    const missing = error !== null && /just compare/.test(error);
    return (
      <div className="published" data-testid="routes-published" data-state={error ? (missing ? 'missing' : 'error') : 'loading'}>
        <div className="published-head">
          <span className="published-title">Published benchmark</span>
          <span className="published-source">
            {error ? (missing ? 'none published yet: run `just compare`' : `unavailable: ${error}`) : 'loading…'}
          </span>
        </div>
      </div>
    );
  }
  const date = benchmarkDate(data.measured_at);
  return (
    <div className="published" data-testid="routes-published" data-state="shown" data-measured-at={data.measured_at}>
      <div className="published-head" title={`${data.command}\n${data.machine}`}>
        <span className="published-title">Published benchmark</span>
        <span className="published-source" data-testid="routes-published-source">
          just compare · {date} · {shortMachine(data.machine)} · not live
        </span>
      </div>
      <RouteTable
        className="published-table"
        rowTestId="published-row"
        rows={rows}
        head={
          <>
            <th className="num" title={`Highest offered rate whose p99 stayed under ${formatMs(data.slo_p99_ms)} (open loop)`}>
              <span className="wide-only">Max sustainable</span><span className="narrow-only">Max</span>
            </th>
            <th className="num" title="p50 and p99 at half of each route's maximum: equal, comfortable load">p50 / p99 at ½</th>
            <th className="num" title="CPU-seconds per 1,000 grades at half load: the route's processes, MySQL and Redis">
              <span className="wide-only">CPU-s / 1,000</span><span className="narrow-only">CPU</span>
            </th>
          </>
        }
        cells={(r) => (
          <>
            <td className="num" data-label="Max sustainable" data-testid={`published-max-${r.route}`} data-value={r.maxSustainable ?? ''}>
              {r.maxSustainable === null ? 'none held' : formatRate(r.maxSustainable)}
              {r.ratio !== null && r.ratio !== 1 ? <span className="muted"> ({r.ratio.toFixed(2)}×)</span> : null}
            </td>
            <td className="num" data-label="p50 / p99 at ½" data-testid={`published-latency-${r.route}`}>
              <span>
                <span className="nowrap">{formatMs(r.p50)} /</span> <span className="nowrap">{formatMs(r.p99)}</span>
              </span>
            </td>
            <td className="num" data-label="CPU-s / 1,000" data-testid={`published-cpu-${r.route}`} data-value={r.cpuPer1000 ?? ''}>
              {r.cpuPer1000 === null ? '—' : r.cpuPer1000.toFixed(3)}
            </td>
          </>
        )}
      />
    </div>
  );
});
