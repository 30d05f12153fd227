import { useEffect, useState } from 'react';
import { useAnimatedNumber, useDebounced } from '../hooks';
import { formatNumber } from '../lib/format';
import { describeTerm, parseYear, type Term } from '../lib/terms';
import type { Course } from '../lib/types';
import { useRealtime } from '../realtime';
import { CourseSelect, EmptyState, ErrorState, Loading, Panel, SemesterSelect, YearInput } from './ui';

export function StudentsLive({ courses, defaultTerm }: { courses: Course[]; defaultTerm: Term | null }) {
  const { students, studentsError, subscribeStudents, conn } = useRealtime();
  const [curso, setCurso] = useState('SO1');
  const [semestre, setSemestre] = useState('2S');
  const [yearText, setYearText] = useState(String(new Date().getFullYear()));
  const [touched, setTouched] = useState(false);

  useEffect(() => {
    if (touched || !defaultTerm) return;
    setCurso(defaultTerm.curso);
    setSemestre(defaultTerm.semestre);
    if (defaultTerm.year !== null) setYearText(String(defaultTerm.year));
  }, [defaultTerm, touched]);

  const [debouncedYear] = useDebounced(yearText, 400);
  const year = parseYear(debouncedYear);
  const validYear = year.ok && year.year !== null ? year.year : null;

  useEffect(() => {
    subscribeStudents(curso && semestre && validYear !== null ? { curso, semestre, year: validYear } : null);
  }, [curso, semestre, validYear, subscribeStudents]);

  const matches =
    students && students.curso === curso && students.semestre === semestre && Number(students.year) === validYear;
  const count = matches ? students.students : null;
  const shown = useAnimatedNumber(count);
  const term = describeTerm({ curso, semestre, year: validYear });
  const touch = <T,>(set: (v: T) => void) => (v: T) => {
    setTouched(true);
    set(v);
  };

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
      toolbar={
        <>
          <CourseSelect courses={courses} value={curso} onChange={touch(setCurso)} testId="students-course" />
          <SemesterSelect value={semestre} onChange={touch(setSemestre)} testId="students-semester" />
          <YearInput value={yearText} onChange={touch(setYearText)} testId="students-year" placeholder="Year" invalid={!parseYear(yearText).ok} />
        </>
      }
    >
      {body}
    </Panel>
  );
}
