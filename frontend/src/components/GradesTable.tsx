import { useEffect, useReducer, useRef, useState } from 'react';
import { useFitRows } from '../hooks';
import { formatDateTime, formatNumber } from '../lib/format';
import { canGoBack, currentCursor, initialPager, pageNumber, pagerReducer } from '../lib/pager';
import { describeTerm } from '../lib/terms';
import type { Course } from '../lib/types';
import { useRealtimeApi } from '../realtime';
import { FilterPanel, useFilteredQuery, useTermFilters } from './FilterPanel';
import { NotaChip, RouteBadge } from './ui';

/** Rows per page before the panel is measured (and on phones, where the panel grows instead). */
export const PAGE_SIZE = 10;

export function GradesTable({ courses, refreshAll }: { courses: Course[]; refreshAll: number }) {
  const { api } = useRealtimeApi();
  const filter = useTermFilters({ initial: {} });
  const [pager, dispatch] = useReducer(pagerReducer, initialPager);
  // As many rows as fit the panel, so a projector never shows a half-scrolled table.
  const bodyRef = useRef<HTMLDivElement>(null);
  // Whether rows were rendered, so the panel is measured again with real rows in it.
  const [hasRows, setHasRows] = useState(false);
  const limit = useFitRows(
    bodyRef,
    { rowPx: 41, headerPx: 36, min: 5, max: 50, fallback: PAGE_SIZE, autoHeightQuery: '(max-width: 760px)' },
    hasRows,
  );

  const { filters } = filter;
  const filterKey = filters ? `${filters.curso}|${filters.semestre}|${filters.year ?? ''}` : 'x';
  useEffect(() => dispatch({ type: 'reset' }), [filterKey]);

  const cursor = currentCursor(pager);
  const query = useFilteredQuery(
    filter,
    (f, signal) => api.grades({ curso: f.curso || undefined, semestre: f.semestre || undefined, year: f.year, limit, cursor }, signal),
    { refreshAll, extraKey: `${cursor ?? ''}|${limit}` },
  );
  const { data } = query;
  const filtered = !!(filter.curso || filter.semestre || (filters && filters.year !== null));
  const scope = filtered
    ? describeTerm({ curso: filter.curso || 'all courses', semestre: filter.semestre || 'all semesters', year: filters ? filters.year : null })
    : 'all courses and terms';

  const shown = data?.items.length ?? 0;
  if (shown > 0 !== hasRows) setHasRows(shown > 0);
  const hasNext = !!data?.next_cursor;
  return (
    <FilterPanel
      title="Stored grades"
      subtitle={<>newest first · {scope}</>}
      prefix="grades"
      query={query}
      fields={{ courses, allCourses: true, allSemesters: true }}
      toolbar={
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
      }
      empty={(page) =>
        page.items.length ? null : pageNumber(pager) > 1 ? 'No more grades' : filtered ? `No grades yet for ${scope}` : 'No grades stored yet'
      }
      wrapBody={(body) => (
        <div className="fill" ref={bodyRef}>
          {body}
        </div>
      )}
    >
      {(page) => (
        <div className="table-wrap">
          <table className="table stack-table grades-table" data-testid="grades-table">
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
              {page.items.map((g) => (
                <tr key={g.id} data-testid="grades-row" data-id={g.id}>
                  <td className="num muted" data-label="#">{g.id}</td>
                  <td className="muted nowrap" data-label="Stored">{formatDateTime(g.created_at)}</td>
                  <td className="num mono" data-label="Carnet">{g.carnet}</td>
                  <td className="ellipsis" data-label="Name" title={g.nombre}>{g.nombre}</td>
                  <td data-label="Course"><span className="course-tag">{g.curso}</span></td>
                  <td className="nowrap" data-label="Term">{g.semestre} {g.year}</td>
                  <td className="num" data-label="Nota"><NotaChip nota={g.nota} /></td>
                  <td data-label="Route"><RouteBadge route={g.route} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </FilterPanel>
  );
}
