import { useState } from 'react';
import { Bar, BarChart, CartesianGrid, LabelList, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { usePolled, useDebounced } from '../hooks';
import { averageAxisMin, averageAxisTicks, toTopStudentBars, type TopStudentBar } from '../lib/charts';
import { formatAverage, formatNumber } from '../lib/format';
import { parseYear } from '../lib/terms';
import { useRealtime } from '../realtime';
import { EmptyState, ErrorState, Loading, Panel, RefreshButton, SemesterSelect, UpdatedAt, YearInput, tooltipStyle } from './ui';

export function TopStudents({ refreshAll }: { refreshAll: number }) {
  const { api } = useRealtime();
  const [semestre, setSemestre] = useState('');
  const [yearText, setYearText] = useState('');
  const [refresh, setRefresh] = useState(0);

  const [debouncedYear, flushYear] = useDebounced(yearText, 400);
  const year = parseYear(debouncedYear);
  const key = year.ok ? `${semestre}|${year.year ?? ''}` : null;
  const { data, error, loading, updatedAt } = usePolled(
    key,
    (signal) => api.topStudents({ semestre: semestre || undefined, year: year.ok ? year.year : null, limit: 5 }, signal),
    `${refresh}:${refreshAll}`,
  );
  const bars = toTopStudentBars(data, 5);
  const scope = [semestre || 'all semesters', year.ok && year.year !== null ? String(year.year) : 'all years'].join(' · ');

  let body;
  if (!year.ok) body = <ErrorState message={year.message} testId="topstudents-error" />;
  else if (error) body = <ErrorState message={error} testId="topstudents-error" />;
  else if (!data) body = <Loading />;
  else if (!bars.length) body = <EmptyState message={`No grades yet for ${scope}`} testId="topstudents-empty" />;
  else
    body = (
      <div className="chart" data-testid="topstudents-chart" data-count={bars.length}>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={bars} layout="vertical" margin={{ top: 4, right: 56, bottom: 0, left: 4 }} barCategoryGap="22%">
            <defs>
              <linearGradient id="avgGrad" x1="0" y1="0" x2="1" y2="0">
                <stop offset="0%" stopColor="#34d399" stopOpacity={0.55} />
                <stop offset="100%" stopColor="#34d399" stopOpacity={1} />
              </linearGradient>
            </defs>
            <CartesianGrid horizontal={false} stroke="#1e2940" />
            <XAxis type="number" domain={[averageAxisMin(bars), 100]} ticks={averageAxisTicks(averageAxisMin(bars))} tickLine={false} axisLine={false} tick={{ fill: '#7d8aa6', fontSize: 12 }} />
            <YAxis type="category" dataKey="label" width={140} interval={0} tickLine={false} axisLine={false} tick={{ fill: '#c9d3e6', fontSize: 12.5 }} />
            <Tooltip
              {...tooltipStyle}
              formatter={(v) => [formatAverage(Number(v)), 'average']}
              labelFormatter={(_, p) => {
                const b = p?.[0]?.payload as TopStudentBar | undefined;
                return b ? `${b.nombre} · ${b.carnet} · ${formatNumber(b.grades)} grades` : '';
              }}
            />
            <Bar dataKey="average" fill="url(#avgGrad)" radius={[0, 6, 6, 0]} isAnimationActive={false} maxBarSize={30}>
              <LabelList dataKey="average" position="right" formatter={(v) => formatAverage(Number(v))} fill="#e7ecf5" fontSize={13} fontWeight={700} />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
    );

  return (
    <Panel
      title="Top 5 students"
      subtitle={<>by average · {scope} <UpdatedAt at={updatedAt} /></>}
      className="area-topstudents"
      testId="panel-topstudents"
      actions={
        <RefreshButton
          onClick={() => {
            flushYear();
            setRefresh((n) => n + 1);
          }}
          busy={loading}
          testId="topstudents-refresh"
        />
      }
      toolbar={
        <>
          <SemesterSelect value={semestre} onChange={setSemestre} testId="topstudents-semester" allowAll />
          <YearInput value={yearText} onChange={setYearText} testId="topstudents-year" invalid={!parseYear(yearText).ok} />
        </>
      }
    >
      {body}
    </Panel>
  );
}
