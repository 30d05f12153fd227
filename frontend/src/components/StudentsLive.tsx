import { useEffect } from 'react';
import { useAnimatedNumber } from '../hooks';
import { formatNumber } from '../lib/format';
import { describeTerm, type Term } from '../lib/terms';
import type { Course } from '../lib/types';
import { useConnection, useRealtimeApi, useStudentsLive } from '../realtime';
import { FilterFields, useTermFilters } from './FilterPanel';
import { EmptyState, ErrorState, Loading, Panel } from './ui';

export function StudentsLive({ courses, defaultTerm }: { courses: Course[]; defaultTerm: Term | null }) {
  const { subscribeStudents } = useRealtimeApi();
  const { students, studentsError } = useStudentsLive();
  const conn = useConnection();
  const filter = useTermFilters({
    initial: { curso: 'SO1', semestre: '2S', yearText: String(new Date().getFullYear()) },
    defaultTerm,
    adopt: { curso: true, semestre: true, year: true },
  });
  const { curso, semestre, year } = filter;
  const validYear = year.ok && year.year !== null ? year.year : null;

  useEffect(() => {
    subscribeStudents(curso && semestre && validYear !== null ? { curso, semestre, year: validYear } : null);
  }, [curso, semestre, validYear, subscribeStudents]);

  const matches =
    students && students.curso === curso && students.semestre === semestre && Number(students.year) === validYear;
  const count = matches ? students.students : null;
  const shown = useAnimatedNumber(count);
  const term = describeTerm({ curso, semestre, year: validYear });

  let body;
  if (validYear === null) {
    body = <EmptyState message="Pick a year" hint="Distinct students are counted per course, semester and year." />;
  } else if (studentsError) {
    body = <ErrorState message={studentsError} testId="students-error" />;
  } else if (count === null) {
    body = conn.status === 'connected' ? <Loading label={`Subscribing to ${term}…`} /> : <Loading label="Waiting for the live connection…" />;
  } else {
    body = (
      <div className="students">
        <span className="big-number big-number-md" data-testid="students-count" data-value={count}>
          {formatNumber(shown)}
        </span>
        <span className="students-caption">
          {count === 0 ? (
            <span data-testid="students-empty">No students yet for {term}</span>
          ) : (
            <>distinct {count === 1 ? 'student' : 'students'} in <strong>{term}</strong></>
          )}
        </span>
      </div>
    );
  }

  return (
    <Panel
      title="Distinct students"
      subtitle="Live per course term"
      className="area-students"
      testId="panel-students"
      toolbar={<FilterFields filter={filter} prefix="students" courses={courses} yearPlaceholder="Year" />}
    >
      {body}
    </Panel>
  );
}
