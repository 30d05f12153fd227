import { Bar, BarChart, CartesianGrid, LabelList, Tooltip, XAxis, YAxis } from 'recharts';
import { averageAxisMin, averageAxisTicks, toTopStudentBars, type TopStudentBar } from '../lib/charts';
import { formatAverage, formatNumber } from '../lib/format';
import { palette } from '../lib/palette';
import { useRealtimeApi } from '../realtime';
import { FilterPanel, useFilteredQuery, useTermFilters } from './FilterPanel';
import { Chart, tooltipStyle } from './ui';

export function TopStudents({ refreshAll }: { refreshAll: number }) {
  const { api } = useRealtimeApi();
  const filter = useTermFilters({ initial: {} });
  const query = useFilteredQuery(
    filter,
    (f, signal) => api.topStudents({ semestre: f.semestre || undefined, year: f.year, limit: 5 }, signal),
    { refreshAll },
  );
  const scope = [filter.semestre || 'all semesters', filter.year.ok && filter.year.year !== null ? String(filter.year.year) : 'all years'].join(' · ');

  return (
    <FilterPanel
      title="Top 5 students"
      subtitle={<>by average · {scope}</>}
      prefix="topstudents"
      query={query}
      fields={{ allSemesters: true }}
      empty={(data) => (toTopStudentBars(data, 5).length ? null : `No grades yet for ${scope}`)}
    >
      {(data) => {
        const bars = toTopStudentBars(data, 5);
        return (
          <Chart testId="topstudents-chart" count={bars.length}>
            <BarChart data={bars} layout="vertical" margin={{ top: 4, right: 56, bottom: 0, left: 4 }} barCategoryGap="22%">
              <defs>
                <linearGradient id="avgGrad" x1="0" y1="0" x2="1" y2="0">
                  <stop offset="0%" stopColor={palette.pass} stopOpacity={0.55} />
                  <stop offset="100%" stopColor={palette.pass} stopOpacity={1} />
                </linearGradient>
              </defs>
              <CartesianGrid horizontal={false} stroke={palette.grid} />
              <XAxis type="number" domain={[averageAxisMin(bars), 100]} ticks={averageAxisTicks(averageAxisMin(bars))} tickLine={false} axisLine={false} tick={{ fill: palette.tick, fontSize: 12 }} />
              <YAxis type="category" dataKey="label" width={140} interval={0} tickLine={false} axisLine={false} tick={{ fill: palette.category, fontSize: 12.5 }} />
              <Tooltip
                {...tooltipStyle}
                formatter={(v) => [formatAverage(Number(v)), 'average']}
                labelFormatter={(_, p) => {
                  const b = p?.[0]?.payload as TopStudentBar | undefined;
                  return b ? `${b.nombre} · ${b.carnet} · ${formatNumber(b.grades)} grades` : '';
                }}
              />
              <Bar dataKey="average" fill="url(#avgGrad)" radius={[0, 6, 6, 0]} isAnimationActive={false} maxBarSize={30}>
                <LabelList dataKey="average" position="right" formatter={(v) => formatAverage(Number(v))} fill={palette.text} fontSize={13} fontWeight={700} />
              </Bar>
            </BarChart>
          </Chart>
        );
      }}
    </FilterPanel>
  );
}
