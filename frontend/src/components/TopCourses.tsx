import { useEffect, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, LabelList, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { usePolled, useDebounced } from '../hooks';
import { toTopCourseBars } from '../lib/charts';
import { formatCompact, formatNumber } from '../lib/format';
import { parseYear, type Term } from '../lib/terms';
import { useRealtime } from '../realtime';
import { EmptyState, ErrorState, Loading, Panel, RefreshButton, SemesterSelect, UpdatedAt, YearInput, tooltipStyle } from './ui';

const BAR_COLORS = ['#38bdf8', '#818cf8', '#c084fc'];

export function TopCourses({ defaultTerm, refreshAll }: { defaultTerm: Term | null; refreshAll: number }) {
  const { api } = useRealtime();
  const [semestre, setSemestre] = useState('2S');
  const [yearText, setYearText] = useState('');
  const [touched, setTouched] = useState(false);
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    if (touched || !defaultTerm) return;
    setSemestre(defaultTerm.semestre);
  }, [defaultTerm, touched]);

  const [debouncedYear, flushYear] = useDebounced(yearText, 400);
  const year = parseYear(debouncedYear);
  const key = year.ok ? `${semestre}|${year.year ?? ''}` : null;
  const { data, error, loading, updatedAt } = usePolled(
    key,
    (signal) => api.topCourses({ semestre, year: year.ok ? year.year : null, limit: 3 }, signal),
    `${refresh}:${refreshAll}`,
  );
  const bars = toTopCourseBars(data, 3);
  const termLabel = `${semestre} ${year.ok && year.year !== null ? year.year : '(all years)'}`;
  const touch = <T,>(set: (v: T) => void) => (v: T) => {
    setTouched(true);
    set(v);
  };

  let body;
  if (!year.ok) body = <ErrorState message={year.message} testId="topcourses-error" />;
  else if (error) body = <ErrorState message={error} testId="topcourses-error" />;
  else if (!data) body = <Loading />;
  else if (!bars.length) body = <EmptyState message={`No enrollments yet for ${termLabel}`} testId="topcourses-empty" />;
  else
    body = (
      <div className="chart" data-testid="topcourses-chart" data-count={bars.length}>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={bars} margin={{ top: 26, right: 8, bottom: 0, left: -12 }} barCategoryGap="28%">
            <CartesianGrid vertical={false} stroke="#1e2940" />
            <XAxis dataKey="label" tickLine={false} axisLine={false} tick={{ fill: '#c9d3e6', fontSize: 14, fontWeight: 600 }} />
            <YAxis allowDecimals={false} tickLine={false} axisLine={false} tick={{ fill: '#7d8aa6', fontSize: 12 }} tickFormatter={formatCompact} width={48} />
            <Tooltip
              {...tooltipStyle}
              formatter={(v) => [formatNumber(Number(v)), 'students']}
              labelFormatter={(_, p) => {
                const b = p?.[0]?.payload as { curso?: string; name?: string } | undefined;
                return b ? `${b.curso} · ${b.name}` : '';
              }}
            />
            <Bar dataKey="students" radius={[8, 8, 0, 0]} isAnimationActive={false} maxBarSize={88}>
              {bars.map((b, i) => (
                <Cell key={b.curso} fill={BAR_COLORS[i % BAR_COLORS.length]} />
              ))}
              <LabelList dataKey="students" position="top" formatter={(v) => formatNumber(Number(v))} fill="#e7ecf5" fontSize={14} fontWeight={700} />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
    );

  return (
    <Panel
      title="Top 3 courses"
      subtitle={<>by distinct students · {termLabel} <UpdatedAt at={updatedAt} /></>}
      className="area-topcourses"
      testId="panel-topcourses"
      actions={
        <RefreshButton
          onClick={() => {
            flushYear();
            setRefresh((n) => n + 1);
          }}
          busy={loading}
          testId="topcourses-refresh"
        />
      }
      toolbar={
        <>
          <SemesterSelect value={semestre} onChange={touch(setSemestre)} testId="topcourses-semester" />
          <YearInput value={yearText} onChange={touch(setYearText)} testId="topcourses-year" invalid={!parseYear(yearText).ok} />
        </>
      }
    >
      {body}
    </Panel>
  );
}
