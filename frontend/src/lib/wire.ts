// Generated from the Rust types by crates/realtime/src/wire.rs: do not edit.
// Regenerate with `just wire-types`.

export type Route = "grpc" | "rest";

export type StoredGrade = { 
/**
 * Its place in commit order: larger ids committed later.
 */
id: number, 
/**
 * The student.
 */
carnet: number, 
/**
 * The student's name as sent with this grade.
 */
nombre: string, 
/**
 * Upper-case course code.
 */
curso: string, 
/**
 * The grade, 0 to 100.
 */
nota: number, 
/**
 * `1S` or `2S`.
 */
semestre: string, 
/**
 * The academic year.
 */
year: number, 
/**
 * The route that stored it.
 */
route: Route, 
/**
 * When it was committed (MySQL's clock, UTC, milliseconds).
 */
created_at: string, };

export type Course = { 
/**
 * Upper-case code, like `SO1`.
 */
code: string, 
/**
 * Full name, like `Sistemas Operativos 1`.
 */
name: string, };

export type GradePage = { 
/**
 * The grades of this page.
 */
items: Array<StoredGrade>, 
/**
 * Pass back as `cursor` for the next (older) page; `None` on the last page.
 */
next_cursor: string | null, };

export type PassFail = { 
/**
 * Course code.
 */
curso: string, 
/**
 * Semester.
 */
semestre: string, 
/**
 * The year asked for; `None` for all years.
 */
year: number | null, 
/**
 * Grades at or above the passing mark.
 */
passed: number, 
/**
 * Grades below the passing mark.
 */
failed: number, };

export type CourseStudents = { 
/**
 * Course code.
 */
curso: string, 
/**
 * Course name from the catalog.
 */
name: string, 
/**
 * Distinct students with a grade in it.
 */
students: number, };

export type TopCourses = { semestre: string, year: number | null, items: Array<CourseStudents>, };

export type StudentAverage = { 
/**
 * Student id.
 */
carnet: number, 
/**
 * Student name, as on their grades.
 */
nombre: string, 
/**
 * Mean grade, rounded to two decimals.
 */
average: number, 
/**
 * Grades the average is over.
 */
grades: number, };

export type TopStudents = { semestre: string | null, year: number | null, items: Array<StudentAverage>, };

export type RouteCounts = { 
/**
 * Through route 1.
 */
grpc: number, 
/**
 * Through route 2.
 */
rest: number, };

export type Totals = { 
/**
 * Grades stored, both routes.
 */
total: number, 
/**
 * Grades stored per route.
 */
route_count: RouteCounts, };

export type StudentCount = { 
/**
 * Course code.
 */
curso: string, 
/**
 * `1S` or `2S`.
 */
semestre: string, 
/**
 * Academic year.
 */
year: number, 
/**
 * Distinct students with a grade in it.
 */
students: number, };

export type LiveEvent = { 
/**
 * Grades stored.
 */
total: number, 
/**
 * Grades stored per route.
 */
route_count: RouteCounts, 
/**
 * Grades this event covers; `grades` carries at most [`RECENT_LEN`] of them, so at high rates
 * the feed is a sample (the newest ones).
 */
new_grades: number, 
/**
 * Newest first.
 */
grades: Array<StoredGrade>, 
/**
 * Course terms whose count the event changed (all of them after a rebuild).
 */
students: Array<StudentCount>, };

export type RouteStat = { 
/**
 * The route described.
 */
route: Route, 
/**
 * Grades stored through this route, from MySQL (`route_stats`, the source of truth).
 */
stored: number, 
/**
 * The rest is over the last `window_seconds`, from the latency buckets in Redis.
 */
requests: number, 
/**
 * Requests per second over the window.
 */
throughput_per_sec: number, 
/**
 * Median latency; `None` without requests.
 */
p50_ms: number | null, 
/**
 * 95 % confidence interval of p50, `[low, high]`: the dashboard states a difference between
 * the routes only when these do not overlap.
 */
p50_interval_ms: [number, number] | null, 
/**
 * 99th percentile latency; `None` without requests.
 */
p99_ms: number | null, };

export type RouteStats = { 
/**
 * The window the traffic figures cover ([`ROUTES_WINDOW_SECONDS`]).
 */
window_seconds: number, 
/**
 * One entry per ingestion route, grpc first.
 */
routes: Array<RouteStat>, };

export type Problem = { 
/**
 * URI of the problem type; `about:blank` (the status says it all).
 */
type: string, 
/**
 * The status's reason phrase.
 */
title: string, 
/**
 * The HTTP status.
 */
status: number, 
/**
 * What went wrong and what to do, for a person.
 */
detail: string, 
/**
 * Per-field errors of a 422.
 */
errors?: { field: string; message: string }[], };
