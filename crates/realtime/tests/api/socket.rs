//! Socket.IO: state on connect, live pushes, rooms, coalescing, recovery after a Redis outage,
//! prompt shutdown, and a flood of connections and malformed packets.

use std::time::Duration;

use grades_domain::Route;
use grades_testkit::eventually;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::{carnets, is_total, Env, SEED, SEED_GRPC, SEED_REST, SEED_TOTAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_gets_state_on_connect_and_live_updates() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;

    // On connect: total, the last grades (newest first) and the route figures.
    let total = client.expect("initial total", is_total(SEED_TOTAL)).await;
    assert_eq!(total, json!({"total": SEED_TOTAL, "route_count": {"grpc": SEED_GRPC, "rest": SEED_REST}}));
    let recent = client.expect("initial recent_grades", |name, _| name == "recent_grades").await;
    let expected: Vec<u64> = SEED.iter().rev().map(|s| s.0).collect();
    assert_eq!(carnets(&recent), expected);
    assert_eq!(recent[0]["nombre"], "Alumno 113");
    assert_eq!(recent[0]["route"], "grpc");
    let routes = client.expect("initial routes", |name, _| name == "routes").await;
    assert_eq!(routes["window_seconds"], 60);
    assert_eq!(routes["routes"][0]["stored"], SEED_GRPC);
    assert_eq!(routes["routes"][1]["stored"], SEED_REST);

    // Subscribing answers at once with the room's count.
    client.emit("subscribe_students", json!({"curso": "SO1", "semestre": "2S", "year": 2023})).await;
    let students = client.expect("students for SO1 2S 2023", |name, _| name == "students").await;
    assert_eq!(students, json!({"curso": "SO1", "semestre": "2S", "year": 2023, "students": 4}));

    // Invalid selections get an `error` event and change nothing.
    for (bad, hint) in [
        (json!({"curso": "XX9", "semestre": "2S", "year": 2023}), "unknown course XX9"),
        (json!({"curso": "SO1", "semestre": "5S", "year": 2023}), "1S or 2S"),
        (json!({"curso": "SO1", "semestre": "2S", "year": 1492}), "between 1990 and 2100"),
        (json!({"curso": "SO1", "semestre": "2S"}), "year is required"),
        (json!("SO1"), "must be an object"),
    ] {
        client.emit("subscribe_students", bad.clone()).await;
        let error = client.expect("error event", |name, _| name == "error").await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(hint), "{bad} -> {error}");
    }
    // Events a client sends never write anything.
    client.emit("grade", json!({"carnet": 1, "nombre": "X", "curso": "SO1", "nota": 100, "semestre": "2S", "year": 2023})).await;

    // A new student in the subscribed room: new total, new count, the grade in the feed.
    env.post(Route::Rest, 120, "SO1", 77, "2S", 2023).await;
    let total = client.expect("total 18", is_total(18)).await;
    assert_eq!(total["route_count"], json!({"grpc": SEED_GRPC, "rest": SEED_REST + 1}));
    let students = client.expect("students 5", |name, _| name == "students").await;
    assert_eq!(students, json!({"curso": "SO1", "semestre": "2S", "year": 2023, "students": 5}));
    let recent = client.expect("recent_grades with the new grade", |name, _| name == "recent_grades").await;
    assert_eq!(recent[0]["carnet"], 120);
    assert_eq!(recent[0]["nota"], 77);

    // Another room changes: the total comes, no `students` for a room this client is not in.
    env.post(Route::Grpc, 121, "BD1", 88, "2S", 2023).await;
    client.expect("total 19", is_total(19)).await;
    let after: Vec<_> = client.collect(Duration::from_millis(500)).await;
    assert!(after.iter().all(|(name, _)| name != "students"), "students pushed for another room: {after:?}");

    // Same room, a student already counted: the count did not change, so nothing is pushed.
    env.post(Route::Rest, 120, "SO1", 50, "2S", 2023).await;
    client.expect("total 20", is_total(20)).await;
    let after = client.collect(Duration::from_millis(500)).await;
    assert!(after.iter().all(|(name, _)| name != "students"), "unchanged count pushed: {after:?}");

    // Switching selection leaves the previous room.
    client.emit("subscribe_students", json!({"curso": "BD1", "semestre": "2S", "year": "2023"})).await;
    let students = client.expect("students for BD1", |name, _| name == "students").await;
    assert_eq!(students, json!({"curso": "BD1", "semestre": "2S", "year": 2023, "students": 4}));
    env.post(Route::Rest, 122, "SO1", 90, "2S", 2023).await;
    client.expect("total 21", is_total(21)).await;
    let after = client.collect(Duration::from_millis(500)).await;
    assert!(after.iter().all(|(name, _)| name != "students"), "still in the SO1 room: {after:?}");
    env.post(Route::Rest, 123, "BD1", 90, "2S", 2023).await;
    let students = client.expect("students for BD1 after a new student", |name, _| name == "students").await;
    assert_eq!(students["students"], 5);

    assert_eq!(env.json("/api/live").await["total"], 22, "only the POSTed grades were stored");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_are_pushed_every_second_while_clients_are_connected() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;
    let started = Instant::now();
    let events = client.collect(Duration::from_millis(4500)).await;
    let routes: Vec<&Value> = events.iter().filter(|(name, _)| name == "routes").map(|(_, data)| data).collect();
    // One on connect, then one a second.
    assert!((3..=7).contains(&routes.len()), "{} routes pushes in {:?}", routes.len(), started.elapsed());
    let http = env.json("/api/stats/routes").await;
    let last = routes.last().unwrap();
    assert_eq!(last["window_seconds"], http["window_seconds"]);
    for i in 0..2 {
        assert_eq!(last["routes"][i]["route"], http["routes"][i]["route"]);
        assert_eq!(last["routes"][i]["stored"], http["routes"][i]["stored"]);
    }

    // With nobody connected, nothing is computed or pushed.
    drop(client);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let series = "grades_realtime_pushes_total{event=\"routes\"}";
    let before = env.metric(series).await;
    assert!(before >= 2.0, "routes pushes counted: {before}");
    assert_eq!(env.metric("grades_realtime_socket_clients").await, 0.0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.metric(series).await, before, "routes pushed with no client connected");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_are_coalesced_to_about_ten_pushes_a_second() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;
    client.expect("initial total", is_total(SEED_TOTAL)).await;

    // Two clients posting one grade after another: every grade is its own commit and its own
    // event, far more than ten a second.
    const EACH: u64 = 40;
    let events_before = env.metric("grades_realtime_events_received_total").await;
    let started = Instant::now();
    let stream = |route: Route, first: u64| {
        let env = &env;
        async move {
            for carnet in first..first + EACH {
                env.post(route, carnet, "SA", 70, "1S", 2024).await;
            }
        }
    };
    let final_total = SEED_TOTAL + 2 * EACH;
    let (_, _, totals) = tokio::join!(stream(Route::Rest, 500), stream(Route::Grpc, 600), async {
        let mut totals = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some((name, data)) = client.next_event(deadline).await {
            let total = data["total"].as_u64().unwrap_or(0);
            if name == "total" && total > SEED_TOTAL {
                totals.push(total);
                if total == final_total {
                    break;
                }
            }
        }
        totals
    });
    let elapsed = started.elapsed();
    let events = env.metric("grades_realtime_events_received_total").await - events_before;
    assert_eq!(totals.last().copied(), Some(final_total), "final total never pushed: {totals:?}");
    assert!(totals.windows(2).all(|w| w[0] < w[1]), "totals go up: {totals:?}");
    let flushes = elapsed.as_millis() as usize / 100 + 2;
    assert!(
        totals.len() <= flushes,
        "{} total pushes for {events} events in {elapsed:?}: more than one per 100 ms ({flushes})",
        totals.len()
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_subscription_recovers_from_a_redis_outage() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;
    client.expect("initial total", is_total(SEED_TOTAL)).await;
    client.emit("subscribe_students", json!({"curso": "SO1", "semestre": "2S", "year": 2023})).await;
    client.expect("students", |name, data| name == "students" && data["students"] == 4).await;

    env.redis_proxy.stop();
    let down = eventually(Duration::from_secs(10), || async {
        let (_, body) = env.ready().await;
        (body["dependencies"]["redis_events"] != "up").then_some(())
    })
    .await;
    assert!(down.is_some(), "lost subscription not noticed");

    // Stored while realtime cannot hear the events channel.
    env.post(Route::Rest, 130, "SO1", 99, "2S", 2023).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.redis_proxy.resume().await;
    env.wait_subscribed().await;

    // After resubscribing, the missed changes are read once and pushed.
    client.expect("total caught up after the outage", is_total(SEED_TOTAL + 1)).await;
    client.expect("students caught up after the outage", |name, data| name == "students" && data["students"] == 5).await;
    assert!(env.metric("grades_realtime_subscription_reconnects_total").await >= 1.0);

    // And live events flow again.
    env.post(Route::Grpc, 131, "SO1", 45, "2S", 2023).await;
    client.expect("total after the outage", is_total(SEED_TOTAL + 2)).await;
    client.expect("students after the outage", |name, data| name == "students" && data["students"] == 6).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_prompt_with_clients_connected() {
    let mut env = Env::start().await;
    let mut ws = env.connect().await;
    ws.expect("initial total", is_total(0)).await;

    // A long-polling client too, with a poll waiting for data.
    let base = format!("{}/socket.io/?EIO=4&transport=polling", env.url);
    let open = env.http.get(&base).send().await.unwrap().text().await.unwrap();
    let handshake: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).unwrap();
    let sid = handshake["sid"].as_str().unwrap().to_owned();
    let session = format!("{base}&sid={sid}");
    assert_eq!(env.http.post(&session).body("40").send().await.unwrap().status(), 200);
    let mut received = Vec::new();
    while !received.iter().any(|p: &String| p.starts_with("40")) {
        assert!(received.len() < 20, "no namespace connect over polling: {received:?}");
        let payload = env.http.get(&session).send().await.unwrap().text().await.unwrap();
        for packet in payload.split('\u{1e}') {
            if packet == "2" {
                env.http.post(&session).body("3").send().await.unwrap();
            }
            received.push(packet.to_owned());
        }
    }
    let http = env.http.clone();
    let waiting = tokio::spawn(async move { http.get(&session).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let took = env.stop_realtime().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let _ = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("pending poll answered");
    assert!(ws.closed_within(Duration::from_secs(5)).await, "WebSocket not closed by the shutdown");
    assert!(TcpStream::connect(env.addr).await.is_err(), "port closed after shutdown");
    env.stop().await;
}

/// `subscribe_all_grades`: a burst far larger than one push or one event carries reaches the
/// subscriber whole (each grade once, in id order, read back from MySQL where the event carried
/// only the newest), while the dashboard's feed stays a sample; unsubscribing stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_grades_subscribers_get_every_grade_of_a_burst() {
    let env = Env::start().await;
    let mut all = env.connect().await;
    let mut sampled = env.connect().await;
    all.send(r#"421["subscribe_all_grades"]"#).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let packet = all.next_packet(deadline).await.expect("subscribe_all_grades acknowledgement");
        if let Some(ack) = packet.strip_prefix("431") {
            assert_eq!(serde_json::from_str::<Value>(ack).unwrap(), json!([{"all_grades": true}]));
            break;
        }
    }

    // Concurrent POSTs commit in a few batches, so the projector folds far more than the 50
    // grades one event carries.
    const BURST: u64 = 300;
    let posts = (0..BURST).map(|i| env.post(Route::Rest, 5000 + i, ["SO1", "BD1", "LFP"][i as usize % 3], i % 101, "2S", 2023));
    let mut posted: Vec<u64> = futures::future::join_all(posts).await;
    posted.sort_unstable();

    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.len() < posted.len() {
        let Some((name, data)) = all.next_event(deadline).await else { break };
        if name == "all_grades" {
            for grade in data.as_array().expect("all_grades is an array") {
                assert_eq!(grade["semestre"], "2S", "a whole grade: {grade}");
                received.push(grade["id"].as_u64().expect("id"));
            }
        }
    }
    assert_eq!(received, posted, "every grade once, in id order");

    // The dashboard's feed samples: at most 20 grades a push, the newest ones.
    let mut sampled_ids = Vec::new();
    for (name, data) in sampled.collect(Duration::from_millis(1500)).await {
        if name == "recent_grades" {
            let ids = crate::helpers::ids(&data);
            assert!(ids.len() <= 20, "recent_grades carries at most 20: {}", ids.len());
            sampled_ids.extend(ids);
        }
    }
    assert!(sampled_ids.contains(posted.last().unwrap()), "the newest grade is in the sampled feed");
    assert!(sampled_ids.len() < posted.len(), "the sampled feed carried all {} grades of a burst", sampled_ids.len());

    // Unsubscribed: totals still come, all_grades no longer.
    all.send(r#"422["unsubscribe_all_grades"]"#).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all.next_packet(deadline).await.expect("unsubscribe acknowledgement").starts_with("432") {}
    env.post(Route::Rest, 6000, "SO1", 90, "2S", 2023).await;
    all.expect("total after unsubscribing", is_total(BURST + 1)).await;
    let after = all.collect(Duration::from_millis(500)).await;
    assert!(after.iter().all(|(name, _)| name != "all_grades"), "all_grades after unsubscribing: {after:?}");
    env.stop().await;
}

/// A flood of Socket.IO connections and malformed packets neither takes realtime down nor keeps a
/// well-behaved client from its pushes; the limits it meets are in docs/CONTRACTS.md (Socket.IO).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_connections_and_malformed_packets_does_not_starve_a_good_client() {
    use futures::{stream, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::Message;

    use crate::helpers::SocketClient;

    let env = Env::seeded().await;
    let mut good = env.connect().await;
    good.expect("initial total", is_total(SEED_TOTAL)).await;

    // 300 clients that join the namespace and then never read what they are sent.
    const IDLE: usize = 300;
    let idle: Vec<SocketClient> = stream::iter(0..IDLE).map(|_| SocketClient::connect(env.addr)).buffer_unordered(50).collect().await;
    assert_eq!(env.metric("grades_realtime_socket_clients").await, (IDLE + 1) as f64, "every idle client joined");

    // Unfinished handshakes: a TCP connection with half an HTTP request, an Engine.IO session
    // that never joins a namespace, a long-polling handshake never followed up.
    let mut half_requests = Vec::new();
    for _ in 0..50 {
        let mut tcp = TcpStream::connect(env.addr).await.expect("TCP connect");
        tcp.write_all(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: realtime\r\n").await.unwrap();
        half_requests.push(tcp);
    }
    let mut never_joined: Vec<SocketClient> =
        stream::iter(0..50).map(|_| SocketClient::open(env.addr)).buffer_unordered(25).collect().await;
    for _ in 0..50 {
        let open = env.http.get(format!("{}/socket.io/?EIO=4&transport=polling", env.url)).send().await.unwrap();
        assert_eq!(open.status(), 200);
    }

    // Malformed Engine.IO / Socket.IO packets, each on a connection of its own.
    let garbage = [
        "",
        "hello",
        "9",
        "1",
        "5",
        "6",
        "4",
        "42",
        "42[",
        "42{}",
        "42[1,2]",
        "42[null]",
        "421[\"subscribe_students\",{}]",
        "42[\"subscribe_students\",{\"curso\":",
        "42[\"subscribe_students\"]",
        "42[\"subscribe_students\",{\"curso\":[[[[[[]]]]]]}]",
        "43",
        "44",
        "451-[\"subscribe_students\",{\"_placeholder\":true,\"num\":0}]",
        "40/nope,{}",
        "41",
        "2probe",
    ];
    let mut malformed = Vec::new();
    for packet in garbage {
        let mut client = SocketClient::connect(env.addr).await;
        client.send_message(Message::text(packet)).await;
        malformed.push(client);
    }
    // A namespace that does not exist is refused, and the client's session goes on.
    let mut wrong_namespace = SocketClient::open(env.addr).await;
    wrong_namespace.send("40/admin,").await;
    let refusal = wrong_namespace.next_packet(Instant::now() + Duration::from_secs(10)).await;
    assert!(refusal.as_deref().is_some_and(|p| p.starts_with("44/admin,")), "unknown namespace: {refusal:?}");
    // Binary garbage, and messages over the 16 KiB packet limit on both transports: the
    // WebSocket is closed, the long-polling body refused.
    let mut binary = SocketClient::connect(env.addr).await;
    binary.send_message(Message::binary(vec![0xff_u8; 4096])).await;
    let mut huge = SocketClient::connect(env.addr).await;
    huge.send_message(Message::text(format!("42[\"subscribe_students\",\"{}\"]", "x".repeat(1 << 20)))).await;
    assert!(huge.closed_within(Duration::from_secs(10)).await, "a 1 MiB WebSocket message did not close its connection");
    let polling = format!("{}/socket.io/?EIO=4&transport=polling", env.url);
    let open = env.http.get(&polling).send().await.unwrap().text().await.unwrap();
    let sid = serde_json::from_str::<Value>(open.strip_prefix('0').expect("open packet")).unwrap()["sid"].as_str().unwrap().to_owned();
    let session = format!("{polling}&sid={sid}");
    let too_big = env.http.post(&session).body("4".repeat(1 << 20)).send().await.map(|r| r.status().as_u16());
    assert!(!matches!(too_big, Ok(200)), "a 1 MiB long-polling body was taken: {too_big:?}");
    for body in ["\u{1e}\u{1e}", "40\u{1e}42[", "zzz", "b"] {
        let _ = env.http.post(format!("{polling}&sid=not-a-session")).body(body).send().await;
    }
    for query in ["EIO=3&transport=polling", "EIO=4&transport=carrier-pigeon", "EIO=4&transport=polling&sid=%00%ff"] {
        let status = env.http.get(format!("{}/socket.io/?{query}", env.url)).send().await.unwrap().status();
        assert!(status.is_client_error(), "{query}: {status}");
    }

    // Under all that, the well-behaved client gets every update, and realtime stays ready and
    // keeps serving HTTP.
    for i in 0..6_u64 {
        let route = if i % 2 == 0 { Route::Rest } else { Route::Grpc };
        env.post(route, 700 + i, "SO1", 80, "2S", 2023).await;
        good.expect("the total after a grade stored during the flood", is_total(SEED_TOTAL + i + 1)).await;
    }
    assert_eq!(env.ready().await.0, 200, "realtime not ready during the flood: {:?}", env.ready().await);
    assert_eq!(env.json("/api/live").await["total"], SEED_TOTAL + 6);

    // A session that never joins a namespace is closed by the server (connect timeout).
    assert!(never_joined[0].closed_within(Duration::from_secs(20)).await, "a session that never joined a namespace was kept");

    // When the flood leaves, its clients are forgotten and newcomers are served as before.
    drop((idle, half_requests, malformed, binary, huge, wrong_namespace));
    never_joined.clear();
    let settled =
        eventually(Duration::from_secs(20), || async { (env.metric("grades_realtime_socket_clients").await == 1.0).then_some(()) }).await;
    assert!(settled.is_some(), "socket clients after the flood: {}", env.metric("grades_realtime_socket_clients").await);
    let mut newcomer = env.connect().await;
    newcomer.expect("a newcomer's initial total", is_total(SEED_TOTAL + 6)).await;
    env.post(Route::Rest, 799, "BD1", 70, "2S", 2023).await;
    good.expect("the total after the flood", is_total(SEED_TOTAL + 7)).await;
    newcomer.expect("the newcomer's first update", is_total(SEED_TOTAL + 7)).await;
    env.stop().await;
}
