//! Every Redis name the system uses, under one prefix so tests and tenants get their own key
//! space. Scripts receive key names as `KEYS`, never build them, so they stay Redis Cluster safe.

use grades_domain::Route;

/// Field names inside the live-state hash ([`LiveKeys::state`]).
pub mod field {
    use grades_domain::Route;

    /// Grades stored in all.
    pub const TOTAL: &str = "total";
    /// The projector watermark the hash equals: every grade with an id at or below it is counted,
    /// none above. Absent when the live state is missing.
    pub const SYNCED_ID: &str = "synced_id";
    /// The newest grades, newest first, as one JSON array.
    pub const RECENT: &str = "recent";

    /// Grades stored through one route.
    pub fn route(route: Route) -> String {
        format!("route:{route}")
    }

    /// Distinct students of one course term.
    pub fn students(curso: &str, semestre: &str, year: u16) -> String {
        format!("students:{curso}:{semestre}:{year}")
    }
}

/// The Redis names of one key space (`REDIS_PREFIX`).
#[derive(Debug, Clone)]
pub struct LiveKeys {
    prefix: String,
}

impl LiveKeys {
    /// Names under `prefix` (like `grades:`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }

    /// The prefix every name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// One hash holds every live figure (see [`field`]), so each update is one atomic write to
    /// one key: one cluster slot, no cross-key transaction.
    pub fn state(&self) -> String {
        format!("{}live", self.prefix)
    }

    /// Pub/sub channel with one [`crate::LiveEvent`] per projector fold.
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// Latency histogram of one route for one wall-clock second.
    pub fn latency(&self, route: Route, unix_second: u64) -> String {
        format!("{}lat:{route}:{unix_second}", self.prefix)
    }

    /// Keys of the layout before the live-state hash (one set of carnets per course term), removed
    /// by the first rebuild that finds them. `legacy_marker` tells whether any are left.
    pub fn legacy_marker(&self) -> String {
        format!("{}synced_id", self.prefix)
    }

    /// The counters and the feed of the previous layout.
    pub fn legacy_keys(&self) -> [String; 3] {
        [format!("{}total", self.prefix), format!("{}route_count", self.prefix), format!("{}recent", self.prefix)]
    }

    /// A SCAN pattern matching the previous layout's sets of carnets.
    pub fn legacy_student_sets_pattern(&self) -> String {
        format!("{}students:*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_under_the_prefix() {
        let keys = LiveKeys::new("t:");
        assert_eq!(keys.state(), "t:live");
        assert_eq!(keys.events(), "t:events");
        assert_eq!(keys.latency(Route::Grpc, 17), "t:lat:grpc:17");
        assert_eq!(field::students("SO1", "2S", 2023), "students:SO1:2S:2023");
        assert_eq!(field::route(Route::Rest), "route:rest");
    }
}
