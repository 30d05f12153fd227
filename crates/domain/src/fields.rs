use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Number;

/// What is wrong with one field's value: data, not a sentence. Its `Display` is the sentence a
/// client reads after the field's name (in problem+json's `errors`), written here once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// Zero where a positive integer belongs.
    #[error("must be a positive integer")]
    NotPositive,
    /// More digits than the field holds.
    #[error("must have at most {digits} digits (got {got})")]
    TooManyDigits {
        /// Most digits allowed.
        digits: u32,
        /// The value sent.
        got: u64,
    },
    /// A number outside the field's range.
    #[error("must be between {min} and {max} (got {got})")]
    OutOfRange {
        /// Smallest value allowed.
        min: u64,
        /// Largest value allowed.
        max: u64,
        /// The value sent.
        got: u64,
    },
    /// Nothing but spaces.
    #[error("must not be blank")]
    Blank,
    /// More characters than the field holds.
    #[error("must be at most {max} characters (got {got})")]
    TooLong {
        /// Most characters allowed.
        max: usize,
        /// Characters sent.
        got: usize,
    },
    /// A control character in text.
    #[error("must not contain control characters")]
    ControlCharacter,
    /// Not the shape of a course code.
    #[error("must be a course code of at most {max} letters and digits, like SO1")]
    NotACourseCode {
        /// Longest code, in characters.
        max: usize,
    },
    /// A course code the catalog does not hold.
    #[error("unknown course {code}; known courses: {known}")]
    UnknownCourse {
        /// The code sent.
        code: CourseCode,
        /// The catalog's codes, comma separated.
        known: String,
    },
    /// Neither `1S` nor `2S`.
    #[error("must be 1S or 2S (got {0:?})")]
    NotASemester(String),
    /// An Idempotency-Key header that is empty, too long or not visible ASCII.
    #[error("Idempotency-Key must be 1 to {max} visible ASCII characters (no spaces)")]
    NotAnIdempotencyKey {
        /// Longest key, in bytes.
        max: usize,
    },
    /// A JSON number that is negative or has a fraction.
    #[error("must be a non-negative integer (got {0})")]
    NotANaturalNumber(Number),
    /// A string of digits too large for any integer.
    #[error("must be a non-negative integer (got {0:?})")]
    DigitsOverflow(String),
    /// A string that is not just digits (`" 90 "`, `"+90"`).
    #[error("must be a non-negative integer, digits only (got {0:?})")]
    NotDigits(String),
    /// A JSON value of another kind where an integer belongs.
    #[error("must be an integer (got {0})")]
    NotAnInteger(&'static str),
    /// A JSON value of another kind where a string belongs.
    #[error("must be a string (got {0})")]
    NotAString(&'static str),
}

/// The university's passing mark: a grade of 61 or more passes.
pub const PASSING_NOTA: u8 = 61;

/// Student id: a positive integer of at most 12 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Carnet(u64);

impl Carnet {
    /// The largest carnet: twelve digits.
    pub const MAX: u64 = 999_999_999_999;

    /// A carnet, or what is wrong with the value.
    pub fn new(value: u64) -> Result<Self, InvalidValue> {
        match value {
            0 => Err(InvalidValue::NotPositive),
            v if v > Self::MAX => Err(InvalidValue::TooManyDigits { digits: 12, got: v }),
            v => Ok(Self(v)),
        }
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Student name: 1..=100 characters after trimming ASCII spaces and tabs from both ends, with no
/// control character left (Unicode's NEL, U+0085, is a control character, not a space to trim).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StudentName(String);

impl StudentName {
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// A name, trimmed, or what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim_matches([' ', '\t']);
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(InvalidValue::Blank);
        }
        if chars > Self::MAX_CHARS {
            return Err(InvalidValue::TooLong { max: Self::MAX_CHARS, got: chars });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidValue::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Course code, normalised to upper case (`so1` and `SO1` are the same course).
/// Whether the course exists is the catalog's business, not this type's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CourseCode(String);

impl CourseCode {
    /// Longest code, in characters.
    pub const MAX_CHARS: usize = 10;

    /// A code, upper-cased, or what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(InvalidValue::Blank);
        }
        if code.len() > Self::MAX_CHARS || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidValue::NotACourseCode { max: Self::MAX_CHARS });
        }
        Ok(Self(code))
    }

    /// The upper-case code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CourseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Grade 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Nota(u8);

impl Nota {
    /// A grade, or what is wrong with the value.
    pub fn new(value: u64) -> Result<Self, InvalidValue> {
        u8::try_from(value).ok().filter(|v| *v <= 100).map(Self).ok_or(InvalidValue::OutOfRange { min: 0, max: 100, got: value })
    }

    /// The grade.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Whether it reaches the passing mark ([`PASSING_NOTA`]).
    pub fn passed(self) -> bool {
        self.0 >= PASSING_NOTA
    }
}

/// Semester of the academic year: first (`1S`) or second (`2S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Semester {
    /// `1S`.
    First,
    /// `2S`.
    Second,
}

impl Semester {
    /// `1S` or `2S` (case-insensitive, surrounding spaces ignored), or what is wrong.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "1S" => Ok(Self::First),
            "2S" => Ok(Self::Second),
            other => Err(InvalidValue::NotASemester(other.to_owned())),
        }
    }

    /// `1S` or `2S`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "1S",
            Self::Second => "2S",
        }
    }
}

impl fmt::Display for Semester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Semester {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Academic year 1990..=2100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Year(u16);

impl Year {
    /// Earliest accepted year.
    pub const MIN: u16 = 1990;
    /// Latest accepted year.
    pub const MAX: u16 = 2100;

    /// A year, or what is wrong with the value.
    pub fn new(value: u64) -> Result<Self, InvalidValue> {
        u16::try_from(value).ok().filter(|v| (Self::MIN..=Self::MAX).contains(v)).map(Self).ok_or(InvalidValue::OutOfRange {
            min: Self::MIN.into(),
            max: Self::MAX.into(),
            got: value,
        })
    }

    /// The year.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// Client-chosen key that makes a POST safe to retry: 1..=128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Longest key, in bytes.
    pub const MAX_LEN: usize = 128;

    /// A key, or what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidValue::NotAnIdempotencyKey { max: Self::MAX_LEN });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each numeric field's bounds: (value, accepted).
    #[test]
    fn numbers_have_bounds() {
        for (value, ok) in [(0, false), (1, true), (999_999_999_999, true), (1_000_000_000_000, false)] {
            assert_eq!(Carnet::new(value).is_ok(), ok, "carnet {value}");
        }
        for (value, ok) in [(0, true), (100, true), (101, false), (256, false)] {
            assert_eq!(Nota::new(value).is_ok(), ok, "nota {value}");
        }
        for (value, ok) in [(1989, false), (1990, true), (2100, true), (2101, false)] {
            assert_eq!(Year::new(value).is_ok(), ok, "year {value}");
        }
        assert!(!Nota::new(60).unwrap().passed());
        assert!(Nota::new(61).unwrap().passed());
    }

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(StudentName::parse("  Ana  ").unwrap().as_str(), "Ana");
        assert_eq!(StudentName::parse("\tAna\t").unwrap().as_str(), "Ana");
        // NEL is a control character, not whitespace to trim away silently.
        assert!(StudentName::parse("Ana\u{85}").is_err());
        assert!(StudentName::parse("\u{85}").is_err());
        assert!(StudentName::parse("   ").is_err());
        assert!(StudentName::parse(&"ñ".repeat(100)).is_ok());
        assert!(StudentName::parse(&"ñ".repeat(101)).is_err());
        assert!(StudentName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn course_code_is_upper_cased() {
        assert_eq!(CourseCode::parse(" so1 ").unwrap().as_str(), "SO1");
        assert!(CourseCode::parse("S O1").is_err());
        assert!(CourseCode::parse("").is_err());
        assert!(CourseCode::parse("ABCDEFGHIJK").is_err());
    }

    #[test]
    fn semesters_are_1s_or_2s() {
        assert_eq!(Semester::parse("2s").unwrap(), Semester::Second);
        assert!(Semester::parse("3S").is_err());
    }

    #[test]
    fn idempotency_key_rules() {
        assert!(IdempotencyKey::parse("abc-123").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
    }
}
