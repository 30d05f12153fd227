/**
 * Wire types of the realtime service (docs/CONTRACTS.md). The bodies and events realtime sends are
 * generated from its Rust types into `./wire.ts` (`just wire-types`; `just test` fails while it is
 * stale); the names the dashboard uses are given to them here.
 */
import type * as wire from './wire';

export type RouteName = wire.Route;
export type Grade = wire.StoredGrade;
export type RouteCount = wire.RouteCounts;
/** Socket.IO `total` event and `GET /api/live`. */
export type TotalEvent = wire.Totals;
/** Socket.IO `students` event. */
export type StudentsEvent = wire.StudentCount;
export type Course = wire.Course;
export type GradesPage = wire.GradePage;
export type PassFail = wire.PassFail;
export type TopCourse = wire.CourseStudents;
export type TopCourses = wire.TopCourses;
export type TopStudent = wire.StudentAverage;
export type TopStudents = wire.TopStudents;
export type RouteStat = wire.RouteStat;
/** Socket.IO `routes` event and `GET /api/stats/routes`. */
export type RouteStats = wire.RouteStats;
/** RFC 9457 problem details: every field optional, since an error may come from a proxy in front. */
export type Problem = Partial<wire.Problem>;

/** A course term the students panel follows (the dashboard's own selection, not a wire type). */
export interface StudentsSelection {
  curso: string;
  semestre: string;
  year: number;
}

// `GET /api/compare` serves docs/compare.json as `grades-bench report` writes it (crates/bench).

/** CPU and memory of one process in the published comparison's half-load run. */
export interface CompareProcessCost {
  cpu_seconds_per_1000: number;
  rss_idle_mib: number;
  rss_peak_mib: number;
}

/** One route of `GET /api/compare`. */
export interface CompareRoute {
  route: RouteName;
  /** Highest offered rate that held (grades/s); null when no step held. */
  max_sustainable_per_sec: number | null;
  /** Latency and cost at half of that rate (equal, comfortable load); null when no step held. */
  half_load: {
    offered_per_sec: number;
    served_per_sec: number;
    p50_ms: number;
    p99_ms: number;
    cpu_seconds_per_1000: number;
    processes: Record<string, CompareProcessCost>;
  } | null;
}

/** `GET /api/compare`: the published `just compare` result (docs/compare.json), not live figures. */
export interface CompareSummary {
  /** RFC 3339, UTC. */
  measured_at: string;
  machine: string;
  command: string;
  slo_p99_ms: number;
  students: number;
  step_seconds: number;
  routes: CompareRoute[];
}
