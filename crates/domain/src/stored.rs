use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Route, PASSING_NOTA};

/// A grade as committed to MySQL, with the id and time it was stored under.
///
/// The one shape of a stored grade everywhere: what the projector folds, what the Redis live
/// feed and events carry, and what the dashboard's grade list returns. Its fields were validated
/// on the way in (as a [`crate::NewGrade`]), so they are plain values here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoredGrade {
    /// Its place in commit order: larger ids committed later.
    pub id: u64,
    /// The student.
    pub carnet: u64,
    /// The student's name as sent with this grade.
    pub nombre: String,
    /// Upper-case course code.
    pub curso: String,
    /// The grade, 0 to 100.
    pub nota: u8,
    /// `1S` or `2S`.
    pub semestre: String,
    /// The academic year.
    pub year: u16,
    /// The route that stored it.
    pub route: Route,
    /// When it was committed (MySQL's clock, UTC, milliseconds).
    pub created_at: DateTime<Utc>,
}

impl StoredGrade {
    /// Whether it reaches the passing mark.
    pub fn passed(&self) -> bool {
        self.nota >= PASSING_NOTA
    }
}
