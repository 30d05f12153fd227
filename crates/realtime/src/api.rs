//! The read-only HTTP API of docs/CONTRACTS.md ("Realtime HTTP API").

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use grades_domain::{Course, Route};
use grades_live::latency;
use grades_live::RouteCounts;
use grades_storage::projection::ProjectorStatus;
use grades_storage::stats::{self, GradeFilter, GradePage, PassFail, StudentAverage};
use serde::Serialize;

use crate::error::ApiError;
use crate::params::{self, required};
use crate::AppState;

/// The window `GET /api/stats/routes` and the `routes` push summarise.
pub const ROUTES_WINDOW_SECONDS: u64 = 60;

/// Every API route, with per-path request metrics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/courses", get(courses))
        .route("/api/grades", get(grades))
        .route("/api/stats/pass-fail", get(pass_fail))
        .route("/api/stats/top-courses", get(top_courses))
        .route("/api/stats/top-students", get(top_students))
        .route("/api/stats/routes", get(routes))
        .route("/api/live", get(live))
        .route("/api/stats/projector", get(projector))
        .route("/api/compare", get(crate::compare::published))
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Runs only for matched routes (a `route_layer`) and the routes have no path parameters, so the
/// path label takes one of the few values above.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe_api(&path, response.status().as_u16(), started.elapsed());
    response
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn query(params: Params) -> Result<params::Query, ApiError> {
    params
        .map(|Query(map)| params::Query::new(map))
        .map_err(|rejection| ApiError::invalid("query", format!("could not be read: {}", rejection.body_text())))
}

async fn courses(State(state): State<AppState>) -> Result<Json<Vec<Course>>, ApiError> {
    let catalog = state.catalog.get().await?;
    Ok(Json(catalog.courses().collect()))
}

async fn grades(State(state): State<AppState>, params: Params) -> Result<Json<GradePage>, ApiError> {
    let q = query(params)?;
    let (semestre, year, limit, cursor) = (q.semester()?, q.year()?, q.limit(20)?, q.cursor()?);
    let filter = GradeFilter { curso: q.course_in(&state.catalog).await?, semestre, year };
    Ok(Json(stats::list_grades(&state.pool, &filter, limit, cursor).await?))
}

async fn pass_fail(State(state): State<AppState>, params: Params) -> Result<Json<PassFail>, ApiError> {
    let q = query(params)?;
    let semestre = required(q.semester()?, "semestre")?;
    let year = q.year()?;
    let curso = required(q.course_in(&state.catalog).await?, "curso")?;
    Ok(Json(stats::pass_fail(&state.pool, &curso, semestre, year).await?))
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub(crate) struct TopCourses {
    semestre: String,
    year: Option<u16>,
    items: Vec<stats::CourseStudents>,
}

async fn top_courses(State(state): State<AppState>, params: Params) -> Result<Json<TopCourses>, ApiError> {
    let q = query(params)?;
    let semestre = required(q.semester()?, "semestre")?;
    let year = q.year()?;
    let limit = q.limit(3)?;
    let items = stats::top_courses(&state.pool, semestre, year, limit).await?;
    Ok(Json(TopCourses { semestre: semestre.as_str().to_owned(), year: year.map(|y| y.get()), items }))
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub(crate) struct TopStudents {
    semestre: Option<String>,
    year: Option<u16>,
    items: Vec<StudentAverage>,
}

async fn top_students(State(state): State<AppState>, params: Params) -> Result<Json<TopStudents>, ApiError> {
    let q = query(params)?;
    let semestre = q.semester()?;
    let year = q.year()?;
    let limit = q.limit(5)?;
    let items = stats::top_students(&state.pool, semestre, year, limit).await?;
    Ok(Json(TopStudents { semestre: semestre.map(|s| s.as_str().to_owned()), year: year.map(|y| y.get()), items }))
}

/// Body of `GET /api/stats/routes` and of the `routes` push.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RouteStats {
    /// The window the traffic figures cover ([`ROUTES_WINDOW_SECONDS`]).
    pub window_seconds: u64,
    /// One entry per ingestion route, grpc first.
    pub routes: Vec<RouteStat>,
}

/// One ingestion route's stored grades and recent traffic.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RouteStat {
    /// The route described.
    pub route: Route,
    /// Grades stored through this route, from MySQL (`route_stats`, the source of truth).
    pub stored: u64,
    /// The rest is over the last `window_seconds`, from the latency buckets in Redis.
    pub requests: u64,
    /// Requests per second over the window.
    pub throughput_per_sec: f64,
    /// Median latency; `None` without requests.
    pub p50_ms: Option<f64>,
    /// 95 % confidence interval of p50, `[low, high]`: the dashboard states a difference between
    /// the routes only when these do not overlap.
    pub p50_interval_ms: Option<[f64; 2]>,
    /// 99th percentile latency; `None` without requests.
    pub p99_ms: Option<f64>,
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Stored counts from MySQL and the last minute's traffic from Redis, for both routes.
pub async fn route_stats(state: &AppState) -> Result<RouteStats, ApiError> {
    let (stored, grpc, rest) = tokio::join!(
        stats::grades_per_route(&state.pool),
        latency::read_window(&state.live, Route::Grpc, ROUTES_WINDOW_SECONDS),
        latency::read_window(&state.live, Route::Rest, ROUTES_WINDOW_SECONDS),
    );
    let stored: HashMap<String, u64> = stored?.into_iter().collect();
    let routes = [grpc?, rest?]
        .into_iter()
        .map(|window| RouteStat {
            route: window.route,
            stored: stored.get(window.route.as_str()).copied().unwrap_or(0),
            requests: window.requests,
            throughput_per_sec: round3(window.throughput_per_sec),
            p50_ms: window.p50_ms.map(round3),
            p50_interval_ms: window.p50_interval_ms.map(|(low, high)| [round3(low), round3(high)]),
            p99_ms: window.p99_ms.map(round3),
        })
        .collect();
    Ok(RouteStats { window_seconds: ROUTES_WINDOW_SECONDS, routes })
}

async fn routes(State(state): State<AppState>) -> Result<Json<RouteStats>, ApiError> {
    Ok(Json(route_stats(&state).await?))
}

/// Body of `GET /api/live` and of the `total` push.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Totals {
    /// Grades stored, both routes.
    pub total: u64,
    /// Grades stored per route.
    pub route_count: RouteCounts,
}

/// Grades stored in all and per route, from the Redis live state.
pub async fn totals(state: &AppState) -> Result<Totals, ApiError> {
    let (total, route_count) = state.live.totals().await?;
    Ok(Totals { total, route_count })
}

async fn live(State(state): State<AppState>) -> Result<Json<Totals>, ApiError> {
    Ok(Json(totals(&state).await?))
}

/// How far the summary tables are behind the committed grades: each projection's watermark and lag.
async fn projector(State(state): State<AppState>) -> Result<Json<ProjectorStatus>, ApiError> {
    Ok(Json(stats::projector_status(&state.pool).await?))
}
