use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Carnet, Catalog, CourseCode, InvalidValue, Nota, Semester, StudentName, Year};

/// Which ingestion route stored a grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Route 1: grpc-client, then gRPC to grpc-server.
    Grpc,
    /// Route 2: rest-api.
    Rest,
}

impl Route {
    /// Both routes, in the order the dashboard shows them.
    pub const ALL: [Route; 2] = [Route::Grpc, Route::Rest];

    /// `grpc` or `rest`: the `X-Route` header, the `route` column, the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Rest => "rest",
        }
    }

    /// The route named `grpc` or `rest`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "grpc" => Some(Self::Grpc),
            "rest" => Some(Self::Rest),
            _ => None,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule a submitted field broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as named in the request (`nota`, `Idempotency-Key`, ...).
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

/// Every rule a submission broke, so the client can fix them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Adds one broken rule.
    pub fn push(&mut self, field: &str, message: impl fmt::Display) {
        self.0.push(FieldError { field: field.to_owned(), message: message.to_string() });
    }

    /// True when no rule was broken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields that broke a rule, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|e| e.field.as_str())
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{} {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// A grade's fields as typed values, not yet validated: how they arrive over gRPC.
#[derive(Debug, Clone, Copy)]
pub struct GradeParts<'a> {
    /// Student id.
    pub carnet: u64,
    /// Student name.
    pub nombre: &'a str,
    /// Course code.
    pub curso: &'a str,
    /// Grade.
    pub nota: u64,
    /// `1S` or `2S`.
    pub semestre: &'a str,
    /// Academic year.
    pub year: u64,
}

/// A grade that passed every rule, ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NewGrade {
    /// The student.
    pub carnet: Carnet,
    /// The student's name.
    pub nombre: StudentName,
    /// A course of the catalog.
    pub curso: CourseCode,
    /// The grade, 0 to 100.
    pub nota: Nota,
    /// The semester.
    pub semestre: Semester,
    /// The academic year.
    pub year: Year,
}

impl NewGrade {
    /// Validates a decoded JSON object as sent by the traffic generators. Numbers may come as
    /// numeric strings (`"nota": "80"`); unknown extra fields are ignored.
    pub fn from_json(object: &Map<String, Value>, catalog: &Catalog) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let carnet = field(object, "carnet", &mut errors, |v| integer(v).and_then(Carnet::new));
        let nombre = field(object, "nombre", &mut errors, |v| text(v).and_then(StudentName::parse));
        let curso =
            field(object, "curso", &mut errors, |v| text(v).and_then(CourseCode::parse).and_then(|code| known_course(code, catalog)));
        let nota = field(object, "nota", &mut errors, |v| integer(v).and_then(Nota::new));
        let semestre = field(object, "semestre", &mut errors, |v| text(v).and_then(Semester::parse));
        let year = field(object, "year", &mut errors, |v| integer(v).and_then(Year::new));
        match (carnet, nombre, curso, nota, semestre, year) {
            (Some(carnet), Some(nombre), Some(curso), Some(nota), Some(semestre), Some(year)) => {
                Ok(Self { carnet, nombre, curso, nota, semestre, year })
            }
            _ => Err(errors),
        }
    }

    /// Validates typed fields (as they arrive over gRPC) with the same rules as [`Self::from_json`].
    pub fn from_parts(parts: &GradeParts<'_>, catalog: &Catalog) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let carnet = checked(&mut errors, "carnet", Carnet::new(parts.carnet));
        let nombre = checked(&mut errors, "nombre", StudentName::parse(parts.nombre));
        let curso = checked(&mut errors, "curso", CourseCode::parse(parts.curso).and_then(|code| known_course(code, catalog)));
        let nota = checked(&mut errors, "nota", Nota::new(parts.nota));
        let semestre = checked(&mut errors, "semestre", Semester::parse(parts.semestre));
        let year = checked(&mut errors, "year", Year::new(parts.year));
        match (carnet, nombre, curso, nota, semestre, year) {
            (Some(carnet), Some(nombre), Some(curso), Some(nota), Some(semestre), Some(year)) => {
                Ok(Self { carnet, nombre, curso, nota, semestre, year })
            }
            _ => Err(errors),
        }
    }

    /// Stable 64-bit fingerprint (FNV-1a) of the grade, used to tell an idempotent replay from a
    /// different grade sent under a reused key. Stable across processes and releases.
    pub fn fingerprint(&self) -> u64 {
        let canonical = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.carnet.get(),
            self.nombre.as_str(),
            self.curso.as_str(),
            self.nota.get(),
            self.semestre.as_str(),
            self.year.get()
        );
        canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
    }
}

fn checked<T>(errors: &mut ValidationErrors, name: &str, result: Result<T, InvalidValue>) -> Option<T> {
    result.map_err(|message| errors.push(name, message)).ok()
}

fn field<T>(
    object: &Map<String, Value>,
    name: &str,
    errors: &mut ValidationErrors,
    parse: impl FnOnce(&Value) -> Result<T, InvalidValue>,
) -> Option<T> {
    match object.get(name) {
        None | Some(Value::Null) => {
            errors.push(name, "is required");
            None
        }
        Some(value) => parse(value).map_err(|message| errors.push(name, message)).ok(),
    }
}

/// An integer, or a string of just its digits (the original generators send `"nota": "80"`);
/// a padded `" 90 "` or signed `"+90"` is refused, not guessed at.
fn integer(value: &Value) -> Result<u64, InvalidValue> {
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(|| InvalidValue::NotANaturalNumber(n.clone())),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map_err(|_| InvalidValue::DigitsOverflow(s.clone()))
        }
        Value::String(s) => Err(InvalidValue::NotDigits(s.clone())),
        other => Err(InvalidValue::NotAnInteger(json_kind(other))),
    }
}

fn text(value: &Value) -> Result<&str, InvalidValue> {
    value.as_str().ok_or_else(|| InvalidValue::NotAString(json_kind(value)))
}

fn known_course(code: CourseCode, catalog: &Catalog) -> Result<CourseCode, InvalidValue> {
    if catalog.contains(&code) {
        Ok(code)
    } else {
        Err(InvalidValue::UnknownCourse { code, known: catalog.codes() })
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Course;

    fn catalog() -> Catalog {
        Catalog::new(["SO1", "BD1"].map(|c| Course { code: CourseCode::parse(c).unwrap(), name: c.into() }))
    }

    fn parse(value: Value) -> Result<NewGrade, ValidationErrors> {
        NewGrade::from_json(value.as_object().unwrap(), &catalog())
    }

    #[test]
    fn accepts_the_generator_record() {
        let grade = parse(json!({"carnet": 201900123, "nombre": "Alumno 7", "curso": "so1", "nota": 90,
                                 "semestre": "2S", "year": 2023, "extra": true}))
        .unwrap();
        assert_eq!(grade.curso.as_str(), "SO1");
        assert_eq!(grade.nota.get(), 90);
    }

    #[test]
    fn accepts_numeric_strings() {
        let grade = parse(json!({"carnet": "237527", "nombre": "A", "curso": "BD1", "nota": "80",
                                 "semestre": "1S", "year": "2022"}))
        .unwrap();
        assert_eq!(grade.carnet.get(), 237527);
        assert_eq!(grade.year.get(), 2022);
    }

    #[test]
    fn lists_every_bad_field() {
        let errors = parse(json!({"carnet": -1, "nombre": " ", "curso": "XX9", "nota": 101,
                                  "semestre": "3S", "year": 1800}))
        .unwrap_err();
        let fields: Vec<_> = errors.fields().collect();
        assert_eq!(fields, ["carnet", "nombre", "curso", "nota", "semestre", "year"]);
        assert!(errors.0[2].message.contains("SO1"), "unknown course lists known ones");
    }

    #[test]
    fn missing_and_mistyped_fields() {
        let errors = parse(json!({"nombre": 5, "nota": 80.5, "curso": null})).unwrap_err();
        let fields: Vec<_> = errors.fields().collect();
        assert_eq!(fields, ["carnet", "nombre", "curso", "nota", "semestre", "year"]);
    }

    #[test]
    fn numeric_strings_are_digits_only() {
        let grade = |nota: Value| parse(json!({"carnet": 1, "nombre": "A", "curso": "SO1", "nota": nota, "semestre": "2S", "year": 2023}));
        assert_eq!(grade(json!("90")).unwrap().nota.get(), 90);
        for padded in [" 90 ", "90 ", "+90", "9 0", "", "0x5A"] {
            let errors = grade(json!(padded)).unwrap_err();
            assert_eq!(errors.fields().collect::<Vec<_>>(), ["nota"], "{padded:?}");
        }
    }

    #[test]
    fn typed_fields_follow_the_same_rules() {
        let catalog = catalog();
        let parts = GradeParts { carnet: 1, nombre: "Ana", curso: "so1", nota: 90, semestre: "2S", year: 2023 };
        assert!(NewGrade::from_parts(&parts, &catalog).is_ok());
        let parts = GradeParts { carnet: 0, nombre: " ", curso: "XX", nota: 101, semestre: "3S", year: 1800 };
        let errors = NewGrade::from_parts(&parts, &catalog).unwrap_err();
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["carnet", "nombre", "curso", "nota", "semestre", "year"]);
    }

    #[test]
    fn fingerprint_is_stable_and_discriminating() {
        let a = parse(json!({"carnet": 1, "nombre": "A", "curso": "SO1", "nota": 90, "semestre": "2S", "year": 2023})).unwrap();
        let b = parse(json!({"carnet": 1, "nombre": "A", "curso": "SO1", "nota": 91, "semestre": "2S", "year": 2023})).unwrap();
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
