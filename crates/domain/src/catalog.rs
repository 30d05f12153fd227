use std::collections::BTreeMap;

use serde::Serialize;

use crate::CourseCode;

/// A course of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Course {
    /// Upper-case code, like `SO1`.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub code: CourseCode,
    /// Full name, like `Sistemas Operativos 1`.
    pub name: String,
}

/// The course catalog (it lives in MySQL; this is a snapshot of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    courses: BTreeMap<CourseCode, String>,
}

impl Catalog {
    /// How long a loaded copy is trusted before it is read again: every service that validates
    /// against the catalog (both routes, realtime's filters) sees a new course within this.
    pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

    /// A catalog of these courses.
    pub fn new(courses: impl IntoIterator<Item = Course>) -> Self {
        Self { courses: courses.into_iter().map(|c| (c.code, c.name)).collect() }
    }

    /// Whether the course exists.
    pub fn contains(&self, code: &CourseCode) -> bool {
        self.courses.contains_key(code)
    }

    /// Every course, by code.
    pub fn courses(&self) -> impl Iterator<Item = Course> + '_ {
        self.courses.iter().map(|(code, name)| Course { code: code.clone(), name: name.clone() })
    }

    /// The codes as one comma-separated list, for messages that name the known courses.
    pub fn codes(&self) -> String {
        self.courses.keys().map(CourseCode::as_str).collect::<Vec<_>>().join(", ")
    }
}
