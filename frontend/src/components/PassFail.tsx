import { Cell, Pie, PieChart, ResponsiveContainer, Tooltip } from 'recharts';
import { formatNumber, formatPercent } from '../lib/format';
import { FAILED_COLOR, PASSED_COLOR, toPassFailPie } from '../lib/passfail';
import { describeTerm, type Term } from '../lib/terms';
import type { Course, PassFail as PassFailAnswer } from '../lib/types';
import { useRealtimeApi } from '../realtime';
import { FilterPanel, useFilteredQuery, useTermFilters } from './FilterPanel';
import { EmptyState, Swatch, tooltipStyle } from './ui';

export function PassFail({ courses, defaultTerm, refreshAll }: { courses: Course[]; defaultTerm: Term | null; refreshAll: number }) {
  const { api } = useRealtimeApi();
  const filter = useTermFilters({
    initial: { curso: 'SO1', semestre: '2S' },
    defaultTerm,
    adopt: { curso: true, semestre: true, year: true },
  });
  const query = useFilteredQuery(filter, (f, signal) => api.passFail(f, signal), {
    refreshAll,
    ready: (f) => !!f.curso && !!f.semestre,
  });
  const term = describeTerm({ curso: filter.curso, semestre: filter.semestre, year: filter.year.ok ? filter.year.year : null });

  const chart = (data: PassFailAnswer) => {
    const pie = toPassFailPie(data);
    return (
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
            <span className="kpi-label"><Swatch color={PASSED_COLOR} />Passed</span>
            <span className="kpi-value" data-testid="passfail-passed" data-value={pie.passed}>{formatNumber(pie.passed)}</span>
            <span className="kpi-note">nota ≥ 61</span>
          </div>
          <div className="kpi">
            <span className="kpi-label"><Swatch color={FAILED_COLOR} />Failed</span>
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
  };

  return (
    <FilterPanel
      title="Pass / fail"
      subtitle={term}
      prefix="passfail"
      query={query}
      fields={{ courses }}
      empty={() => null}
    >
      {chart}
    </FilterPanel>
  );
}
