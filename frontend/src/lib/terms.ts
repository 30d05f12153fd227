import type { Grade } from './types';

export const SEMESTERS = ['1S', '2S'] as const;

export interface Term {
  curso: string;
  semestre: string;
  year: number | null;
}

/** "SO1 2S 2023", or "SO1 2S (all years)" when year is null. */
export function describeTerm(t: Partial<Term>): string {
  const parts = [t.curso, t.semestre].filter(Boolean) as string[];
  if (t.year !== null && t.year !== undefined) parts.push(String(t.year));
  else parts.push('(all years)');
  return parts.join(' ');
}

export type ParsedYear = { ok: true; year: number | null } | { ok: false; message: string };

/** '' -> all years (null); 4 digits -> that year; anything else is invalid. */
export function parseYear(input: string): ParsedYear {
  const s = input.trim();
  if (s === '') return { ok: true, year: null };
  if (!/^\d{4}$/.test(s)) return { ok: false, message: 'Year must have 4 digits' };
  return { ok: true, year: Number(s) };
}

/** Term of the newest grade in the feed, used to pre-select something that has data. */
export function newestTerm(grades: Grade[]): Term | null {
  if (!grades.length) return null;
  const g = grades.reduce((a, b) => (b.id > a.id ? b : a));
  return { curso: g.curso, semestre: g.semestre, year: g.year };
}
