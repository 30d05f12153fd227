import { useEffect, useState } from 'react';
import { GradesTable } from './components/GradesTable';
import { Header } from './components/Header';
import { LiveTotal } from './components/LiveTotal';
import { PassFail } from './components/PassFail';
import { RecentFeed } from './components/RecentFeed';
import { RouteComparison } from './components/RouteComparison';
import { StudentsLive } from './components/StudentsLive';
import { TopCourses } from './components/TopCourses';
import { TopStudents } from './components/TopStudents';
import { usePolled } from './hooks';
import { newestTerm, type Term } from './lib/terms';
import type { Course } from './lib/types';
import { useRealtimeApi, useRecentGrades } from './realtime';

/** The catalog seeded by the migrations; used only until `GET /api/courses` answers. */
const SEEDED_COURSES: Course[] = ['SO1', 'BD1', 'LFP', 'SA', 'AYD1'].map((code) => ({ code, name: code }));

export function App() {
  const { api, endpoints } = useRealtimeApi();
  const [refreshAll, setRefreshAll] = useState(0);
  const coursesQ = usePolled('courses', (signal) => api.courses(signal), refreshAll, 60_000);
  const courses = coursesQ.data?.length ? coursesQ.data : SEEDED_COURSES;

  // Pre-select the term of the newest grade once, so the first screen shows data.
  const [defaultTerm, setDefaultTerm] = useState<Term | null>(null);

  return (
    <div className="app">
      {defaultTerm ? null : <NewestTermWatcher onTerm={setDefaultTerm} />}
      <Header apiBase={endpoints.apiBase} onRefresh={() => setRefreshAll((n) => n + 1)} />
      <main className="grid">
        <LiveTotal />
        <StudentsLive courses={courses} defaultTerm={defaultTerm} />
        <RouteComparison />
        <PassFail courses={courses} defaultTerm={defaultTerm} refreshAll={refreshAll} />
        <TopCourses defaultTerm={defaultTerm} refreshAll={refreshAll} />
        <TopStudents refreshAll={refreshAll} />
        <GradesTable courses={courses} refreshAll={refreshAll} />
        <RecentFeed />
      </main>
      <footer className="footer">
        grades · realtime service <span className="mono">{endpoints.apiBase}</span>
        {coursesQ.error ? <span className="footer-warn"> · course list unavailable: {coursesQ.error}</span> : null}
      </footer>
    </div>
  );
}

/**
 * Reports the term of the newest grade once the feed has one. Its own component so the feed's
 * pushes re-render only it (it renders nothing), never the whole dashboard.
 */
function NewestTermWatcher({ onTerm }: { onTerm: (term: Term) => void }) {
  const recent = useRecentGrades();
  useEffect(() => {
    const term = recent.length ? newestTerm(recent) : null;
    if (term) onTerm(term);
  }, [recent, onTerm]);
  return null;
}
