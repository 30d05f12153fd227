import { useEffect, useState } from 'react';
import { Cell, Pie, PieChart, ResponsiveContainer, Tooltip } from 'recharts';
import { usePolled, useDebounced } from '../hooks';
import { formatNumber, formatPercent } from '../lib/format';
import { FAILED_COLOR, PASSED_COLOR, toPassFailPie } from '../lib/passfail';
import { describeTerm, parseYear, type Term } from '../lib/terms';
import type { Course } from '../lib/types';
import { useRealtime } from '../realtime';
import { CourseSelect, EmptyState, ErrorState, Loading, Panel, RefreshButton, SemesterSelect, UpdatedAt, YearInput, tooltipStyle } from './ui';

export function PassFail({ courses, defaultTerm, refreshAll }: { courses: Course[]; defaultTerm: Term | null; refreshAll: number }) {
  const { api } = useRealtime();
  const [curso, setCurso] = useState('SO1');
  const [semestre, setSemestre] = useState('2S');
  const [yearText, setYearText] = useState('');
  const [touched, setTouched] = useState(false);
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    if (touched || !defaultTerm) return;
    setCurso(defaultTerm.curso);
    setSemestre(defaultTerm.semestre);
    setYearText(defaultTerm.year === null ? '' : String(defaultTerm.year));
  }, [defaultTerm, touched]);

  const [debouncedYear, flushYear] = useDebounced(yearText, 400);
  const year = parseYear(debouncedYear);
  const key = curso && semestre && year.ok ? `${curso}|${semestre}|${year.year ?? ''}` : null;
  const { data, error, loading, updatedAt } = usePolled(
    key,
    (signal) => api.passFail({ curso, semestre, year: year.ok ? year.year : null }, signal),
    `${refresh}:${refreshAll}`,
  );
  const pie = toPassFailPie(data);
  const term = describeTerm({ curso, semestre, year: year.ok ? year.year : null });
  const touch = <T,>(set: (v: T) => void) => (v: T) => {
    setTouched(true);
    set(v);
  };
  const onRefresh = () => {
    // An explicit refresh also applies a year typed less than the debounce ago.
    flushYear();
    setRefresh((n) => n + 1);
  };

  let body;
  if (!year.ok) body = <ErrorState message={year.message} testId="passfail-error" />;
  else if (error) body = <ErrorState message={error} testId="passfail-error" />;
  else if (!data) body = <Loading />;
  else
    body = (
      <div className="passfail">
        <div className="passfail-chart">
          {pie.empty ? (
            <EmptyState message={`No grades yet for ${term}`} testId="passfail-empty" />
          ) : (
            <>
              <ResponsiveContainer width="100%" height="100%">
                <PieChart>
                  <Pie
                    data={pie.slices}
                    dataKey="value"
                    nameKey="name"
                    innerRadius="66%"
                    outerRadius="94%"
                    paddingAngle={pie.slices.length > 1 ? 2 : 0}
                    stroke="none"
                    startAngle={90}
                    endAngle={-270}
                    isAnimationActive={false}
                  >
                    {pie.slices.map((s) => (
                      <Cell key={s.key} fill={s.color} />
                    ))}
                  </Pie>
                  <Tooltip {...tooltipStyle} formatter={(v) => formatNumber(Number(v))} />
                </PieChart>
              </ResponsiveContainer>
              <div className="donut-center" aria-hidden="true">
                <span className="donut-value" data-testid="passfail-rate">{formatPercent(pie.passRate, 0)}</span>
                <span className="donut-label">pass rate</span>
              </div>
            </>
          )}
        </div>
        <div className="passfail-legend">
          <div className="kpi">
            <span className="kpi-label"><span className="swatch" style={{ background: PASSED_COLOR }} />Passed</span>
            <span className="kpi-value" data-testid="passfail-passed" data-value={pie.passed}>{formatNumber(pie.passed)}</span>
            <span className="kpi-note">nota ≥ 61</span>
          </div>
          <div className="kpi">
            <span className="kpi-label"><span className="swatch" style={{ background: FAILED_COLOR }} />Failed</span>
            <span className="kpi-value" data-testid="passfail-failed" data-value={pie.failed}>{formatNumber(pie.failed)}</span>
            <span className="kpi-note">nota &lt; 61</span>
          </div>
          <div className="kpi kpi-total">
            <span className="kpi-label">Total</span>
            <span className="kpi-value kpi-value-sm" data-testid="passfail-total">{formatNumber(pie.total)}</span>
          </div>
        </div>
      </div>
    );

  return (
    <Panel
      title="Pass / fail"
      subtitle={<>{term} <UpdatedAt at={updatedAt} /></>}
      className="area-passfail"
      testId="panel-passfail"
      actions={<RefreshButton onClick={onRefresh} busy={loading} testId="passfail-refresh" />}
      toolbar={
        <>
          <CourseSelect courses={courses} value={curso} onChange={touch(setCurso)} testId="passfail-course" />
          <SemesterSelect value={semestre} onChange={touch(setSemestre)} testId="passfail-semester" />
          <YearInput value={yearText} onChange={touch(setYearText)} testId="passfail-year" invalid={!parseYear(yearText).ok} />
        </>
      }
    >
      {body}
    </Panel>
  );
}
