import type { CompareSummary, Course, GradesPage, PassFail, Problem, RouteStats, TopCourses, TopStudents, TotalEvent } from './types';

export type QueryValue = string | number | null | undefined;

/** Builds `${base}${path}?query`, dropping null / undefined / '' values. */
export function buildUrl(base: string, path: string, query: Record<string, QueryValue> = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null || v === undefined || v === '') continue;
    qs.append(k, String(v));
  }
  const s = qs.toString();
  return `${base.replace(/\/+$/, '')}${path}${s ? `?${s}` : ''}`;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  constructor(status: number, message: string, problem: Problem | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

/** The human message for a failed answer: problem+json `detail`, else `title`, else the status. */
export function problemMessage(status: number, body: unknown): string {
  const p = (body && typeof body === 'object' ? body : null) as Problem | null;
  const main = (p?.detail && String(p.detail)) || (p?.title && String(p.title)) || `Request failed (HTTP ${status})`;
  // Field errors add to `detail` only when it does not already say the same thing.
  const extra = Array.isArray(p?.errors)
    ? p.errors
        .filter((e) => e && typeof e.message === 'string' && !main.includes(e.message))
        .map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))
    : [];
  return extra.length ? `${main} (${extra.join('; ')})` : main;
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof DOMException && err.name === 'TimeoutError') return 'The realtime service did not answer in time';
  if (err instanceof TypeError) return 'Cannot reach the realtime service';
  if (err instanceof Error) return err.message;
  return String(err);
}

export const REQUEST_TIMEOUT_MS = 8000;

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const res = await fetch(url, {
    headers: { Accept: 'application/json' },
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) throw new ApiError(res.status, problemMessage(res.status, body), (body as Problem) ?? null);
  if (body === null) throw new ApiError(res.status, 'The realtime service sent an empty or non-JSON answer');
  return body as T;
}

/** Typed calls to the realtime HTTP API. */
export function makeApi(base: string) {
  const get = <T>(path: string, q: Record<string, QueryValue>, signal?: AbortSignal) =>
    getJson<T>(buildUrl(base, path, q), signal);
  return {
    courses: (signal?: AbortSignal) => get<Course[]>('/api/courses', {}, signal),
    live: (signal?: AbortSignal) => get<TotalEvent>('/api/live', {}, signal),
    grades: (
      q: { curso?: string; semestre?: string; year?: number | null; limit?: number; cursor?: string | null },
      signal?: AbortSignal,
    ) => get<GradesPage>('/api/grades', q, signal),
    passFail: (q: { curso: string; semestre: string; year?: number | null }, signal?: AbortSignal) =>
      get<PassFail>('/api/stats/pass-fail', q, signal),
    topCourses: (q: { semestre: string; year?: number | null; limit?: number }, signal?: AbortSignal) =>
      get<TopCourses>('/api/stats/top-courses', q, signal),
    topStudents: (q: { semestre?: string; year?: number | null; limit?: number }, signal?: AbortSignal) =>
      get<TopStudents>('/api/stats/top-students', q, signal),
    routes: (signal?: AbortSignal) => get<RouteStats>('/api/stats/routes', {}, signal),
    /** The published `just compare` result; 404 (an ApiError) when none has been written. */
    compare: (signal?: AbortSignal) => get<CompareSummary>('/api/compare', {}, signal),
  };
}

export type Api = ReturnType<typeof makeApi>;
