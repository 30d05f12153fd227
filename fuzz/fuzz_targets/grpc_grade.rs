//! Any bytes as a protobuf `SubmitGradeRequest`, through grpc-server's validation (the steps of
//! `GrpcIngestion::submit_grade` before storing: grade present, idempotency key, `GradeParts`,
//! `NewGrade::from_parts`) and, for a refusal, the status it answers carried over gRPC headers and
//! read back by grpc-client (`error_from_status`): never a panic, the refusal arrives unchanged,
//! an accepted grade validates to itself through both routes' doors.

#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use grades_domain::{Catalog, GradeParts, IdempotencyKey, IngestError, NewGrade};
use grades_proto::v1::SubmitGradeRequest;
use grades_proto::{error_from_status, status_from_error};
use prost::Message;

/// grpc-server's steps from a decoded request to a grade ready to store (no storage here).
fn validate(request: &SubmitGradeRequest, catalog: &Catalog) -> Result<(NewGrade, Option<IdempotencyKey>), IngestError> {
    let Some(grade) = &request.grade else {
        return Err(IngestError::invalid("grade", "is required"));
    };
    let key = match request.idempotency_key.as_str() {
        "" => None,
        raw => Some(IdempotencyKey::parse(raw).map_err(|message| IngestError::invalid("Idempotency-Key", message))?),
    };
    let parts = GradeParts {
        carnet: grade.carnet,
        nombre: &grade.nombre,
        curso: &grade.curso,
        nota: u64::from(grade.nota),
        semestre: &grade.semestre,
        year: u64::from(grade.year),
    };
    let grade = NewGrade::from_parts(&parts, catalog).map_err(IngestError::Validation)?;
    Ok((grade, key))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog = CATALOG.get_or_init(common::catalog);
    let Ok(request) = SubmitGradeRequest::decode(data) else { return };
    match validate(&request, catalog) {
        Ok((grade, _key)) => common::check_accepted(&grade, catalog),
        Err(error) => {
            let IngestError::Validation(errors) = &error else { panic!("validation answered {error:?}") };
            common::check_refused(errors);
            // Over the wire: grpc-status, grpc-message and grpc-status-details-bin headers.
            let mut headers = http::HeaderMap::new();
            status_from_error(&error).add_header(&mut headers).unwrap();
            let status = tonic::Status::from_header_map(&headers).expect("a status in the headers");
            assert_eq!(error_from_status(&status), error, "the refusal changed on its way to grpc-client");
        }
    }
});
