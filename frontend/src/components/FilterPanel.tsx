import { useState, type ReactNode } from 'react';
import { useDebounced, usePolled, type Polled } from '../hooks';
import { parseYear, type ParsedYear, type Term } from '../lib/terms';
import type { Course } from '../lib/types';
import { CourseSelect, EmptyState, ErrorState, Loading, Panel, RefreshButton, SemesterSelect, UpdatedAt, YearInput } from './ui';

/** The filters as the API takes them: '' is "any" for course and semester, null for year. */
export interface Filters {
  curso: string;
  semestre: string;
  year: number | null;
}

export interface TermFilters {
  curso: string;
  semestre: string;
  /** What is typed in the year box. */
  yearText: string;
  setCurso: (v: string) => void;
  setSemestre: (v: string) => void;
  setYearText: (v: string) => void;
  /** The typed year once it has stopped changing (debounced). */
  year: ParsedYear;
  /** The typed year is invalid now (the box turns red at once, the panel after the debounce). */
  yearInvalid: boolean;
  /** Applies a year typed less than the debounce ago (an explicit refresh does this). */
  flushYear: () => void;
  /** The filters as the API takes them, null while the year is invalid. */
  filters: Filters | null;
}

/**
 * Course, semester and year filters: state, the debounced year and, until the user changes one
 * of them, the term of the newest grade (`defaultTerm`) so the first screen shows data.
 */
export function useTermFilters({
  initial,
  defaultTerm = null,
  adopt = { curso: false, semestre: false, year: false },
}: {
  initial: { curso?: string; semestre?: string; yearText?: string };
  defaultTerm?: Term | null;
  /** Which parts of `defaultTerm` are adopted. */
  adopt?: { curso?: boolean; semestre?: boolean; year?: boolean };
}): TermFilters {
  const [chosenCurso, setCurso] = useState(initial.curso ?? '');
  const [chosenSemestre, setSemestre] = useState(initial.semestre ?? '');
  const [chosenYearText, setYearText] = useState(initial.yearText ?? '');
  const [touched, setTouched] = useState(false);
  // Until the user changes a filter, the adopted parts follow the newest grade's term.
  const following = touched ? null : defaultTerm;
  const curso = following && adopt.curso ? following.curso : chosenCurso;
  const semestre = following && adopt.semestre ? following.semestre : chosenSemestre;
  const yearText = following && adopt.year && following.year !== null ? String(following.year) : chosenYearText;

  const [debouncedYear, flushYear] = useDebounced(yearText, 400);
  const year = parseYear(debouncedYear);
  const touch = (set: (v: string) => void) => (v: string) => {
    if (!touched) {
      // The first change keeps what was shown for the other filters.
      setCurso(curso);
      setSemestre(semestre);
      setYearText(yearText);
      setTouched(true);
    }
    set(v);
  };
  return {
    curso,
    semestre,
    yearText,
    setCurso: touch(setCurso),
    setSemestre: touch(setSemestre),
    setYearText: touch(setYearText),
    year,
    yearInvalid: !parseYear(yearText).ok,
    flushYear,
    filters: year.ok ? { curso, semestre, year: year.year } : null,
  };
}

export interface FilteredQuery<T> extends Polled<T> {
  /** The filters it asks with. */
  filter: TermFilters;
  /** Fetches again now (and applies a year typed less than the debounce ago). */
  refresh: () => void;
}

/**
 * Polls `fetch` with the current filters (again on every filter change, on `refreshAll` and on
 * `refresh()`). `ready` says whether the filters are complete enough to ask (e.g. pass/fail needs
 * a course and a semester); `extraKey` adds what else the answer depends on (the grades page).
 */
export function useFilteredQuery<T>(
  filter: TermFilters,
  fetch: (filters: Filters, signal: AbortSignal) => Promise<T>,
  { refreshAll, ready = () => true, extraKey = '' }: { refreshAll: number; ready?: (f: Filters) => boolean; extraKey?: string },
): FilteredQuery<T> {
  const [refresh, setRefresh] = useState(0);
  const { filters, flushYear } = filter;
  const key = filters && ready(filters) ? `${filters.curso}|${filters.semestre}|${filters.year ?? ''}|${extraKey}` : null;
  const polled = usePolled(key, (signal) => (filters ? fetch(filters, signal) : Promise.reject(new Error('no filters'))), `${refresh}:${refreshAll}`);
  return {
    ...polled,
    filter,
    refresh: () => {
      flushYear();
      setRefresh((n) => n + 1);
    },
  };
}

/** Which filter controls a panel shows. */
export interface FieldOptions {
  /** Shows the course select when given. */
  courses?: Course[];
  allCourses?: boolean;
  allSemesters?: boolean;
  yearPlaceholder?: string;
}

/** The filter controls of a panel, named `${prefix}-course`, `-semester`, `-year` for tests. */
export function FilterFields({
  filter,
  prefix,
  courses,
  allCourses = false,
  allSemesters = false,
  yearPlaceholder,
}: FieldOptions & { filter: TermFilters; prefix: string }) {
  return (
    <>
      {courses ? <CourseSelect courses={courses} value={filter.curso} onChange={filter.setCurso} testId={`${prefix}-course`} allowAll={allCourses} /> : null}
      <SemesterSelect value={filter.semestre} onChange={filter.setSemestre} testId={`${prefix}-semester`} allowAll={allSemesters} />
      <YearInput value={filter.yearText} onChange={filter.setYearText} testId={`${prefix}-year`} placeholder={yearPlaceholder} invalid={filter.yearInvalid} />
    </>
  );
}

/**
 * A panel showing one filtered query: title with the last update, a refresh button, the filter
 * controls (`fields`, then `toolbar`), and the body for each state (invalid year, error, loading,
 * empty, data); its grid area is `area-${prefix}`, its test ids `panel-${prefix}`,
 * `${prefix}-error`, `${prefix}-empty` and `${prefix}-refresh`.
 */
export function FilterPanel<T>({
  title,
  subtitle,
  prefix,
  query,
  fields = {},
  toolbar,
  empty,
  wrapBody = (body) => body,
  children,
}: {
  title: ReactNode;
  /** Before the "updated" time. */
  subtitle: ReactNode;
  prefix: string;
  query: FilteredQuery<T>;
  fields?: FieldOptions;
  /** After the filter controls (the grades table's pager). */
  toolbar?: ReactNode;
  /** The message when the answer has nothing to show; null when it has. */
  empty: (data: T) => ReactNode | null;
  /** Puts every state's body in an element of the panel's own (the grades table measures it). */
  wrapBody?: (body: ReactNode) => ReactNode;
  children: (data: T) => ReactNode;
}) {
  const { data, error, loading, updatedAt, filter } = query;
  let body: ReactNode;
  if (!filter.year.ok) body = <ErrorState message={filter.year.message} testId={`${prefix}-error`} />;
  else if (error) body = <ErrorState message={error} testId={`${prefix}-error`} />;
  else if (data === null) body = <Loading />;
  else {
    const emptyMessage = empty(data);
    body = emptyMessage !== null ? <EmptyState message={emptyMessage} testId={`${prefix}-empty`} /> : children(data);
  }
  return (
    <Panel
      title={title}
      subtitle={<>{subtitle} <UpdatedAt at={updatedAt} /></>}
      className={`area-${prefix}`}
      testId={`panel-${prefix}`}
      actions={<RefreshButton onClick={query.refresh} busy={loading} testId={`${prefix}-refresh`} />}
      toolbar={
        <>
          <FilterFields filter={filter} prefix={prefix} {...fields} />
          {toolbar}
        </>
      }
    >
      {wrapBody(body)}
    </Panel>
  );
}
