/**
 * The dashboard's colours for the props that take one (chart strokes and fills, inline
 * backgrounds): each a variable of the stylesheet (`:root` in styles.css), which holds the values.
 */
function cssVar(name: string): string {
  return `var(--${name})`;
}

export const palette = {
  text: cssVar('text'),
  grpc: cssVar('grpc'),
  rest: cssVar('rest'),
  pass: cssVar('pass'),
  fail: cssVar('fail'),
  /** Chart grid lines. */
  grid: cssVar('chart-grid'),
  /** Numbers along an axis. */
  tick: cssVar('chart-tick'),
  /** Names along an axis (courses, students). */
  category: cssVar('chart-category'),
  /** The top-courses bars, first to third. */
  bars: [cssVar('bar-1'), cssVar('bar-2'), cssVar('bar-3')],
  tooltip: cssVar('tooltip'),
  tooltipLabel: cssVar('tooltip-label'),
  line: cssVar('line-2'),
  logo: cssVar('logo'),
} as const;
