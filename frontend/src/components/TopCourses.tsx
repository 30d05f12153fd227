import { Bar, BarChart, CartesianGrid, Cell, LabelList, Tooltip, XAxis, YAxis } from 'recharts';
import { toTopCourseBars } from '../lib/charts';
import { formatCompact, formatNumber } from '../lib/format';
import type { Term } from '../lib/terms';
import { useRealtimeApi } from '../realtime';
import { FilterPanel, useFilteredQuery, useTermFilters } from './FilterPanel';
import { palette } from '../lib/palette';
import { Chart, tooltipStyle } from './ui';

export function TopCourses({ defaultTerm, refreshAll }: { defaultTerm: Term | null; refreshAll: number }) {
  const { api } = useRealtimeApi();
  const filter = useTermFilters({ initial: { semestre: '2S' }, defaultTerm, adopt: { semestre: true } });
  const query = useFilteredQuery(filter, (f, signal) => api.topCourses({ semestre: f.semestre, year: f.year, limit: 3 }, signal), { refreshAll });
  const termLabel = `${filter.semestre} ${filter.year.ok && filter.year.year !== null ? filter.year.year : '(all years)'}`;

  return (
    <FilterPanel
      title="Top 3 courses"
      subtitle={<>by distinct students · {termLabel}</>}
      prefix="topcourses"
      query={query}
      empty={(data) => (toTopCourseBars(data, 3).length ? null : `No enrollments yet for ${termLabel}`)}
    >
      {(data) => {
        const bars = toTopCourseBars(data, 3);
        return (
          <Chart testId="topcourses-chart" count={bars.length}>
            <BarChart data={bars} margin={{ top: 26, right: 8, bottom: 0, left: -12 }} barCategoryGap="28%">
              <CartesianGrid vertical={false} stroke={palette.grid} />
              <XAxis dataKey="label" tickLine={false} axisLine={false} tick={{ fill: palette.category, fontSize: 14, fontWeight: 600 }} />
              <YAxis allowDecimals={false} tickLine={false} axisLine={false} tick={{ fill: palette.tick, fontSize: 12 }} tickFormatter={formatCompact} width={48} />
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
                  <Cell key={b.curso} fill={palette.bars[i % palette.bars.length]} />
                ))}
                <LabelList dataKey="students" position="top" formatter={(v) => formatNumber(Number(v))} fill={palette.text} fontSize={14} fontWeight={700} />
              </Bar>
            </BarChart>
          </Chart>
        );
      }}
    </FilterPanel>
  );
}
