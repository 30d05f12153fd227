//! What the live state holds, and what each event on the events channel announces.

use grades_domain::{Route, StoredGrade};
use serde::{Deserialize, Serialize};

use crate::keys::field;

/// Most recent grades kept for late-joining dashboards, and most carried by one event.
pub const RECENT_LEN: usize = 50;

/// Grades stored per route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RouteCounts {
    /// Through route 1.
    #[serde(default)]
    pub grpc: u64,
    /// Through route 2.
    #[serde(default)]
    pub rest: u64,
}

impl RouteCounts {
    /// The count of one route.
    pub fn get(&self, route: Route) -> u64 {
        match route {
            Route::Grpc => self.grpc,
            Route::Rest => self.rest,
        }
    }

    /// Adds to one route's count.
    pub fn add(&mut self, route: Route, count: u64) {
        match route {
            Route::Grpc => self.grpc += count,
            Route::Rest => self.rest += count,
        }
    }

    /// Both routes together.
    pub fn total(&self) -> u64 {
        self.grpc + self.rest
    }
}

/// Distinct students of one course term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StudentCount {
    /// Course code.
    pub curso: String,
    /// `1S` or `2S`.
    pub semestre: String,
    /// Academic year.
    pub year: u16,
    /// Distinct students with a grade in it.
    pub students: u64,
}

/// The live figures at one projector watermark, exactly as the summary tables hold them there.
/// Written whole by a rebuild, or as the part one fold changed (`students` then lists only the
/// course terms the fold touched).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveFigures {
    /// The terms projection's watermark these figures equal.
    pub synced_id: u64,
    /// Grades per route.
    pub route_count: RouteCounts,
    /// Distinct students of every course term (rebuild) or of the touched ones (fold).
    pub students: Vec<StudentCount>,
    /// The whole feed: newest first, at most [`RECENT_LEN`].
    pub recent: Vec<StoredGrade>,
}

impl LiveFigures {
    /// Field/value pairs of the live-state hash.
    pub fn fields(&self) -> Result<Vec<(String, String)>, serde_json::Error> {
        let mut fields = vec![
            (field::SYNCED_ID.to_owned(), self.synced_id.to_string()),
            (field::TOTAL.to_owned(), self.route_count.total().to_string()),
            (field::RECENT.to_owned(), serde_json::to_string(&self.recent)?),
        ];
        for route in Route::ALL {
            fields.push((field::route(route), self.route_count.get(route).to_string()));
        }
        for count in &self.students {
            fields.push((field::students(&count.curso, &count.semestre, count.year), count.students.to_string()));
        }
        Ok(fields)
    }
}

/// One message on the events channel: everything a dashboard needs to update without a read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LiveEvent {
    /// Grades stored.
    pub total: u64,
    /// Grades stored per route.
    pub route_count: RouteCounts,
    /// Grades this event covers; `grades` carries at most [`RECENT_LEN`] of them, so at high rates
    /// the feed is a sample (the newest ones).
    #[serde(default)]
    pub new_grades: u64,
    /// Newest first.
    pub grades: Vec<StoredGrade>,
    /// Course terms whose count the event changed (all of them after a rebuild).
    pub students: Vec<StudentCount>,
}

impl LiveEvent {
    /// The announcement of `figures`, covering `new_grades` grades of which `grades` are the newest.
    pub fn of(figures: &LiveFigures, new_grades: u64, grades: Vec<StoredGrade>) -> Self {
        Self {
            total: figures.route_count.total(),
            route_count: figures.route_count,
            new_grades,
            grades,
            students: figures.students.clone(),
        }
    }
}
