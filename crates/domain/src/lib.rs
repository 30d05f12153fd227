//! The grade record and its rules, written once for both ingestion routes.
//!
//! Every type here can only be built through a constructor that checks its rule, so a
//! [`NewGrade`] in hand is always valid (except for catalog membership of its course, which
//! needs the catalog: see [`Catalog`]). A [`StoredGrade`] is one that was committed.

mod catalog;
mod error;
mod fields;
mod grade;
mod stored;

pub use catalog::{Catalog, Course};
pub use error::IngestError;
pub use fields::{Carnet, CourseCode, IdempotencyKey, InvalidValue, Nota, Semester, StudentName, Year, PASSING_NOTA};
pub use grade::{FieldError, GradeParts, NewGrade, Route, ValidationErrors};
pub use stored::StoredGrade;
