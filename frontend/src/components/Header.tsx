import { CONN_LABEL, type ConnState } from '../lib/connection';
import { useConnection } from '../realtime';
import { useNow } from '../hooks';
import { formatClock } from '../lib/format';
import { palette } from '../lib/palette';

export function ConnectionIndicator({ conn }: { conn: ConnState }) {
  const title =
    conn.status === 'connected'
      ? 'Receiving live updates over Socket.IO'
      : conn.status === 'offline'
        ? `No connection to the realtime service${conn.lastError ? ` (${conn.lastError})` : ''}; retrying in the background`
        : `Trying to reach the realtime service${conn.attempts ? ` (attempt ${conn.attempts})` : ''}`;
  return (
    <div className={`conn conn-${conn.status}`} data-testid="connection-status" data-state={conn.status} title={title} role="status" aria-live="polite">
      <span className="conn-dot" aria-hidden="true" />
      <span className="conn-label">{CONN_LABEL[conn.status]}</span>
      {conn.status !== 'connected' && conn.attempts > 0 ? <span className="conn-attempts">retry {conn.attempts}</span> : null}
    </div>
  );
}

export function Header({ apiBase, onRefresh }: { apiBase: string; onRefresh: () => void }) {
  const conn = useConnection();
  const now = useNow(1000);
  return (
    <header className="topbar">
      <div className="brand">
        <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
          <rect width="32" height="32" rx="9" fill={palette.logo} />
          <rect x="7" y="17" width="4" height="8" rx="1.5" fill={palette.grpc} />
          <rect x="14" y="11" width="4" height="14" rx="1.5" fill={palette.rest} />
          <rect x="21" y="6" width="4" height="19" rx="1.5" fill={palette.pass} />
        </svg>
        <div>
          <h1 className="brand-title">Grades</h1>
          <p className="brand-sub">Live registration dashboard</p>
        </div>
      </div>
      <div className="topbar-right">
        <span className="topbar-source" title="Realtime service (from /config.js)">
          {apiBase.replace(/^https?:\/\//, '')}
        </span>
        <ConnectionIndicator conn={conn} />
        <button type="button" className="btn" onClick={onRefresh} data-testid="refresh-all">
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
          Refresh
        </button>
        <span className="clock" aria-label="Current time">{formatClock(now)}</span>
      </div>
    </header>
  );
}
