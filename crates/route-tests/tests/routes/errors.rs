//! Every ingestion error reads the same on both routes, byte for byte: status, `Retry-After`,
//! content type and problem+json body (title, detail, per-field errors).
//!
//! Most errors cannot be provoked from outside on demand (an internal failure, a shutdown caught
//! mid-request), so each variant is injected by a grade sink that answers it, put behind the real
//! pieces of each route: the HTTP front alone for rest, and for grpc the same front over the real
//! gRPC client, a real tonic connection and grpc-server's real `GradeIngestion` service. The one
//! error a client can provoke, a reused Idempotency-Key, is also compared on the real services.

use std::net::SocketAddr;
use std::sync::Arc;

use grades_domain::{Catalog, Course, CourseCode, IdempotencyKey, IngestError, NewGrade, Route, ValidationErrors};
use grades_front::{grades_router, Accepted, GradeSink};
use grades_kit::{HttpMetrics, MetricsRegistry};
use grades_live::latency::LatencyRecorder;
use grades_proto::v1::grade_ingestion_server::GradeIngestionServer;
use grpc_server::{GrpcIngestion, GrpcMetrics};
use route_tests::{grade, spawn_both_routes};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// Answers every grade with `error`; with `catalog_fails`, fails the catalog read instead.
struct FailingSink {
    error: IngestError,
    catalog_fails: bool,
}

impl GradeSink for FailingSink {
    fn route(&self) -> Route {
        Route::Rest
    }

    async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        if self.catalog_fails {
            return Err(self.error.clone());
        }
        let course = Course { code: CourseCode::parse("SO1").unwrap(), name: "Sistemas Operativos 1".into() };
        Ok(Arc::new(Catalog::new([course])))
    }

    async fn submit(&self, _grade: NewGrade, _key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        Err(self.error.clone())
    }
}

/// Serves `router` on a port of its own; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

/// grpc-server's `GradeIngestion` over `sink`, on a port of its own.
async fn serve_grpc(sink: FailingSink) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = GradeIngestionServer::new(GrpcIngestion::new(sink, GrpcMetrics::register(&mut MetricsRegistry::new())));
    let server = tonic::transport::Server::builder().add_service(service).serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    address
}

fn front(sink: impl GradeSink) -> axum::Router {
    grades_router(Arc::new(sink), HttpMetrics::register(&mut MetricsRegistry::new()), LatencyRecorder::default())
}

/// What a client sees of an answer, minus what names the route.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: String,
}

async fn post(url: &str) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("{url}/grades"))
        .header("idempotency-key", "teacher-7:grade-42")
        .json(&grade(201900123, "SO1", 90))
        .send()
        .await
        .unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let (status, content_type, retry_after) = (response.status().as_u16(), header("content-type"), header("retry-after"));
    Answer { status, content_type, retry_after, body: response.text().await.unwrap() }
}

/// Posts one grade to both routes built over a sink failing with `error`; both answers must be
/// the same, and the body must carry the error's own sentence.
async fn same_answer_on_both_routes(error: IngestError, catalog_fails: bool) -> Answer {
    let rest = serve(front(FailingSink { error: error.clone(), catalog_fails })).await;
    let grpc_server = serve_grpc(FailingSink { error: error.clone(), catalog_fails }).await;
    let args: grpc_client::GrpcArgs = grades_testkit::flags(&["--grpc-server-url", &format!("http://{grpc_server}")]);
    let client = grpc_client::GrpcSink::new(&args, None, &grades_kit::Tasks::new()).unwrap();
    let grpc = serve(front(client)).await;

    let (rest, grpc) = (post(&rest).await, post(&grpc).await);
    assert_eq!(grpc, rest, "the grpc route answered {error:?} differently from the rest route");
    let body: serde_json::Value = serde_json::from_str(&rest.body).unwrap();
    assert_eq!(body["detail"], error.to_string(), "{body}");
    assert_eq!(rest.content_type.as_deref(), Some("application/problem+json"));
    rest
}

#[tokio::test]
async fn validation_errors_read_the_same_on_both_routes() {
    let mut errors = ValidationErrors::default();
    errors.push("nota", "must be an integer from 0 to 100");
    errors.push("curso", "\"XX9\" is not a course of the catalog");
    let answer = same_answer_on_both_routes(IngestError::Validation(errors), false).await;
    assert_eq!(answer.status, 422);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["errors"][1]["field"], "curso", "{body}");
}

#[tokio::test]
async fn a_reused_idempotency_key_reads_the_same_on_both_routes() {
    let key = IdempotencyKey::parse("teacher-7:grade-42").unwrap();
    let answer = same_answer_on_both_routes(IngestError::IdempotencyConflict(key), false).await;
    assert_eq!(answer.status, 409);
    assert!(answer.body.contains(r#"Idempotency-Key \"teacher-7:grade-42\" was already used"#), "{}", answer.body);
}

#[tokio::test]
async fn an_unavailable_store_reads_the_same_on_both_routes() {
    for catalog_fails in [false, true] {
        let answer = same_answer_on_both_routes(IngestError::unavailable("pool timed out"), catalog_fails).await;
        assert_eq!((answer.status, answer.retry_after.as_deref()), (503, Some("2")));
    }
}

#[tokio::test]
async fn an_internal_failure_reads_the_same_on_both_routes() {
    for catalog_fails in [false, true] {
        let answer = same_answer_on_both_routes(IngestError::internal("Table 'grades.grades' doesn't exist"), catalog_fails).await;
        assert_eq!(answer.status, 500);
    }
}

#[tokio::test]
async fn a_shutdown_reads_the_same_on_both_routes() {
    let answer = same_answer_on_both_routes(IngestError::ShuttingDown, false).await;
    assert_eq!((answer.status, answer.retry_after.as_deref()), (503, Some("2")));
}

/// On the real services: a key reused for a different grade is refused with the same body on
/// both routes (the key is stored once, in the database both routes share).
#[tokio::test]
async fn a_key_reused_on_the_real_services_reads_the_same_on_both_routes() {
    let app = spawn_both_routes().await;
    let post = |route: Route, nota: u64| {
        let request =
            app.http.post(format!("{}/grades", app.url(route))).header("idempotency-key", "k").json(&grade(201900123, "SO1", nota));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(post(Route::Rest, 90).await.0, 201);
    let (rest, grpc) = (post(Route::Rest, 91).await, post(Route::Grpc, 91).await);
    assert_eq!(rest.0, 409, "{}", rest.1);
    assert_eq!(grpc, rest);
    assert!(rest.1.contains(r#"Idempotency-Key \"k\" was already used for a different grade; use a new key"#), "{}", rest.1);
    app.stop().await;
}
