import { useEffect, useRef, useState } from 'react';
import { useNow } from '../hooks';
import { newIds } from '../lib/feed';
import { formatRelative } from '../lib/format';
import type { Grade } from '../lib/types';
import { useConnection, useRecentGrades } from '../realtime';
import { EmptyState, NotaChip, Panel, RouteBadge } from './ui';

export function RecentFeed() {
  const recent = useRecentGrades();
  const conn = useConnection();
  const now = useNow(5000);
  const prev = useRef<Grade[]>([]);
  const [fresh, setFresh] = useState<Set<number>>(new Set());
  useEffect(() => {
    // Flash only what arrived after the first burst.
    if (prev.current.length) setFresh(newIds(prev.current, recent));
    prev.current = recent;
  }, [recent]);

  return (
    <Panel title="Live feed" subtitle={`latest ${recent.length || ''} grades as they are stored`.replace('  ', ' ')} className="area-feed" testId="panel-feed">
      {recent.length === 0 ? (
        <EmptyState
          message={conn.status === 'connected' ? 'No grades received yet' : 'Waiting for the live connection…'}
          hint="New grades appear here the moment they are committed."
          testId="recent-empty"
        />
      ) : (
        <ol className="feed" data-testid="recent-feed">
          {recent.map((g) => (
            <li key={g.id} className={`feed-item${fresh.has(g.id) ? ' is-new' : ''}`} data-testid="recent-item" data-id={g.id}>
              <NotaChip nota={g.nota} />
              <div className="feed-main">
                <div className="feed-name" title={g.nombre}>{g.nombre}</div>
                <div className="feed-meta">
                  <span className="mono">{g.carnet}</span> · <span className="course-tag course-tag-sm">{g.curso}</span> {g.semestre} {g.year}
                </div>
              </div>
              <div className="feed-side">
                <RouteBadge route={g.route} />
                <span className="feed-time">{formatRelative(g.created_at, now)}</span>
              </div>
            </li>
          ))}
        </ol>
      )}
      <p className="feed-note" data-testid="recent-sample-note">
        At high rates this list shows a sample; the totals and tables count every grade.
      </p>
    </Panel>
  );
}
