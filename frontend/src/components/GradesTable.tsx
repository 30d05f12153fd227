import { useEffect, useReducer, useRef, useState } from 'react';
import { useDebounced, useFitRows, usePolled } from '../hooks';
import { formatDateTime, formatNumber } from '../lib/format';
import { canGoBack, currentCursor, initialPager, pageNumber, pagerReducer } from '../lib/pager';
import { describeTerm, parseYear } from '../lib/terms';
import type { Course } from '../lib/types';
import { useRealtime } from '../realtime';
import { CourseSelect, EmptyState, ErrorState, Loading, NotaChip, Panel, RefreshButton, RouteBadge, SemesterSelect, UpdatedAt, YearInput } from './ui';

/** Rows per page before the panel is measured (and on phones, where the panel grows instead). */
export const PAGE_SIZE = 10;

export function GradesTable({ courses, refreshAll }: { courses: Course[]; refreshAll: number }) {
  const { api } = useRealtime();
  const [curso, setCurso] = useState('');
  const [semestre, setSemestre] = useState('');
  const [yearText, setYearText] = useState('');
  const [refresh, setRefresh] = useState(0);
  const [pager, dispatch] = useReducer(pagerReducer, initialPager);
  // As many rows as fit the panel, so a projector never shows a half-scrolled table.
  const bodyRef = useRef<HTMLDivElement>(null);
  const [rowsShown, setRowsShown] = useState(0);
  const limit = useFitRows(
    bodyRef,
    { rowPx: 41, headerPx: 36, min: 5, max: 50, fallback: PAGE_SIZE, autoHeightQuery: '(max-width: 760px)' },
    rowsShown > 0,
  );

  const [debouncedYear, flushYear] = useDebounced(yearText, 400);
  const year = parseYear(debouncedYear);
  const filterKey = `${curso}|${semestre}|${year.ok ? (year.year ?? '') : 'x'}`;
  useEffect(() => dispatch({ type: 'reset' }), [filterKey]);

  const cursor = currentCursor(pager);
  const key = year.ok ? `${filterKey}|${cursor ?? ''}|${limit}` : null;
  const { data, error, loading, updatedAt } = usePolled(
    key,
    (signal) =>
      api.grades({ curso: curso || undefined, semestre: semestre || undefined, year: year.ok ? year.year : null, limit, cursor }, signal),
    `${refresh}:${refreshAll}`,
  );
  const filtered = curso || semestre || (year.ok && year.year !== null);
  const scope = filtered
    ? describeTerm({ curso: curso || 'all courses', semestre: semestre || 'all semesters', year: year.ok ? year.year : null })
    : 'all courses and terms';

  let body;
  if (!year.ok) body = <ErrorState message={year.message} testId="grades-error" />;
  else if (error) body = <ErrorState message={error} testId="grades-error" />;
  else if (!data) body = <Loading />;
  else if (!data.items.length)
    body = (
      <EmptyState
        message={pageNumber(pager) > 1 ? 'No more grades' : filtered ? `No grades yet for ${scope}` : 'No grades stored yet'}
        testId="grades-empty"
      />
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="grades-table">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>Stored</th>
              <th className="num">Carnet</th>
              <th>Name</th>
              <th>Course</th>
              <th>Term</th>
              <th className="num">Nota</th>
              <th>Route</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((g) => (
              <tr key={g.id} data-testid="grades-row" data-id={g.id}>
                <td className="num muted">{g.id}</td>
                <td className="muted nowrap">{formatDateTime(g.created_at)}</td>
                <td className="num mono">{g.carnet}</td>
                <td className="ellipsis" title={g.nombre}>{g.nombre}</td>
                <td><span className="course-tag">{g.curso}</span></td>
                <td className="nowrap">{g.semestre} {g.year}</td>
                <td className="num"><NotaChip nota={g.nota} /></td>
                <td><RouteBadge route={g.route} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );

  const shown = data?.items.length ?? 0;
  useEffect(() => setRowsShown(shown), [shown]);
  const hasNext = !!data?.next_cursor;
  return (
    <Panel
      title="Stored grades"
      subtitle={<>newest first · {scope} <UpdatedAt at={updatedAt} /></>}
      className="area-grades"
      testId="panel-grades"
      actions={
        <RefreshButton
          onClick={() => {
            flushYear();
            setRefresh((n) => n + 1);
          }}
          busy={loading}
          testId="grades-refresh"
        />
      }
      toolbar={
        <>
          <CourseSelect courses={courses} value={curso} onChange={setCurso} testId="grades-course" allowAll />
          <SemesterSelect value={semestre} onChange={setSemestre} testId="grades-semester" allowAll />
          <YearInput value={yearText} onChange={setYearText} testId="grades-year" invalid={!parseYear(yearText).ok} />
          <div className="pager">
            <button type="button" className="btn btn-ghost" onClick={() => dispatch({ type: 'back' })} disabled={!canGoBack(pager)} data-testid="grades-prev">
              ‹ Back
            </button>
            <span className="pager-page" data-testid="grades-page" data-value={pageNumber(pager)}>
              Page {formatNumber(pageNumber(pager))}
            </span>
            <button
              type="button"
              className="btn btn-ghost"
              onClick={() => dispatch({ type: 'next', cursor: data?.next_cursor })}
              disabled={!hasNext}
              data-testid="grades-next"
            >
              Next ›
            </button>
          </div>
        </>
      }
    >
      <div className="fill" ref={bodyRef}>
        {body}
      </div>
    </Panel>
  );
}
