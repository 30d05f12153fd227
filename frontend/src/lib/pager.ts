/**
 * Cursor paging for `GET /api/grades`: the API only gives `next_cursor`, so "back" is a
 * stack of the cursors that opened each page visited. The first page's cursor is null.
 */
export interface PagerState {
  stack: (string | null)[];
}

export const initialPager: PagerState = { stack: [null] };

export type PagerAction = { type: 'next'; cursor: string | null | undefined } | { type: 'back' } | { type: 'reset' };

export function pagerReducer(state: PagerState, action: PagerAction): PagerState {
  switch (action.type) {
    case 'next':
      if (action.cursor === null || action.cursor === undefined || action.cursor === '') return state;
      return { stack: [...state.stack, action.cursor] };
    case 'back':
      return state.stack.length > 1 ? { stack: state.stack.slice(0, -1) } : state;
    case 'reset':
      return state.stack.length === 1 && state.stack[0] === null ? state : initialPager;
  }
}

/** Cursor to send for the page being shown (null = first page). */
export function currentCursor(state: PagerState): string | null {
  return state.stack[state.stack.length - 1] ?? null;
}

/** 1-based page number. */
export function pageNumber(state: PagerState): number {
  return state.stack.length;
}

export function canGoBack(state: PagerState): boolean {
  return state.stack.length > 1;
}

/**
 * How many table rows fit in `availablePx` (below a `headerPx` header), clamped to [min, max];
 * `fallback` when nothing was measured yet.
 */
export function fitRows(
  availablePx: number | null | undefined,
  rowPx: number,
  { headerPx = 0, min = 5, max = 50, fallback = 10 }: { headerPx?: number; min?: number; max?: number; fallback?: number } = {},
): number {
  if (!availablePx || !Number.isFinite(availablePx) || availablePx <= 0 || !(rowPx > 0)) return fallback;
  const n = Math.floor((availablePx - headerPx) / rowPx);
  return Math.min(max, Math.max(min, n));
}
