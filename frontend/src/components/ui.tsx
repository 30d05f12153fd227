import type { ReactElement, ReactNode } from 'react';
import { ResponsiveContainer } from 'recharts';
import { formatClock } from '../lib/format';
import { palette } from '../lib/palette';
import { routeLabel } from '../lib/routes';
import { SEMESTERS } from '../lib/terms';
import type { Course, RouteName } from '../lib/types';

export function Panel({
  title,
  subtitle,
  actions,
  toolbar,
  className = '',
  testId,
  children,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
  toolbar?: ReactNode;
  className?: string;
  testId?: string;
  children: ReactNode;
}) {
  return (
    <section className={`panel ${className}`} data-testid={testId}>
      <header className="panel-head">
        <div className="panel-titles">
          <h2 className="panel-title">{title}</h2>
          {subtitle ? <p className="panel-sub">{subtitle}</p> : null}
        </div>
        {actions ? <div className="panel-actions">{actions}</div> : null}
      </header>
      {toolbar ? <div className="panel-toolbar">{toolbar}</div> : null}
      <div className="panel-body">{children}</div>
    </section>
  );
}

export function EmptyState({ message, hint, testId }: { message: ReactNode; hint?: ReactNode; testId?: string }) {
  return (
    <div className="state state-empty" data-testid={testId} role="status">
      <svg className="state-icon" viewBox="0 0 24 24" aria-hidden="true">
        <path d="M4 19V9m5 10V5m5 14v-7m5 7V8" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
      </svg>
      <div className="state-text">{message}</div>
      {hint ? <div className="state-hint">{hint}</div> : null}
    </div>
  );
}

export function ErrorState({ message, testId }: { message: ReactNode; testId?: string }) {
  return (
    <div className="state state-error" data-testid={testId} role="alert">
      <svg className="state-icon" viewBox="0 0 24 24" aria-hidden="true">
        <path d="M12 8v5m0 3.5v.01M10.3 3.9 2.4 17.5A2 2 0 0 0 4.1 20.5h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0Z" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <div className="state-text">{message}</div>
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span className="state-hint">{label}</span>
    </div>
  );
}

export function RefreshButton({ onClick, busy, testId, label = 'Refresh' }: { onClick: () => void; busy?: boolean; testId?: string; label?: string }) {
  return (
    <button type="button" className={`icon-btn${busy ? ' is-busy' : ''}`} onClick={onClick} data-testid={testId} title={label} aria-label={label}>
      <svg viewBox="0 0 24 24" aria-hidden="true">
        <path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
    </button>
  );
}

export function UpdatedAt({ at }: { at: number | null }) {
  if (!at) return null;
  return <span className="updated">updated {formatClock(at)}</span>;
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
    </label>
  );
}

export function CourseSelect({
  courses,
  value,
  onChange,
  testId,
  allowAll = false,
}: {
  courses: Course[];
  value: string;
  onChange: (v: string) => void;
  testId?: string;
  allowAll?: boolean;
}) {
  const known = courses.some((c) => c.code === value);
  return (
    <Field label="Course">
      <select className="control" value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        {allowAll ? <option value="">All courses</option> : null}
        {!known && value ? <option value={value}>{value}</option> : null}
        {courses.map((c) => (
          <option key={c.code} value={c.code} title={c.name}>
            {c.code}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function SemesterSelect({
  value,
  onChange,
  testId,
  allowAll = false,
}: {
  value: string;
  onChange: (v: string) => void;
  testId?: string;
  allowAll?: boolean;
}) {
  return (
    <Field label="Semester">
      <select className="control" value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        {allowAll ? <option value="">All</option> : null}
        {SEMESTERS.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function YearInput({
  value,
  onChange,
  testId,
  placeholder = 'All',
  invalid,
}: {
  value: string;
  onChange: (v: string) => void;
  testId?: string;
  placeholder?: string;
  invalid?: boolean;
}) {
  return (
    <Field label="Year">
      <input
        className={`control control-year${invalid ? ' is-invalid' : ''}`}
        type="text"
        inputMode="numeric"
        maxLength={4}
        placeholder={placeholder}
        value={value}
        onChange={(e) => onChange(e.target.value.replace(/[^0-9]/g, ''))}
        data-testid={testId}
        aria-invalid={invalid || undefined}
      />
    </Field>
  );
}

export function RouteBadge({ route }: { route: RouteName }) {
  return <span className={`badge badge-${route}`}>{routeLabel(route)}</span>;
}

export function NotaChip({ nota }: { nota: number }) {
  return <span className={`nota ${nota >= 61 ? 'nota-pass' : 'nota-fail'}`}>{nota}</span>;
}

export const tooltipStyle = {
  contentStyle: {
    background: palette.tooltip,
    border: `1px solid ${palette.line}`,
    borderRadius: 10,
    color: palette.text,
    fontSize: 13,
    boxShadow: '0 10px 30px rgba(0,0,0,.45)',
  },
  itemStyle: { color: palette.text },
  labelStyle: { color: palette.tooltipLabel, marginBottom: 4 },
  cursor: { fill: 'rgba(148,163,184,0.08)' },
} as const;

/** A chart filling its box (`.chart`); `testId` and `count` (the bars drawn) are for tests. */
export function Chart({ testId, count, children }: { testId?: string; count?: number; children: ReactElement }) {
  return (
    <div className="chart" data-testid={testId} data-count={count}>
      <ResponsiveContainer width="100%" height="100%">
        {children}
      </ResponsiveContainer>
    </div>
  );
}

/** A colour swatch before a label (a route, passed or failed). */
export function Swatch({ color }: { color: string }) {
  return <span className="swatch" style={{ background: color }} />;
}
