//! The OpenAPI 3.1 document of the HTTP API both ingestion routes serve (`GET /openapi.json` on
//! rest-api and grpc-client, committed as `docs/openapi.json`), so people can try a route with
//! their own tools (Postman, Swagger UI, schemathesis) instead of reading docs/CONTRACTS.md.
//!
//! It is generated from Rust types (utoipa): the body POST /grades answers is the very type the
//! handler serializes, and the request's bounds are the domain's constants, so the document
//! cannot promise what the code no longer does. The few shapes produced in `grades-kit` (problem
//! details, readiness) are mirrored here and held to the real values by this module's tests.

use grades_domain::{Carnet, StudentName, Year};
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::HeaderBuilder;
use utoipa::{Modify, OpenApi, ToSchema};

/// The body of `POST /grades`: one grade. Numbers may also be sent as strings of digits
/// (`"nota": "80"`, as the original traffic generators do); fields beyond these are ignored.
#[derive(ToSchema)]
#[schema(example = json!({"carnet": 201900123, "nombre": "Alumno 7", "curso": "SO1", "nota": 90, "semestre": "2S", "year": 2023}))]
pub struct GradeRequest {
    /// Student id.
    #[schema(schema_with = carnet_schema)]
    pub carnet: u64,
    /// Student name.
    #[schema(schema_with = nombre_schema)]
    pub nombre: String,
    /// Course code.
    #[schema(schema_with = curso_schema)]
    pub curso: String,
    /// The grade.
    #[schema(schema_with = nota_schema)]
    pub nota: u8,
    /// Semester.
    pub semestre: Semester,
    /// Year.
    #[schema(schema_with = year_schema)]
    pub year: u16,
}

/// Semester of the grade (upper or lower case; surrounding spaces are ignored).
#[derive(ToSchema)]
pub enum Semester {
    /// First semester.
    #[schema(rename = "1S")]
    First,
    /// Second semester.
    #[schema(rename = "2S")]
    Second,
}

/// The route that answered: `X-Route` and the `route` of a stored grade.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouteName {
    /// Route 1: grpc-client -> grpc-server.
    Grpc,
    /// Route 2: rest-api.
    Rest,
}

impl From<grades_domain::Route> for RouteName {
    fn from(route: grades_domain::Route) -> Self {
        match route {
            grades_domain::Route::Grpc => Self::Grpc,
            grades_domain::Route::Rest => Self::Rest,
        }
    }
}

/// The answer to a stored grade (201) or an idempotent replay (200): the handler serializes
/// this type, so the document describes exactly what is sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Created {
    /// The grade's id; ids grow in commit order.
    pub id: u64,
    /// The route that stored it.
    pub route: RouteName,
}

/// An RFC 9457 problem detail (`application/problem+json`), as `grades_kit::Problem` sends it.
#[derive(ToSchema)]
pub struct ProblemDetails {
    /// URI of the problem type: `about:blank` (the status says it all).
    #[schema(rename = "type", example = "about:blank")]
    pub kind: String,
    /// The status's reason phrase.
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    /// The HTTP status, the same as the response's.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong and what to do, for a person.
    pub detail: String,
    /// Each broken rule of a 422, by field (absent otherwise).
    #[schema(nullable = false)]
    pub errors: Option<Vec<FieldError>>,
}

/// One broken validation rule.
#[derive(ToSchema)]
pub struct FieldError {
    /// The field (`carnet`, ..., `Idempotency-Key`, or `body` when it is not an object).
    #[schema(example = "nota")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be between 0 and 100 (got 300)")]
    pub message: String,
}

/// `GET /healthz`: the process is alive.
#[derive(ToSchema)]
pub struct Alive {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: String,
}

/// `GET /readyz`: whether traffic may be sent, and each dependency's state.
#[derive(ToSchema)]
pub struct Readiness {
    /// True when every required dependency answers.
    pub ready: bool,
    /// Each dependency: `up`, `down: ...` (required) or `degraded: ...` (optional).
    pub dependencies: std::collections::BTreeMap<String, String>,
}

/// An integer within `min..=max`, or the same number as a string of digits (`pattern`).
fn integer_or_digits(description: String, min: u64, max: u64, pattern: &str) -> Schema {
    let number = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max));
    let digits = ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern));
    OneOfBuilder::new().item(number).item(digits).description(Some(description)).build().into()
}

fn carnet_schema() -> Schema {
    let description = format!("Student id: a positive integer of at most 12 digits (1..={}).", Carnet::MAX);
    integer_or_digits(description, 1, Carnet::MAX, "^0*[1-9][0-9]{0,11}$")
}

/// The highest grade (`grades_domain::Nota` has the rule but no constant; a test holds them equal).
const NOTA_MAX: u64 = 100;

fn nota_schema() -> Schema {
    integer_or_digits(format!("The grade, 0..={NOTA_MAX}."), 0, NOTA_MAX, "^0*(100|[1-9]?[0-9])$")
}

fn year_schema() -> Schema {
    let description = format!("Year, {}..={}.", Year::MIN, Year::MAX);
    integer_or_digits(description, u64::from(Year::MIN), u64::from(Year::MAX), "^0*(199[0-9]|20[0-9]{2}|2100)$")
}

fn nombre_schema() -> Schema {
    let description = format!(
        "Student name: 1..={} characters once spaces and tabs at either end are trimmed, no control characters.",
        StudentName::MAX_CHARS
    );
    let text = ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(StudentName::MAX_CHARS));
    text.pattern(Some(r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"))
        .description(Some(description))
        .examples(["Alumno 7"])
        .into()
}

fn curso_schema() -> Schema {
    let description = "Course code, any case: one of the catalog's (`GET /api/courses` on realtime; \
                       seeded: SO1, BD1, LFP, SA, AYD1). An unknown course is a 422.";
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^\s*[A-Za-z0-9]{1,10}\s*$"))
        .description(Some(description))
        .examples(["SO1"])
        .into()
}

/// The optional bearer token (`INGEST_TOKEN`) and the `X-Route` header every answer of
/// `POST /grades` carries, added to the generated paths.
struct Additions;

impl Modify for Additions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("Required only when the service runs with INGEST_TOKEN set: `Authorization: Bearer <INGEST_TOKEN>`."))
                .build(),
        );
        openapi.components.get_or_insert_with(Default::default).add_security_scheme("bearer", bearer);
        let Some(post) = openapi.paths.paths.get_mut("/grades").and_then(|item| item.post.as_mut()) else { return };
        for response in post.responses.responses.values_mut() {
            if let utoipa::openapi::RefOr::T(response) = response {
                let route = HeaderBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("RouteName")))
                    .description(Some("The route that answered: `grpc` (grpc-client) or `rest` (rest-api)."))
                    .build();
                response.headers.insert("X-Route".to_owned(), route.into());
            }
        }
    }
}

/// POST /grades as the contract states it (docs/CONTRACTS.md, "Ingestion").
#[utoipa::path(
    post,
    summary = "Store one grade",
    description = "Answered once the grade is committed in MySQL. The same request gets the same answer, byte for byte, from both routes (but `X-Route`).",
    path = "/grades",
    tag = "ingestion",
    request_body(content = GradeRequest, content_type = "application/json", description = "One grade, at most 16 KiB of JSON."),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 128, pattern = "^[!-~]+$",
         description = "Makes the POST safe to retry: a replay with the same grade answers 200 with the first id, another grade under the same key 409. 1..=128 visible ASCII characters."),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "Stored (committed in MySQL).", body = Created),
        (status = 200, description = "Idempotency-Key replay: nothing new stored; the original answer.", body = Created),
        (status = 400, description = "Malformed JSON.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "INGEST_TOKEN is set and the request has no Authorization, another scheme or another token.",
         body = ProblemDetails, content_type = "application/problem+json",
         headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"grades\"` (with `error=\"invalid_token\"` for a wrong token)."))),
        (status = 409, description = "Idempotency-Key reused with a different grade.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON (UTF-8).", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Validation failure: `errors` names every broken rule.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 500, description = "Anything else (a bug; on route grpc, a token grpc-server refuses).", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "MySQL unreachable (route grpc: or grpc-server), or the replica is shutting down: retry after `Retry-After`.",
         body = ProblemDetails, content_type = "application/problem+json",
         headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
#[allow(dead_code)]
fn post_grades() {}

/// `GET /healthz` (grades-kit's health router).
#[utoipa::path(get, summary = "Liveness", description = "200 while the process runs. Needs no token.", path = "/healthz", tag = "operations", responses((status = 200, description = "Alive.", body = Alive)))]
#[allow(dead_code)]
fn healthz() {}

/// `GET /readyz` (grades-kit's health router).
#[utoipa::path(
    get,
    summary = "Readiness",
    description = "200 when every required dependency answers and no background task failed, else 503. Needs no token.",
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic.", body = Readiness),
        (status = 503, description = "A required dependency does not answer, or a background task failed.", body = Readiness),
    )
)]
#[allow(dead_code)]
fn readyz() {}

/// `GET /metrics` (grades-kit's health router).
#[utoipa::path(
    get,
    summary = "Prometheus metrics",
    description = "Names and labels: docs/CONTRACTS.md, \"Metrics\". Needs no token.",
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "OpenMetrics text.", body = String, content_type = "application/openmetrics-text"))
)]
#[allow(dead_code)]
fn metrics() {}

/// `GET /openapi.json`, served by the front's router beside POST /grades.
#[utoipa::path(
    get,
    summary = "This document",
    description = "Served with POST /grades, so behind the token when INGEST_TOKEN is set; docs/openapi.json in the repository is the same document.",
    path = "/openapi.json",
    tag = "operations",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object, content_type = "application/json"),
        (status = 401, description = "INGEST_TOKEN is set and the request does not carry it.", body = ProblemDetails,
         content_type = "application/problem+json", headers(("WWW-Authenticate" = String))),
    )
)]
#[allow(dead_code)]
fn openapi_json() {}

/// The ingestion API of both HTTP routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "grades ingestion",
        description = "POST /grades on route 1 (grpc-client, :8001) and route 2 (rest-api, :8002): both answer identically. \
                       Contract: docs/CONTRACTS.md. The gRPC side (grpc-server :50051) describes itself through gRPC server reflection."
    ),
    paths(post_grades, healthz, readyz, metrics, openapi_json),
    modifiers(&Additions),
    tags(
        (name = "ingestion", description = "Grades in."),
        (name = "operations", description = "Probes and metrics (no token), and this document."),
    )
)]
struct IngestionApi;

/// The document, as served and committed (pretty JSON, one trailing newline).
pub fn openapi_json_text() -> String {
    let mut text = IngestionApi::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use grades_domain::{IdempotencyKey, Nota};
    use grades_kit::Problem;
    use serde_json::Value;

    use super::*;

    fn committed_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
    }

    fn document() -> Value {
        serde_json::from_str(&openapi_json_text()).unwrap()
    }

    /// docs/openapi.json is what the services serve: a change of the types fails this test until
    /// the file is regenerated (`just openapi`), like the dashboard's wire types.
    #[test]
    fn committed_openapi_document_is_current() {
        let expected = openapi_json_text();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(committed_file(), &expected).unwrap();
            return;
        }
        let current = std::fs::read_to_string(committed_file()).unwrap_or_default();
        assert!(current == expected, "docs/openapi.json is stale: run `just openapi` and commit it.\nexpected:\n{expected}");
    }

    #[test]
    fn the_document_is_openapi_3_1_and_lists_every_status_of_the_contract() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        let responses = document["paths"]["/grades"]["post"]["responses"].as_object().unwrap();
        let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
        for status in ["200", "201", "400", "401", "409", "413", "415", "422", "500", "503"] {
            assert!(statuses.contains(&status), "{status} missing: {statuses:?}");
            assert!(responses[status]["headers"]["X-Route"].is_object(), "{status} names X-Route");
        }
        assert!(responses["503"]["headers"]["Retry-After"].is_object());
        assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
        assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    }

    /// The mirrored problem details have exactly the fields `grades_kit::Problem` sends.
    #[test]
    fn problem_details_match_what_the_kit_sends() {
        let document = document();
        let schema = &document["components"]["schemas"]["ProblemDetails"];
        let mut documented: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        documented.sort_unstable();
        let sent = serde_json::to_value(
            Problem::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "x")
                .with_errors(serde_json::json!([{"field": "nota", "message": "m"}])),
        )
        .unwrap();
        let mut fields: Vec<&str> = sent.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(documented, fields);
        let required: Vec<&str> = schema["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(!required.contains(&"errors"), "errors is sent only with a 422");
    }

    /// Each numeric bound of the request schema is where the domain's rule changes its mind.
    #[test]
    fn request_bounds_are_the_domains() {
        let document = document();
        let properties = &document["components"]["schemas"]["GradeRequest"]["properties"];
        type Accepts = fn(u64) -> bool;
        let checks: [(&str, Accepts); 3] =
            [("carnet", |v| Carnet::new(v).is_ok()), ("nota", |v| Nota::new(v).is_ok()), ("year", |v| Year::new(v).is_ok())];
        for (field, accepts) in checks {
            let number = &properties[field]["oneOf"][0];
            let (min, max) = (number["minimum"].as_u64().unwrap(), number["maximum"].as_u64().unwrap());
            assert!(accepts(min) && accepts(max), "{field}: {min}..={max} accepted");
            assert!((min == 0 || !accepts(min - 1)) && !accepts(max + 1), "{field}: nothing beyond {min}..={max}");
        }
        assert_eq!(properties["nombre"]["maxLength"], StudentName::MAX_CHARS);
        assert!(StudentName::parse(&"n".repeat(StudentName::MAX_CHARS + 1)).is_err());
    }

    /// The Idempotency-Key bounds written in the path attribute are the domain's.
    #[test]
    fn idempotency_key_bounds_are_the_domains() {
        let document = document();
        let parameter = &document["paths"]["/grades"]["post"]["parameters"][0];
        assert_eq!(parameter["name"], "Idempotency-Key");
        assert_eq!(parameter["schema"]["maxLength"], IdempotencyKey::MAX_LEN);
        assert!(IdempotencyKey::parse(&"k".repeat(IdempotencyKey::MAX_LEN)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(IdempotencyKey::MAX_LEN + 1)).is_err());
        assert!(IdempotencyKey::parse("has space").is_err(), "the pattern [!-~] excludes spaces");
    }
}
