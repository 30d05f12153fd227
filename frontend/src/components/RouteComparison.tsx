import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatAxisRate, formatClock, formatMs, formatNumber, formatPercent, formatRate } from '../lib/format';
import { latencyVerdict, MIN_SAMPLES, timeTicks, toRouteRows, type LatencyVerdict } from '../lib/routes';
import { useRealtime } from '../realtime';
import { EmptyState, Panel, tooltipStyle } from './ui';

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

export function RouteComparison() {
  const { routes, live, throughput, routesAt, conn } = useRealtime();
  const rows = toRouteRows(routes, live?.route_count);
  const verdict = latencyVerdict(rows);
  const maxP99 = Math.max(1, ...rows.map((r) => r.p99 ?? 0));
  const windowS = routes?.window_seconds ?? 60;
  const stale = routesAt !== null && Date.now() - routesAt > 15_000;

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
            <table className="table table-compact routes-table">
              <thead>
                <tr>
                  <th>Route</th>
                  <th className="num col-stored">Stored</th>
                  <th className="num">Share</th>
                  <th className="num"><span className="wide-only">Throughput</span><span className="narrow-only">Req/s</span></th>
                  <th className="num" title={`Requests in the last ${windowS}s: the latency figures rest on these`}>n</th>
                  <th className="num">p50</th>
                  <th className="num">p99</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.route} data-testid={`routes-row-${r.route}`}>
                    <td>
                      <span className="route-name">
                        <span className="swatch" style={{ background: r.color }} />
                        {r.label}
                        {r.fastest ? <span className="fastest" title="Lowest p50">fastest</span> : null}
                      </span>
                    </td>
                    <td className="num col-stored">{formatNumber(r.stored)}</td>
                    <td className="num" data-testid={`routes-share-${r.route}`} data-value={r.share ?? ''}>{formatPercent(r.share)}</td>
                    <td className="num" data-testid={`routes-throughput-${r.route}`}>{formatRate(r.throughput)}</td>
                    <td className="num" data-testid={`routes-samples-${r.route}`}>{formatNumber(r.requests)}</td>
                    <td className="num" data-testid={`routes-p50-${r.route}`}>{formatMs(r.p50)}</td>
                    <td className="num">
                      <span className="p99" data-testid={`routes-p99-${r.route}`}>
                        <span className="p99-bar" style={{ width: `${((r.p99 ?? 0) / maxP99) * 100}%`, background: r.color }} />
                        <span className="p99-value">{formatMs(r.p99)}</span>
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="routes-chart">
            <div className="mini-title">Throughput (req/s), live</div>
            {throughput.length < 2 ? (
              <div className="chart-placeholder">collecting samples…</div>
            ) : (
              <div className="chart">
                <ResponsiveContainer width="100%" height="100%">
                  <AreaChart data={throughput} margin={{ top: 6, right: 6, bottom: 0, left: -14 }}>
                    <defs>
                      {rows.map((r) => (
                        <linearGradient key={r.route} id={`tp-${r.route}`} x1="0" y1="0" x2="0" y2="1">
                          <stop offset="0%" stopColor={r.color} stopOpacity={0.35} />
                          <stop offset="100%" stopColor={r.color} stopOpacity={0} />
                        </linearGradient>
                      ))}
                    </defs>
                    <CartesianGrid vertical={false} stroke="#1e2940" />
                    <XAxis dataKey="t" type="number" domain={['dataMin', 'dataMax']} ticks={timeTicks(throughput)} tickFormatter={(t) => formatClock(Number(t))} tick={{ fill: '#7d8aa6', fontSize: 11 }} tickLine={false} axisLine={false} />
                    <YAxis tick={{ fill: '#7d8aa6', fontSize: 11 }} tickLine={false} axisLine={false} allowDecimals width={52} tickFormatter={(v) => formatAxisRate(Number(v))} />
                    <Tooltip {...tooltipStyle} labelFormatter={(t) => formatClock(Number(t))} formatter={(v, name) => [formatRate(Number(v)), name === 'grpc' ? 'gRPC' : name === 'rest' ? 'REST' : String(name)]} />
                    {rows.map((r) => (
                      <Area key={r.route} type="monotone" dataKey={r.route} stroke={r.color} strokeWidth={2} fill={`url(#tp-${r.route})`} isAnimationActive={false} dot={false} connectNulls />
                    ))}
                  </AreaChart>
                </ResponsiveContainer>
              </div>
            )}
          </div>
        </div>
      )}
    </Panel>
  );
}
