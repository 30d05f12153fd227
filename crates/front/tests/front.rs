//! The HTTP front of `POST /grades` under generated input: whatever the body, it never panics and
//! never answers 5xx; a grade reaches the sink only when every field obeys the contract, with
//! exactly the values sent; one bad field is always a 422 that names it. The sink here records
//! what reaches it: that is the boundary under test (the route tests store for real).

// Test code may panic: a failed step fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use grades_domain::{Catalog, Course, CourseCode, IdempotencyKey, IngestError, NewGrade, Route};
use grades_front::{grades_router, Accepted, GradeSink};
use grades_kit::{HttpMetrics, MetricsRegistry};
use grades_live::latency::LatencyRecorder;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

const COURSES: [&str; 5] = ["SO1", "BD1", "LFP", "SA", "AYD1"];

#[derive(Default)]
struct RecordingSink {
    submitted: Mutex<Vec<NewGrade>>,
}

impl GradeSink for RecordingSink {
    fn route(&self) -> Route {
        Route::Rest
    }

    async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        let courses = COURSES.map(|code| Course { code: CourseCode::parse(code).unwrap(), name: format!("Course {code}") });
        Ok(Arc::new(Catalog::new(courses)))
    }

    async fn submit(&self, grade: NewGrade, _key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        let mut submitted = self.submitted.lock().unwrap();
        submitted.push(grade);
        Ok(Accepted { id: submitted.len() as u64, replayed: false })
    }
}

struct Front {
    sink: Arc<RecordingSink>,
    router: Router,
    runtime: tokio::runtime::Runtime,
}

impl Front {
    fn new() -> Self {
        let sink = Arc::new(RecordingSink::default());
        let router = grades_router(sink.clone(), HttpMetrics::register(&mut MetricsRegistry::new()), LatencyRecorder::default());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        Self { sink, router, runtime }
    }

    /// POSTs `body`; the status and the body of the answer.
    fn post(&self, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let request = Request::post("/grades").header("content-type", content_type).body(Body::from(body)).unwrap();
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        })
    }

    fn take_submitted(&self) -> Vec<NewGrade> {
        std::mem::take(&mut *self.sink.submitted.lock().unwrap())
    }
}

thread_local! {
    static FRONT: Front = Front::new();
}

/// A field sent as a JSON number or as a digits-only string.
fn number_or_digits(value: u64) -> impl Strategy<Value = Value> {
    prop_oneof![Just(json!(value)), Just(json!(value.to_string()))]
}

/// A grade's stored values: carnet, nombre, curso, nota, semestre, year.
type StoredValues = (u64, String, String, u8, String, u16);

/// A grade every rule accepts, with the values it must be stored with.
fn valid_grade() -> impl Strategy<Value = (Map<String, Value>, StoredValues)> {
    (1..=u64::from(u32::MAX), "[A-Za-z][A-Za-z ]{0,40}[a-z]", 0..COURSES.len(), any::<bool>(), 0..=100u8, any::<bool>(), 1990..=2100u16)
        .prop_flat_map(|(carnet, nombre, course, lower, nota, second, year)| {
            let curso = if lower { COURSES[course].to_lowercase() } else { COURSES[course].to_owned() };
            let semestre = if second { "2S" } else { "1S" };
            (number_or_digits(carnet), number_or_digits(u64::from(nota)), number_or_digits(u64::from(year))).prop_map(
                move |(carnet_value, nota_value, year_value)| {
                    let object = json!({"carnet": carnet_value, "nombre": nombre.clone(), "curso": curso.clone(),
                                        "nota": nota_value, "semestre": semestre, "year": year_value});
                    let Value::Object(object) = object else { unreachable!() };
                    let expected = (carnet, nombre.clone(), COURSES[course].to_owned(), nota, semestre.to_owned(), year);
                    (object, expected)
                },
            )
        })
}

/// One field and a value the contract rejects for it.
fn bad_field() -> impl Strategy<Value = (&'static str, Value)> {
    let not_an_integer = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-1_000_000i64..0).prop_map(Value::from),
        (0.5f64..1e9).prop_filter("fractional", |f| f.fract() != 0.0).prop_map(Value::from),
        "[ +-]?[0-9]{1,8}[ .a-z]".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ];
    prop_oneof![
        not_an_integer.clone().prop_map(|v| ("carnet", v)),
        Just(("carnet", json!(0))),
        not_an_integer.clone().prop_map(|v| ("nota", v)),
        (101..=u64::MAX).prop_map(|v| ("nota", json!(v))),
        not_an_integer.prop_map(|v| ("year", v)),
        prop_oneof![0..1990u64, 2101..=u64::MAX].prop_map(|v| ("year", json!(v))),
        prop_oneof![Just(json!("")), Just(json!("   ")), "[a-z]{101,140}".prop_map(Value::from), Just(Value::Null), Just(json!(7))]
            .prop_map(|v| ("nombre", v)),
        prop_oneof![Just(json!("XX9")), Just(json!("")), Just(json!("SO1 X")), Just(Value::Null), Just(json!(1))]
            .prop_map(|v| ("curso", v)),
        prop_oneof![Just(json!("3S")), Just(json!("")), Just(json!("1S2S")), Just(Value::Null), Just(json!(1))]
            .prop_map(|v| ("semestre", v)),
        prop_oneof![Just("carnet"), Just("nombre"), Just("curso"), Just("nota"), Just("semestre"), Just("year")]
            .prop_map(|field| (field, Value::String("<missing>".into()))),
    ]
}

fn cases() -> ProptestConfig {
    // PROPTEST_CASES overrides; the default keeps `just test` to seconds per property.
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(40_000),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn any_bytes_get_a_4xx_and_store_nothing(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        FRONT.with(|front| {
            let (status, _) = front.post("application/json", body);
            prop_assert!(status.is_client_error(), "status {status}");
            prop_assert!(front.take_submitted().is_empty());
            Ok(())
        })?;
    }

    #[test]
    fn any_content_type_gets_an_answer_below_500(content_type in "\\PC{0,60}", (object, _) in valid_grade()) {
        FRONT.with(|front| {
            let (status, _) = front.post(&content_type, serde_json::to_vec(&object).unwrap());
            prop_assert!(status.as_u16() < 500, "status {status} for content type {content_type:?}");
            let submitted = front.take_submitted();
            prop_assert_eq!(status == StatusCode::CREATED, submitted.len() == 1);
            Ok(())
        })?;
    }

    #[test]
    fn a_valid_grade_is_stored_with_exactly_its_values((object, expected) in valid_grade()) {
        FRONT.with(|front| {
            let (status, body) = front.post("application/json", serde_json::to_vec(&object).unwrap());
            prop_assert_eq!(status, StatusCode::CREATED, "{:?} -> {}", object, body);
            let submitted = front.take_submitted();
            prop_assert_eq!(submitted.len(), 1);
            let g = &submitted[0];
            let stored = (g.carnet.get(), g.nombre.as_str().to_owned(), g.curso.as_str().to_owned(), g.nota.get(),
                          g.semestre.as_str().to_owned(), g.year.get());
            prop_assert_eq!(stored, expected);
            Ok(())
        })?;
    }

    #[test]
    fn one_bad_field_is_a_422_naming_it_and_stores_nothing((mut object, _) in valid_grade(), (field, value) in bad_field()) {
        if value == json!("<missing>") {
            object.remove(field);
        } else {
            object.insert(field.to_owned(), value);
        }
        FRONT.with(|front| {
            let (status, body) = front.post("application/json", serde_json::to_vec(&object).unwrap());
            prop_assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{:?} -> {}", object, body);
            let named = body["errors"].as_array().into_iter().flatten().any(|e| e["field"] == field);
            prop_assert!(named, "422 does not name {}: {}", field, body);
            prop_assert!(front.take_submitted().is_empty());
            Ok(())
        })?;
    }
}
