//! Parameter rules shared by the HTTP API (query strings) and Socket.IO (`subscribe_students`).
//! Each failure names the field and says what would have been accepted.

use std::collections::HashMap;

use grades_domain::{Catalog, CourseCode, Semester, Year};
use serde_json::Value;

use crate::catalog::CatalogCache;
use crate::error::ApiError;

/// Most rows any list endpoint returns in one answer.
pub const MAX_LIMIT: u32 = 100;

/// A course code that is in the catalog.
pub fn course(raw: &str, catalog: &Catalog) -> Result<CourseCode, ApiError> {
    let code = CourseCode::parse(raw).map_err(|message| ApiError::invalid("curso", message))?;
    if catalog.contains(&code) {
        Ok(code)
    } else {
        Err(ApiError::invalid("curso", format!("unknown course {code}; known courses: {}", catalog.codes())))
    }
}

/// A semester, `1S` or `2S`.
pub fn semester(raw: &str) -> Result<Semester, ApiError> {
    Semester::parse(raw).map_err(|message| ApiError::invalid("semestre", message))
}

/// A year within [`Year::MIN`]..=[`Year::MAX`].
pub fn year(raw: &str) -> Result<Year, ApiError> {
    let value: u64 = raw.trim().parse().map_err(|_| {
        ApiError::invalid("year", format!("must be a year like 2023 between {} and {} (got {raw:?})", Year::MIN, Year::MAX))
    })?;
    Year::new(value).map_err(|message| ApiError::invalid("year", message))
}

/// Query-string parameters; empty values (`?curso=`) count as absent.
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// The parameters as decoded from the query string.
    pub fn new(map: HashMap<String, String>) -> Self {
        Self(map)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// `curso`, checked against `catalog`.
    pub fn course(&self, catalog: &Catalog) -> Result<Option<CourseCode>, ApiError> {
        self.get("curso").map(|raw| course(raw, catalog)).transpose()
    }

    /// `curso` checked against the catalog, which is only read when the parameter is present.
    pub async fn course_in(&self, catalog: &CatalogCache) -> Result<Option<CourseCode>, ApiError> {
        let Some(raw) = self.get("curso") else { return Ok(None) };
        CourseCode::parse(raw).map_err(|message| ApiError::invalid("curso", message))?;
        course(raw, &*catalog.get().await?).map(Some)
    }

    /// `semestre`.
    pub fn semester(&self) -> Result<Option<Semester>, ApiError> {
        self.get("semestre").map(semester).transpose()
    }

    /// `year`.
    pub fn year(&self) -> Result<Option<Year>, ApiError> {
        self.get("year").map(year).transpose()
    }

    /// `limit`, from 1 to [`MAX_LIMIT`]; `default` when absent.
    pub fn limit(&self, default: u32) -> Result<u32, ApiError> {
        let Some(raw) = self.get("limit") else { return Ok(default) };
        raw.parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| ApiError::invalid("limit", format!("must be an integer from 1 to {MAX_LIMIT} (got {raw:?})")))
    }

    /// The `next_cursor` of a previous page: the id below which the next page starts.
    pub fn cursor(&self) -> Result<Option<u64>, ApiError> {
        let Some(raw) = self.get("cursor") else { return Ok(None) };
        raw.parse::<u64>().ok().filter(|id| *id > 0).map(Some).ok_or_else(|| {
            ApiError::invalid("cursor", format!("must be the next_cursor value of a previous page, a positive integer (got {raw:?})"))
        })
    }
}

/// The value of a parameter the endpoint cannot do without.
pub fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::required(field))
}

/// A validated `subscribe_students` selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudentsSelection {
    /// A course in the catalog.
    pub curso: CourseCode,
    /// Semester.
    pub semestre: Semester,
    /// Year.
    pub year: Year,
}

impl StudentsSelection {
    /// Accepts `{"curso": "SO1", "semestre": "2S", "year": 2023}` (year may be a numeric string).
    pub fn from_json(value: &Value, catalog: &Catalog) -> Result<Self, ApiError> {
        let object = value.as_object().ok_or_else(|| {
            ApiError::invalid("selection", "must be an object like {\"curso\": \"SO1\", \"semestre\": \"2S\", \"year\": 2023}")
        })?;
        let text = |field: &'static str| -> Result<String, ApiError> {
            match object.get(field) {
                None | Some(Value::Null) => Err(ApiError::required(field)),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) if field == "year" => Ok(n.to_string()),
                Some(_) => Err(ApiError::invalid(field, "has the wrong type")),
            }
        };
        Ok(Self { curso: course(&text("curso")?, catalog)?, semestre: semester(&text("semestre")?)?, year: year(&text("year")?)? })
    }

    /// The Socket.IO room of this selection, `students:{CURSO}:{SEM}:{YEAR}`.
    pub fn room(&self) -> String {
        room(self.curso.as_str(), self.semestre.as_str(), self.year.get())
    }
}

/// Start of every `students` room name: other rooms are not this service's.
pub const STUDENTS_ROOM_PREFIX: &str = "students:";

/// The Socket.IO room of a course term's `students` pushes.
pub fn room(curso: &str, semestre: &str, year: u16) -> String {
    format!("{STUDENTS_ROOM_PREFIX}{curso}:{semestre}:{year}")
}

/// The course term of a room [`room`] named, or `None` for a room that is not a `students` room
/// (every other room is left alone). The names are this module's, so it alone reads them back.
pub fn parse_room(name: &str) -> Option<(CourseCode, Semester, Year)> {
    let mut parts = name.strip_prefix(STUDENTS_ROOM_PREFIX)?.splitn(3, ':');
    let curso = CourseCode::parse(parts.next()?).ok()?;
    let semestre = Semester::parse(parts.next()?).ok()?;
    let year = Year::new(parts.next()?.parse().ok()?).ok()?;
    Some((curso, semestre, year))
}

#[cfg(test)]
mod tests {
    use grades_domain::Course;
    use serde_json::json;

    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(["SO1", "BD1"].map(|c| Course { code: CourseCode::parse(c).unwrap(), name: c.into() }))
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        Query::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn empty_values_are_absent() {
        let q = query(&[("curso", ""), ("semestre", " "), ("year", ""), ("limit", ""), ("cursor", "")]);
        assert_eq!(q.course(&catalog()).unwrap(), None);
        assert_eq!(q.semester().unwrap(), None);
        assert_eq!(q.year().unwrap(), None);
        assert_eq!(q.limit(20).unwrap(), 20);
        assert_eq!(q.cursor().unwrap(), None);
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            ("curso", "XX9", "known courses: BD1, SO1"),
            ("semestre", "3S", "1S or 2S"),
            ("year", "1800", "between 1990 and 2100"),
            ("year", "abc", "a year like 2023"),
            ("limit", "0", "from 1 to 100"),
            ("limit", "101", "from 1 to 100"),
            ("cursor", "abc", "next_cursor"),
            ("cursor", "0", "positive integer"),
        ];
        for (field, value, hint) in cases {
            let q = query(&[(field, value)]);
            let error = match field {
                "curso" => q.course(&catalog()).unwrap_err(),
                "semestre" => q.semester().unwrap_err(),
                "year" => q.year().unwrap_err(),
                "limit" => q.limit(20).unwrap_err(),
                _ => q.cursor().unwrap_err(),
            };
            let message = error.message();
            assert!(message.starts_with(field), "{message}");
            assert!(message.contains(hint), "{field}={value}: {message}");
        }
    }

    #[test]
    fn selection_is_validated_and_named() {
        let ok = StudentsSelection::from_json(&json!({"curso": "so1", "semestre": "2s", "year": "2023"}), &catalog()).unwrap();
        assert_eq!(ok.room(), "students:SO1:2S:2023");
        assert_eq!(parse_room(&ok.room()), Some((ok.curso.clone(), ok.semestre, ok.year)), "a room reads back as its term");
        for other in ["all_grades", "students:SO1:2S", "students:SO1:3S:2023", "students::2S:2023", "students:SO1:2S:year"] {
            assert_eq!(parse_room(other), None, "{other} is not a students room");
        }
        for bad in [
            json!("SO1"),
            json!({"curso": "SO1", "semestre": "2S"}),
            json!({"curso": "ZZ", "semestre": "2S", "year": 2023}),
            json!({"curso": "SO1", "semestre": "2S", "year": 3000}),
            json!({"curso": 5, "semestre": "2S", "year": 2023}),
        ] {
            assert!(StudentsSelection::from_json(&bad, &catalog()).is_err(), "{bad}");
        }
    }
}
