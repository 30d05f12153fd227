import type { TopCourses, TopStudents } from './types';

export interface TopCourseBar {
  curso: string;
  name: string;
  label: string;
  students: number;
}

/** Top-courses answer -> bars, most students first, at most `limit`. */
export function toTopCourseBars(data: TopCourses | null | undefined, limit = 3): TopCourseBar[] {
  return (data?.items ?? [])
    .filter((c) => c && typeof c.curso === 'string')
    .map((c) => ({
      curso: c.curso,
      name: c.name || c.curso,
      label: c.curso,
      students: Math.max(0, Number(c.students) || 0),
    }))
    .sort((a, b) => b.students - a.students || a.curso.localeCompare(b.curso))
    .slice(0, limit);
}

export interface TopStudentBar {
  carnet: number;
  nombre: string;
  label: string;
  average: number;
  grades: number;
}

/** Top-students answer -> bars, best average first, at most `limit`; labels stay short. */
export function toTopStudentBars(data: TopStudents | null | undefined, limit = 5, maxLabel = 18): TopStudentBar[] {
  return (data?.items ?? [])
    .filter((s) => s && Number.isFinite(Number(s.average)))
    .map((s) => {
      const nombre = (s.nombre ?? '').trim() || String(s.carnet);
      return {
        carnet: Number(s.carnet),
        nombre,
        label: nombre.length > maxLabel ? `${nombre.slice(0, maxLabel - 1)}…` : nombre,
        average: Number(s.average),
        grades: Math.max(0, Number(s.grades) || 0),
      };
    })
    .sort((a, b) => b.average - a.average || a.carnet - b.carnet)
    .slice(0, limit);
}

/** Lower bound of the average axis: zoom in on close scores, but never below 0. */
export function averageAxisMin(bars: TopStudentBar[]): number {
  if (!bars.length) return 0;
  const min = Math.min(...bars.map((b) => b.average));
  return Math.max(0, Math.floor((min - 10) / 10) * 10);
}

/** Round ticks (step 5, 10 or 20) from `min` to 100 for the average axis. */
export function averageAxisTicks(min: number): number[] {
  const span = 100 - min;
  const step = span <= 30 ? 5 : span <= 60 ? 10 : 20;
  const ticks: number[] = [];
  for (let t = 100; t >= min; t -= step) ticks.unshift(t);
  return ticks;
}
