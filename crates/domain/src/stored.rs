use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Route, PASSING_NOTA};

/// A grade as committed to MySQL, with the id and time it was stored under.
///
/// The one shape of a stored grade everywhere: what the projector folds, what the Redis live
/// feed and events carry, and what the dashboard's grade list returns. Its fields were validated
/// on the way in (as a [`crate::NewGrade`]), so they are plain values here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGrade {
    pub id: u64,
    pub carnet: u64,
    pub nombre: String,
    pub curso: String,
    pub nota: u8,
    pub semestre: String,
    pub year: u16,
    pub route: Route,
    pub created_at: DateTime<Utc>,
}

impl StoredGrade {
    pub fn passed(&self) -> bool {
        self.nota >= PASSING_NOTA
    }
}
