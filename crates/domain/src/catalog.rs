use std::collections::BTreeMap;

use serde::Serialize;

use crate::CourseCode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Course {
    pub code: CourseCode,
    pub name: String,
}

/// The course catalog (it lives in MySQL; this is a snapshot of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    courses: BTreeMap<CourseCode, String>,
}

impl Catalog {
    pub fn new(courses: impl IntoIterator<Item = Course>) -> Self {
        Self { courses: courses.into_iter().map(|c| (c.code, c.name)).collect() }
    }

    pub fn contains(&self, code: &CourseCode) -> bool {
        self.courses.contains_key(code)
    }

    pub fn courses(&self) -> impl Iterator<Item = Course> + '_ {
        self.courses.iter().map(|(code, name)| Course { code: code.clone(), name: name.clone() })
    }

    pub fn codes(&self) -> String {
        self.courses.keys().map(CourseCode::as_str).collect::<Vec<_>>().join(", ")
    }

    pub fn is_empty(&self) -> bool {
        self.courses.is_empty()
    }
}
