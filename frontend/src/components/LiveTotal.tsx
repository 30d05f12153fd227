import { useEffect, useRef, useState } from 'react';
import { useAnimatedNumber } from '../hooks';
import { formatNumber, formatPercent, formatRate } from '../lib/format';
import { trafficShares } from '../lib/routes';
import { useConnection, useLiveTotals, useRouteLive } from '../realtime';
import { Panel, Swatch } from './ui';

export function LiveTotal() {
  const live = useLiveTotals();
  const { routes } = useRouteLive();
  const conn = useConnection();
  const total = live?.total ?? null;
  const shown = useAnimatedNumber(total);
  const shares = trafficShares(live?.route_count);
  const rate = routes ? routes.routes.reduce((a, r) => a + (Number(r.throughput_per_sec) || 0), 0) : null;

  // "+N" chip after each increase.
  const prev = useRef<number | null>(null);
  const [delta, setDelta] = useState<{ n: number; key: number } | null>(null);
  useEffect(() => {
    if (total === null) return;
    if (prev.current !== null && total > prev.current) setDelta({ n: total - prev.current, key: Date.now() });
    prev.current = total;
  }, [total]);
  useEffect(() => {
    if (!delta) return;
    const id = window.setTimeout(() => setDelta(null), 2500);
    return () => window.clearTimeout(id);
  }, [delta]);

  return (
    <Panel title="Grades stored" subtitle="All routes, live" className="area-total" testId="panel-total">
      <div className="total">
        <div className="total-number-row">
          <span
            className={`big-number${total === null ? ' is-pending' : ''}`}
            data-testid="live-total"
            data-value={total ?? ''}
            aria-live="polite"
          >
            {shown === null ? '—' : formatNumber(shown)}
          </span>
          {delta ? (
            <span key={delta.key} className="delta-chip" data-testid="live-total-delta">
              +{formatNumber(delta.n)}
            </span>
          ) : null}
        </div>
        <div className="total-rate">
          {rate !== null ? (
            <>
              <span className="total-rate-value">{formatRate(rate)}</span> ingest rate now
            </>
          ) : total === null && conn.status !== 'connected' ? (
            'waiting for the realtime service…'
          ) : (
            '\u00a0'
          )}
        </div>
        <div className="split">
          <div className="split-bar" aria-hidden="true">
            {shares.map((s) =>
              s.share ? <span key={s.route} style={{ width: `${s.share * 100}%`, background: s.color }} /> : null,
            )}
          </div>
          <div className="split-legend">
            {shares.map((s) => (
              <div key={s.route} className="split-item">
                <Swatch color={s.color} />
                <span className="split-name">{s.label}</span>
                <span className="split-count" data-testid={`live-total-${s.route}`} data-value={s.count}>
                  {formatNumber(s.count)}
                </span>
                <span className="split-share">{formatPercent(s.share)}</span>
              </div>
            ))}
          </div>
        </div>
      </div>
    </Panel>
  );
}
