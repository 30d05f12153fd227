//! Any bytes as the body of `POST /grades`, through the HTTP front's steps (grades-front
//! `read_object`: JSON text, must be an object; then `NewGrade::from_json`): never a panic, a
//! refusal names its fields, an accepted grade validates to itself through both routes' doors.

#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use grades_domain::{Catalog, NewGrade};
use serde_json::Value;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog = CATALOG.get_or_init(common::catalog);
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(data) else { return };
    match NewGrade::from_json(&object, catalog) {
        Ok(grade) => common::check_accepted(&grade, catalog),
        Err(errors) => common::check_refused(&errors),
    }
});
