//! The dashboard's TypeScript types, generated from the Rust types realtime sends
//! (`frontend/src/lib/wire.ts`): a body or event changed here fails this test until the file is
//! regenerated, so the dashboard cannot silently read a shape that no longer exists.
//! Regenerate with `just wire-types`.

use std::path::PathBuf;

use grades_domain::{Course, Route, StoredGrade};
use grades_kit::problem::Problem;
use grades_live::{LiveEvent, RouteCounts, StudentCount};
use grades_storage::stats::{CourseStudents, GradePage, PassFail, StudentAverage};
use ts_rs::{Config, TS};

use crate::api::{RouteStat, RouteStats, TopCourses, TopStudents, Totals};

fn wire_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../frontend/src/lib/wire.ts")
}

/// Every type realtime serves over HTTP or Socket.IO, as TypeScript. Ids and counts are `number`:
/// they stay far below 2^53.
fn declarations() -> String {
    let config = Config::new().with_large_int("number");
    let declarations = [
        Route::decl(&config),
        StoredGrade::decl(&config),
        Course::decl(&config),
        GradePage::decl(&config),
        PassFail::decl(&config),
        CourseStudents::decl(&config),
        TopCourses::decl(&config),
        StudentAverage::decl(&config),
        TopStudents::decl(&config),
        RouteCounts::decl(&config),
        Totals::decl(&config),
        StudentCount::decl(&config),
        LiveEvent::decl(&config),
        RouteStat::decl(&config),
        RouteStats::decl(&config),
        Problem::decl(&config),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by crates/realtime/src/wire.rs: do not edit.\n// Regenerate with `just wire-types`.\n",
    );
    for declaration in declarations {
        out.push('\n');
        out.push_str("export ");
        out.push_str(&declaration);
        out.push('\n');
    }
    out
}

#[test]
fn dashboard_wire_types_are_current() {
    let expected = declarations();
    if std::env::var_os("UPDATE_WIRE_TYPES").is_some() {
        std::fs::write(wire_file(), &expected).expect("write frontend/src/lib/wire.ts");
        return;
    }
    let current = std::fs::read_to_string(wire_file()).unwrap_or_default();
    assert!(
        current == expected,
        "frontend/src/lib/wire.ts does not match the Rust types realtime sends: run `just wire-types` and commit it.\nexpected:\n{expected}"
    );
}
