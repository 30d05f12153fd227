/** Wire types of the realtime service (docs/CONTRACTS.md). */

export type RouteName = 'grpc' | 'rest' | (string & {});

export interface Grade {
  id: number;
  carnet: number;
  nombre: string;
  curso: string;
  nota: number;
  semestre: string;
  year: number;
  route: RouteName;
  created_at: string;
}

export type RouteCount = Record<string, number>;

/** Socket.IO `total` event and `GET /api/live`. */
export interface TotalEvent {
  total: number;
  route_count: RouteCount;
}

/** Socket.IO `students` event. */
export interface StudentsEvent {
  curso: string;
  semestre: string;
  year: number;
  students: number;
}

export interface StudentsSelection {
  curso: string;
  semestre: string;
  year: number;
}

export interface Course {
  code: string;
  name: string;
}

export interface GradesPage {
  items: Grade[];
  next_cursor: string | null;
}

export interface PassFail {
  curso: string;
  semestre: string;
  year: number | null;
  passed: number;
  failed: number;
}

export interface TopCourse {
  curso: string;
  name: string;
  students: number;
}

export interface TopCourses {
  semestre: string;
  year: number | null;
  items: TopCourse[];
}

export interface TopStudent {
  carnet: number;
  nombre: string;
  average: number;
  grades: number;
}

export interface TopStudents {
  semestre: string | null;
  year: number | null;
  items: TopStudent[];
}

export interface RouteStat {
  route: RouteName;
  stored: number;
  requests: number;
  throughput_per_sec: number;
  p50_ms: number | null;
  /** 95 % confidence interval of p50, [low, high]; null under 2 requests. */
  p50_interval_ms?: [number, number] | null;
  p99_ms: number | null;
}

/** Socket.IO `routes` event and `GET /api/stats/routes`. */
export interface RouteStats {
  window_seconds: number;
  routes: RouteStat[];
}

/** RFC 9457 problem details, as returned by every API error. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { field: string; message: string }[];
}

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
