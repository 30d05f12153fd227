//! One subscription to the Redis events channel, remade with backoff whenever it is lost; each
//! event goes into the hub, and after a loss the current values are read once (events published
//! meanwhile are gone).

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use grades_live::{LiveEvent, StudentCount};
use socketioxide::SocketIo;
use tokio::time::MissedTickBehavior;

use crate::{api, params, AppState};

/// A silent subscription is checked with a PING this often.
const SUBSCRIPTION_PING_INTERVAL: Duration = Duration::from_secs(15);
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);
const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Keeps one subscription to the events channel, remade with backoff whenever it is lost.
pub async fn run_subscriber(state: AppState, io: SocketIo, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let channel = state.live.keys().events();
    let mut backoff = BACKOFF_INITIAL;
    let mut ever_subscribed = false;
    loop {
        let connected = tokio::select! {
            result = subscribe(&state, &channel) => result,
            _ = &mut shutdown => return,
        };
        let ended = match connected {
            Ok((sink, stream)) => {
                backoff = BACKOFF_INITIAL;
                state.hub.set_subscribed(true);
                if ever_subscribed {
                    state.metrics.subscription_reconnects.inc();
                    tracing::info!(%channel, "redis events subscription restored");
                    // Events published while it was down are lost: read the current values once.
                    resync(&state, &io).await;
                } else {
                    tracing::info!(%channel, "subscribed to redis events");
                }
                ever_subscribed = true;
                let outcome = tokio::select! {
                    reason = receive(&state, sink, stream) => Some(reason),
                    _ = &mut shutdown => None,
                };
                state.hub.set_subscribed(false);
                match outcome {
                    Some(reason) => reason,
                    None => return,
                }
            }
            Err(error) => error,
        };
        let retry_in_ms = backoff.as_millis() as u64;
        if ever_subscribed {
            tracing::warn!(%channel, reason = %ended, retry_in_ms, "redis events subscription lost; reconnecting");
        } else {
            tracing::warn!(%channel, reason = %ended, retry_in_ms, "cannot subscribe to redis events yet; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = &mut shutdown => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn subscribe(state: &AppState, channel: &str) -> Result<(redis::aio::PubSubSink, redis::aio::PubSubStream), String> {
    let mut pubsub = tokio::time::timeout(REDIS_TIMEOUT, state.live.client().get_async_pubsub())
        .await
        .map_err(|_| "timed out connecting to redis".to_owned())?
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(REDIS_TIMEOUT, pubsub.subscribe(channel))
        .await
        .map_err(|_| "timed out subscribing".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(pubsub.split())
}

/// Reads messages until the connection ends or stops answering; returns why.
async fn receive(state: &AppState, mut sink: redis::aio::PubSubSink, mut stream: redis::aio::PubSubStream) -> String {
    let mut ping = tokio::time::interval(SUBSCRIPTION_PING_INTERVAL);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else { return "connection closed".to_owned() };
                handle_message(state, message.get_payload_bytes());
            }
            _ = ping.tick() => {
                match tokio::time::timeout(REDIS_TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return format!("ping failed: {error}"),
                    Err(_) => return "ping timed out".to_owned(),
                }
            }
        }
    }
}

fn handle_message(state: &AppState, payload: &[u8]) {
    match serde_json::from_slice::<LiveEvent>(payload) {
        Ok(event) => {
            state.metrics.events_received.inc();
            state.hub.apply(event);
        }
        Err(error) => {
            state.metrics.events_invalid.inc();
            tracing::warn!(%error, "ignoring a message on the events channel that is not a live event");
        }
    }
}

/// After a lost subscription: pending total and the student counts of every watched room.
async fn resync(state: &AppState, io: &SocketIo) {
    match api::totals(state).await {
        Ok(totals) => state.hub.pending().totals = Some(totals),
        Err(error) => tracing::warn!(%error, "could not read totals after reconnecting"),
    }
    let rooms = io.rooms().await.unwrap_or_default();
    for room in rooms {
        let Some((curso, semestre, year)) = params::parse_room(&room) else { continue };
        let (curso, semestre, year) = (curso.as_str(), semestre.as_str(), year.get());
        match state.live.students(curso, semestre, year).await {
            Ok(students) => {
                let count = StudentCount { curso: curso.to_owned(), semestre: semestre.to_owned(), year, students };
                state.hub.pending().students.insert(room.to_string(), count);
            }
            Err(error) => tracing::warn!(%error, %room, "could not read students after reconnecting"),
        }
    }
}
