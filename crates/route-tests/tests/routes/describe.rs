//! Each route describes itself the way its ecosystem expects: grpc-server answers gRPC server
//! reflection (what `grpcurl -plaintext HOST:50051 list` and Postman ask, in both protocol
//! versions, without the `INGEST_TOKEN`, like health), and both HTTP routes serve the OpenAPI
//! document committed as docs/openapi.json.

use grades_domain::Route;
use tonic::transport::Channel;
use tonic_reflection::pb::{v1, v1alpha};

use super::{SecuredRoute, SECURITY_TOKEN};

/// The services reflection v1 lists, and the encoded descriptor file that defines `symbol`.
async fn ask_v1(channel: Channel, symbol: &str) -> (Vec<String>, Vec<Vec<u8>>) {
    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let request = |message| v1::ServerReflectionRequest { host: String::new(), message_request: Some(message) };
    let requests = vec![request(MessageRequest::ListServices(String::new())), request(MessageRequest::FileContainingSymbol(symbol.into()))];
    let mut answers = client.server_reflection_info(tokio_stream::iter(requests)).await.expect("reflection v1 call").into_inner();
    let (mut services, mut files) = (Vec::new(), Vec::new());
    while let Some(answer) = answers.message().await.expect("reflection v1 answer") {
        match answer.message_response.expect("a v1 answer") {
            MessageResponse::ListServicesResponse(list) => services.extend(list.service.into_iter().map(|s| s.name)),
            MessageResponse::FileDescriptorResponse(found) => files.extend(found.file_descriptor_proto),
            other => panic!("unexpected v1 answer {other:?}"),
        }
    }
    (services, files)
}

/// The services reflection v1alpha lists (the version older grpcurl asks first).
async fn list_v1alpha(channel: Channel) -> Vec<String> {
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request =
        v1alpha::ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut answers = client.server_reflection_info(tokio_stream::iter([request])).await.expect("reflection v1alpha call").into_inner();
    let answer = answers.message().await.expect("reflection v1alpha answer").expect("one answer");
    match answer.message_response.expect("a v1alpha answer") {
        MessageResponse::ListServicesResponse(list) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected v1alpha answer {other:?}"),
    }
}

#[tokio::test]
async fn grpc_server_reflection_lists_and_describes_its_services_without_the_token() {
    let db = grades_testkit::TestDatabase::create().await;
    let redis = grades_testkit::TestRedis::new().await;
    // With a token set: reflection must still answer a caller that carries none.
    let app = SecuredRoute::start(Route::Grpc, &db.url(), &redis, Some(SECURITY_TOKEN)).await;
    let grpc_url = app.grpc_url.clone().expect("grpc-server's address");
    let channel = tonic::transport::Endpoint::from_shared(grpc_url).unwrap().connect().await.unwrap();

    let (services, files) = ask_v1(channel.clone(), "grades.v1.GradeIngestion").await;
    for expected in ["grades.v1.GradeIngestion", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"] {
        assert!(services.iter().any(|s| s == expected), "v1 lists {expected}: {services:?}");
    }
    // `grpcurl describe` needs the file itself: it names the service's methods.
    let described = files.concat();
    for method in ["SubmitGrade", "ListCourses"] {
        assert!(described.windows(method.len()).any(|w| w == method.as_bytes()), "the descriptor of GradeIngestion names {method}");
    }

    let services = list_v1alpha(channel).await;
    for expected in ["grades.v1.GradeIngestion", "grpc.health.v1.Health"] {
        assert!(services.iter().any(|s| s == expected), "v1alpha lists {expected}: {services:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn both_http_routes_serve_the_committed_openapi_document() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")).unwrap();
    let routes = route_tests::spawn_both_routes().await;
    for route in Route::ALL {
        let response = routes.http.get(format!("{}/openapi.json", routes.url(route))).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "route {route}");
        assert_eq!(response.headers()["content-type"], "application/json", "route {route}");
        assert!(response.text().await.unwrap() == committed, "route {route} serves docs/openapi.json as committed");
    }
    routes.stop().await;
}
