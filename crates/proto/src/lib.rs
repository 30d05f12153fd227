//! Generated gRPC code for `proto/grades.proto`, plus the one mapping between the domain and the
//! wire in both directions: a grade into a `SubmitGradeRequest` and back, the catalog into a
//! `ListCoursesResponse` and back, an ingestion error into a gRPC status and back. Both ends call
//! these functions, so they cannot drift apart.

use std::collections::HashMap;
use std::time::Duration;

use grades_domain::{Catalog, Course, CourseCode, GradeParts, IdempotencyKey, IngestError, NewGrade, ValidationErrors};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Code generated from `proto/grades.proto` (package `grades.v1`); its documentation is the
/// comments of the proto file.
pub mod v1 {
    #![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
    tonic::include_proto!("grades.v1");
}

/// The encoded `FileDescriptorSet` of `proto/grades.proto`, which grpc-server's reflection
/// service answers from, so tools discover `grades.v1.GradeIngestion` without the proto file.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("grades_descriptor");

use v1::{Grade, ListCoursesResponse, SubmitGradeRequest};

/// The `google.rpc.ErrorInfo` domain of the errors grpc-server answers.
pub const ERROR_DOMAIN: &str = "grades.v1";

/// `ErrorInfo.reason` of each [`IngestError`] that is not a validation failure.
mod reason {
    pub const KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
    pub const STORE_UNAVAILABLE: &str = "STORE_UNAVAILABLE";
    pub const INTERNAL: &str = "INTERNAL";
    pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";
}

/// grpc-client side: a validated grade (and its key) as the request grpc-server takes.
pub fn request_from_grade(grade: &NewGrade, key: Option<&IdempotencyKey>) -> SubmitGradeRequest {
    SubmitGradeRequest {
        grade: Some(Grade {
            carnet: grade.carnet.get(),
            nombre: grade.nombre.as_str().to_owned(),
            curso: grade.curso.as_str().to_owned(),
            nota: u32::from(grade.nota.get()),
            semestre: grade.semestre.as_str().to_owned(),
            year: u32::from(grade.year.get()),
        }),
        idempotency_key: key.map(|k| k.as_str().to_owned()).unwrap_or_default(),
    }
}

/// grpc-server side: a request as the grade to store and its key, validated by the same rules as
/// the HTTP front; every broken rule (the key's included) is reported at once.
pub fn grade_from_request(request: &SubmitGradeRequest, catalog: &Catalog) -> Result<(NewGrade, Option<IdempotencyKey>), IngestError> {
    let Some(grade) = &request.grade else {
        return Err(IngestError::invalid("grade", "is required"));
    };
    let mut errors = ValidationErrors::default();
    let key = match request.idempotency_key.as_str() {
        "" => None,
        raw => IdempotencyKey::parse(raw).map_err(|message| errors.push("Idempotency-Key", message)).ok(),
    };
    let parts = GradeParts {
        carnet: grade.carnet,
        nombre: &grade.nombre,
        curso: &grade.curso,
        nota: u64::from(grade.nota),
        semestre: &grade.semestre,
        year: u64::from(grade.year),
    };
    match NewGrade::from_parts(&parts, catalog) {
        Ok(grade) if errors.is_empty() => Ok((grade, key)),
        Ok(_) => Err(IngestError::Validation(errors)),
        Err(field_errors) => {
            errors.0.extend(field_errors.0);
            Err(IngestError::Validation(errors))
        }
    }
}

/// grpc-server side: the catalog as `ListCourses` answers it.
pub fn courses_response(catalog: &Catalog) -> ListCoursesResponse {
    ListCoursesResponse { courses: catalog.courses().map(|c| v1::Course { code: c.code.as_str().to_owned(), name: c.name }).collect() }
}

/// grpc-client side: the catalog from a `ListCourses` answer (a code it cannot parse is skipped,
/// so a grade naming it is refused as an unknown course, as on the rest route).
pub fn catalog_from_response(response: ListCoursesResponse) -> Catalog {
    Catalog::new(response.courses.into_iter().filter_map(|c| CourseCode::parse(&c.code).ok().map(|code| Course { code, name: c.name })))
}

/// grpc-server side: an ingestion error as a gRPC status. The status message is the error's
/// sentence (for grpcurl and logs); the data travels in the standard details (`BadRequest` for a
/// validation failure, `ErrorInfo` otherwise, `RetryInfo` when a retry can help).
pub fn status_from_error(error: &IngestError) -> Status {
    let mut details = ErrorDetails::new();
    let code = match error {
        IngestError::Validation(errors) => {
            for e in &errors.0 {
                details.add_bad_request_violation(e.field.clone(), e.message.clone());
            }
            Code::InvalidArgument
        }
        IngestError::IdempotencyConflict(key) => {
            details.set_error_info(reason::KEY_REUSED, ERROR_DOMAIN, [("idempotency_key".to_owned(), key.as_str().to_owned())]);
            Code::AlreadyExists
        }
        IngestError::Unavailable { cause } => {
            details.set_error_info(reason::STORE_UNAVAILABLE, ERROR_DOMAIN, [("cause".to_owned(), cause.clone())]);
            details.set_retry_info(Some(RETRY_DELAY));
            Code::Unavailable
        }
        IngestError::ShuttingDown => {
            details.set_error_info(reason::SHUTTING_DOWN, ERROR_DOMAIN, HashMap::new());
            details.set_retry_info(Some(Duration::ZERO));
            Code::Unavailable
        }
        IngestError::Internal { cause } => {
            details.set_error_info(reason::INTERNAL, ERROR_DOMAIN, [("cause".to_owned(), cause.clone())]);
            Code::Internal
        }
    };
    Status::with_error_details(code, error.to_string(), details)
}

/// How long grpc-server tells a caller to wait while its store is unreachable.
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// grpc-client side: a gRPC status back into the ingestion error grpc-server had, from the
/// status's details. A status without them did not come from grpc-server's handler (a transport
/// failure, a proxy, a deadline): it maps by its code.
pub fn error_from_status(status: &Status) -> IngestError {
    let details = status.get_error_details();
    if let Some(bad_request) = details.bad_request().filter(|_| status.code() == Code::InvalidArgument) {
        let mut errors = ValidationErrors::default();
        for violation in &bad_request.field_violations {
            errors.push(&violation.field, violation.description.clone());
        }
        if !errors.is_empty() {
            return IngestError::Validation(errors);
        }
    }
    if let Some(info) = details.error_info().filter(|info| info.domain == ERROR_DOMAIN) {
        let cause = || info.metadata.get("cause").cloned().unwrap_or_default();
        let key = info.metadata.get("idempotency_key").and_then(|key| IdempotencyKey::parse(key).ok());
        match (info.reason.as_str(), key) {
            (reason::KEY_REUSED, Some(key)) => return IngestError::IdempotencyConflict(key),
            (reason::STORE_UNAVAILABLE, _) => return IngestError::Unavailable { cause: cause() },
            (reason::SHUTTING_DOWN, _) => return IngestError::ShuttingDown,
            (reason::INTERNAL, _) => return IngestError::Internal { cause: cause() },
            _ => {}
        }
    }
    error_from_code(status)
}

/// A status that carries no grpc-server error details, by its code.
fn error_from_code(status: &Status) -> IngestError {
    match status.code() {
        // grpc-server never answers Unknown itself: it is how a failed connection to it surfaces
        // (reset, refused, killed mid-call). Like the others here, retry later: 503.
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Cancelled | Code::Unknown => {
            IngestError::unavailable(format_args!("grpc-server: {}", status.message()))
        }
        // A deployment mistake, not the client's: grpc-client's INGEST_TOKEN is not grpc-server's.
        Code::Unauthenticated => IngestError::internal(format_args!(
            "grpc-server refused grpc-client's token: {}; give both the same INGEST_TOKEN",
            status.message()
        )),
        code => IngestError::internal(format_args!("grpc-server answered {code:?}: {}", status.message())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// One of each variant, with made-up data.
    fn every_variant() -> Vec<IngestError> {
        let mut fields = ValidationErrors::default();
        fields.push("nota", "must be an integer from 0 to 100");
        fields.push("curso", "\"XX9\" is not a course of the catalog");
        vec![
            IngestError::Validation(fields),
            IngestError::IdempotencyConflict(IdempotencyKey::parse("teacher-7:grade-42").unwrap()),
            IngestError::unavailable("pool timed out while waiting for an open connection"),
            IngestError::internal("Table 'grades.grades' doesn't exist"),
            IngestError::ShuttingDown,
        ]
    }

    /// Every variant survives the trip through real gRPC headers unchanged.
    #[test]
    fn every_error_round_trips_through_grpc_headers() {
        for error in every_variant() {
            let mut headers = http::HeaderMap::new();
            status_from_error(&error).add_header(&mut headers).unwrap();
            let status = Status::from_header_map(&headers).expect("a status in the headers");
            assert_eq!(error_from_status(&status), error);
            assert_eq!(status.message(), error.to_string());
        }
    }

    /// A status from outside grpc-server's handler (no details) still maps to what a client can do.
    #[test]
    fn statuses_without_details_map_by_code() {
        assert!(matches!(error_from_status(&Status::unavailable("connection refused")), IngestError::Unavailable { .. }));
        assert!(matches!(error_from_status(&Status::unknown("h2 protocol error")), IngestError::Unavailable { .. }));
        let refused = error_from_status(&Status::unauthenticated("wrong token"));
        assert!(refused.to_string().contains("INGEST_TOKEN"), "{refused}");
        assert!(matches!(error_from_status(&Status::already_exists("no details")), IngestError::Internal { .. }));
    }

    /// The key's rule and the fields' rules are reported together, as the HTTP front reports them.
    #[test]
    fn a_bad_key_is_reported_with_the_bad_fields() {
        let catalog = Catalog::new([Course { code: CourseCode::parse("SO1").unwrap(), name: "Sistemas Operativos 1".into() }]);
        let mut request = request_from_grade(
            &NewGrade::from_parts(
                &GradeParts { carnet: 201900123, nombre: "Ana", curso: "SO1", nota: 90, semestre: "2S", year: 2023 },
                &catalog,
            )
            .unwrap(),
            None,
        );
        assert!(grade_from_request(&request, &catalog).is_ok());
        request.idempotency_key = "has space".into();
        request.grade.as_mut().unwrap().nota = 101;
        let IngestError::Validation(errors) = grade_from_request(&request, &catalog).unwrap_err() else { panic!("not a validation error") };
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["Idempotency-Key", "nota"]);
    }
}
