//! Any bytes as a protobuf `SubmitGradeRequest`, through grpc-server's own conversion
//! (`grades_proto::grade_from_request`) and, for a refusal, the status it answers carried over
//! gRPC headers and read back by grpc-client (`error_from_status`): never a panic, the refusal
//! arrives unchanged, an accepted grade validates to itself through both routes' doors and goes
//! back on the wire as the request it came from.

#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use grades_domain::{Catalog, IngestError};
use grades_proto::v1::SubmitGradeRequest;
use grades_proto::{error_from_status, grade_from_request, request_from_grade, status_from_error};
use prost::Message;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog = CATALOG.get_or_init(common::catalog);
    let Ok(request) = SubmitGradeRequest::decode(data) else { return };
    match grade_from_request(&request, catalog) {
        Ok((grade, key)) => {
            common::check_accepted(&grade, catalog);
            let again = request_from_grade(&grade, key.as_ref());
            assert_eq!(grade_from_request(&again, catalog), Ok((grade, key)), "the grade changed on its way back to the wire");
        }
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
