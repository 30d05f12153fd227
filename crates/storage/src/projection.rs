//! What a projection is, and how far each has got: shared by the projector that moves the
//! watermarks, the live sync that follows them, the metrics and the dashboard's lag figures.

use grades_domain::StoredGrade;
use grades_live::{RouteCounts, StudentCount};
use sqlx::MySql;

/// A family of summary tables folded from `grades` with a watermark of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Projection {
    /// `enrollments`, `course_term_stats`, `route_stats`.
    Terms,
    /// `student_stats`.
    Students,
}

impl Projection {
    /// Every projection, in the order the projector starts them.
    pub const ALL: [Projection; 2] = [Projection::Terms, Projection::Students];

    /// Its row in `projection_state`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Terms => "terms",
            Self::Students => "students",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A committed terms fold: the watermark it moved, and the live figures at its end.
#[derive(Debug, Clone)]
pub struct Folded {
    /// The watermark before the fold.
    pub previous: u64,
    /// The watermark after it: the last grade id folded.
    pub applied: u64,
    /// Grades folded (`applied - previous`).
    pub grades: u64,
    /// The newest grades of the fold, newest first, at most [`grades_live::RECENT_LEN`].
    pub newest: Vec<StoredGrade>,
    /// Grades per route after the fold.
    pub route_count: RouteCounts,
    /// Student counts of the course terms the fold touched.
    pub students: Vec<StudentCount>,
}

/// How far each projection is behind the committed grades.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProjectorStatus {
    /// Highest grade id committed.
    pub latest_id: u64,
    /// One entry per projection, ordered by name.
    pub projections: Vec<ProjectionStatus>,
}

/// How far one projection is behind the committed grades.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ProjectionStatus {
    /// The projection described.
    pub projection: Projection,
    /// Highest grade id folded into its tables.
    pub applied_id: u64,
    /// Committed grades not folded yet.
    pub lag_ids: u64,
    /// Age of the oldest grade not folded yet (0 when none).
    pub lag_seconds: f64,
}

impl ProjectorStatus {
    /// The status of `projection`; `None` when its `projection_state` row is missing.
    pub fn get(&self, projection: Projection) -> Option<&ProjectionStatus> {
        self.projections.iter().find(|p| p.projection == projection)
    }
}

/// Every projection's watermark and lag, read in one statement (a consistent view).
pub async fn read_status<'c, E>(executor: E) -> Result<ProjectorStatus, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = MySql>,
{
    // One statement, so every figure comes from one read view.
    let rows: Vec<(String, u64, u64, Option<i64>)> = sqlx::query_as(
        "SELECT p.name, p.applied_id, s.next_id - 1, \
                (SELECT TIMESTAMPDIFF(MICROSECOND, g.created_at, UTC_TIMESTAMP(6)) FROM grades g WHERE g.id = p.applied_id + 1) \
         FROM projection_state p JOIN id_sequence s ON s.name = 'grade_ids' ORDER BY p.name",
    )
    .fetch_all(executor)
    .await?;
    let latest_id = rows.first().map_or(0, |row| row.2);
    let projections = rows
        .into_iter()
        .filter_map(|(name, applied_id, latest, lag_micros)| {
            Some(ProjectionStatus {
                projection: Projection::parse(&name)?,
                applied_id,
                lag_ids: latest.saturating_sub(applied_id),
                lag_seconds: lag_micros.map_or(0.0, |us| us.max(0) as f64 / 1e6),
            })
        })
        .collect();
    Ok(ProjectorStatus { latest_id, projections })
}
