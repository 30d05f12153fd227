import { useCallback, useEffect, useEffectEvent, useRef, useState, type RefObject } from 'react';
import { errorMessage } from './lib/api';
import { fitRows } from './lib/pager';

export interface Polled<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  updatedAt: number | null;
}

export const STATIC_REFRESH_MS = 10_000;

/**
 * Fetches `fetcher` whenever `key` or `refreshToken` changes, then every `intervalMs`
 * (skipped while the tab is hidden). `key === null` means "nothing to fetch yet".
 * Answers that arrive for an older key or an older request are dropped.
 */
export function usePolled<T>(
  key: string | null,
  fetcher: (signal: AbortSignal) => Promise<T>,
  refreshToken: string | number,
  intervalMs: number = STATIC_REFRESH_MS,
): Polled<T> {
  // The latest fetcher, called by the effect without making it a dependency.
  const fetchLatest = useEffectEvent(fetcher);
  const [state, setState] = useState<Polled<T> & { key: string | null }>({
    key: null,
    data: null,
    error: null,
    loading: false,
    updatedAt: null,
  });

  useEffect(() => {
    // No key: nothing to fetch; the answer below is empty while the stored key differs.
    if (key === null) return;
    let disposed = false;
    let seq = 0;
    let ctrl: AbortController | null = null;
    const run = () => {
      ctrl?.abort();
      const mine = new AbortController();
      ctrl = mine;
      const n = ++seq;
      setState((s) =>
        s.key === key ? { ...s, loading: true } : { key, data: null, error: null, loading: true, updatedAt: null },
      );
      fetchLatest(mine.signal).then(
        (data) => {
          if (disposed || n !== seq) return;
          setState({ key, data, error: null, loading: false, updatedAt: Date.now() });
        },
        (err: unknown) => {
          if (disposed || n !== seq || mine.signal.aborted) return;
          setState((s) => ({ ...s, key, error: errorMessage(err), loading: false, updatedAt: Date.now() }));
        },
      );
    };
    run();
    const id = window.setInterval(() => {
      if (!document.hidden) run();
    }, intervalMs);
    return () => {
      disposed = true;
      ctrl?.abort();
      window.clearInterval(id);
    };
  }, [key, refreshToken, intervalMs]);

  const fresh = state.key === key;
  return {
    data: fresh ? state.data : null,
    error: fresh ? state.error : null,
    loading: fresh ? state.loading : key !== null,
    updatedAt: fresh ? state.updatedAt : null,
  };
}

/** `value`, once it has stopped changing for `ms`; `flush()` applies the latest value at once. */
export function useDebounced<T>(value: T, ms = 350): [T, () => void] {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(id);
  }, [value, ms]);
  const flush = useCallback(() => setV(value), [value]);
  return [v, flush];
}

const reducedMotion = () =>
  typeof window !== 'undefined' && window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;

/** Tweens a displayed number towards `target` (ease-out), for the big live counters. */
export function useAnimatedNumber(target: number | null, durationMs = 700): number | null {
  const [shown, setShown] = useState<number | null>(target);
  const shownRef = useRef<number | null>(target);
  // A jump (no number before, none now, or reduced motion) is shown in this very render; any other
  // change is tweened by the effect.
  const jump = target === null || shown === null || reducedMotion();
  if (jump && shown !== target) setShown(target);
  useEffect(() => {
    const from = shownRef.current;
    if (target === null || from === null || from === target || reducedMotion()) {
      shownRef.current = target;
      return;
    }
    let raf = 0;
    const start = performance.now();
    const step = (now: number) => {
      const p = Math.min(1, (now - start) / durationMs);
      const eased = 1 - Math.pow(1 - p, 3);
      const v = Math.round(from + (target - from) * eased);
      shownRef.current = v;
      setShown(v);
      if (p < 1) raf = requestAnimationFrame(step);
    };
    raf = requestAnimationFrame(step);
    return () => cancelAnimationFrame(raf);
  }, [target, durationMs]);
  return jump ? target : shown;
}

/** Re-renders every `ms` (for relative times). */
export function useNow(ms = 5000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(id);
  }, [ms]);
  return now;
}

/**
 * Number of table rows that fit in the element (re-measured on resize), for layouts where the
 * element's height comes from the page and not from its content. `fallback` on small screens
 * (`autoHeightQuery`), where the panel grows with its content.
 */
export function useFitRows(
  ref: RefObject<HTMLElement | null>,
  opts: { rowPx: number; headerPx: number; min: number; max: number; fallback: number; autoHeightQuery: string },
  /** Changes when rows are (re)rendered, so the real row height replaces the `rowPx` guess. */
  remeasureKey?: unknown,
): number {
  const [rows, setRows] = useState(opts.fallback);
  // Last real row/header heights: while a page loads (no rows) they stand in for the guesses,
  // so the limit cannot flip-flop between an estimate and a measurement.
  const lastRowH = useRef(0);
  const lastHeadH = useRef(0);
  const { rowPx, headerPx, min, max, fallback, autoHeightQuery } = opts;
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    let timer = 0;
    const measure = () => {
      if (window.matchMedia(autoHeightQuery).matches) return setRows(fallback);
      const row = el.querySelector('tbody tr');
      const head = el.querySelector('thead');
      const measuredRow = row ? row.getBoundingClientRect().height : 0;
      const measuredHead = head ? head.getBoundingClientRect().height : 0;
      if (measuredRow > 10) lastRowH.current = measuredRow;
      if (measuredHead > 10) lastHeadH.current = measuredHead + 2;
      const rowH = lastRowH.current || rowPx;
      const headH = lastHeadH.current || headerPx;
      setRows(fitRows(el.clientHeight, rowH, { headerPx: headH, min, max, fallback }));
    };
    const ro = new ResizeObserver(() => {
      window.clearTimeout(timer);
      timer = window.setTimeout(measure, 120);
    });
    ro.observe(el);
    measure();
    return () => {
      ro.disconnect();
      window.clearTimeout(timer);
    };
  }, [ref, rowPx, headerPx, min, max, fallback, autoHeightQuery, remeasureKey]);
  return rows;
}
