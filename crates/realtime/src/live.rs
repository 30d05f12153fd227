//! Live pushes: one subscription to the Redis events channel feeds a coalescing buffer that a
//! ticker flushes to Socket.IO at most every [`FLUSH_INTERVAL`], plus the `routes` push.
//!
//! Nothing here polls Redis counters for changes: every new value arrives in a batch event.
//!
//! The `recent_grades` feed is a sample at high rates: an event carries at most
//! [`grades_live::RECENT_LEN`] of its fold's grades, and one push at most [`RECENT_PUSH_MAX`].
//! Clients that need every grade join [`ALL_GRADES_ROOM`] (`subscribe_all_grades`): they get
//! `all_grades` pushes holding each grade once, in id order, the grades an event did not carry
//! read back from MySQL (one primary-key range per event, only while someone is in the room).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use grades_domain::StoredGrade;
use grades_live::{LiveEvent, StudentCount};
use grades_storage::stats::{list_grades, GradeFilter};
use socketioxide::SocketIo;
use tokio::time::MissedTickBehavior;

use crate::api::{self, RouteStats, Totals};
use crate::error::ApiError;
use crate::params::{self, STUDENTS_ROOM_PREFIX};
use crate::AppState;

/// Shortest time between two pushes of the same event (≈10 pushes per second at most).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// How often `routes` is pushed while clients are connected.
pub const ROUTES_INTERVAL: Duration = Duration::from_secs(1);
/// Most grades in one `recent_grades` push (and on connect).
pub const RECENT_PUSH_MAX: usize = 20;
/// Room of the clients that asked for every grade (`all_grades` pushes).
pub const ALL_GRADES_ROOM: &str = "grades:all";
/// Most grades read back for one event: a terms fold never covers more (the projector's
/// `max_fold`).
const BACKFILL_MAX: u64 = 20_000;
/// Most events waiting for the next `all_grades` flush; beyond it the oldest are dropped (their
/// grades are not pushed). Ten flushes' worth of events at the projector's fastest cadence.
const ANNOUNCED_MAX: usize = 200;
/// A silent subscription is checked with a PING this often.
const SUBSCRIPTION_PING_INTERVAL: Duration = Duration::from_secs(15);
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);
const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What arrived since the last flush: only the latest value of each thing is kept.
#[derive(Debug, Default)]
struct Pending {
    totals: Option<Totals>,
    students: HashMap<String, StudentCount>,
    /// Newest first, at most [`RECENT_PUSH_MAX`].
    grades: VecDeque<StoredGrade>,
}

/// The grades one event announced, for the `all_grades` push.
#[derive(Debug)]
struct Announced {
    /// The grades the event carried: the newest of its fold, newest first.
    carried: Vec<StoredGrade>,
    /// Grades of the fold it did not carry: the ones just below the oldest carried (a fold is one
    /// gap-free id range).
    missing: u64,
}

/// Shared between the subscriber, the tickers and the Socket.IO handlers.
#[derive(Default)]
pub struct Hub {
    pending: Mutex<Pending>,
    /// Oldest event first; taken by the `all_grades` flush.
    announced: Mutex<VecDeque<Announced>>,
    subscribed: AtomicBool,
    routes: tokio::sync::Mutex<Option<(RouteStats, Instant)>>,
}

impl Hub {
    /// Folds one event into the pending pushes.
    pub fn apply(&self, event: LiveEvent) {
        let mut pending = self.pending();
        pending.totals = Some(Totals { total: event.total, route_count: event.route_count });
        for count in event.students {
            pending.students.insert(params::room(&count.curso, &count.semestre, count.year), count);
        }
        if !event.grades.is_empty() {
            let missing = event.new_grades.saturating_sub(event.grades.len() as u64);
            let mut announced = lock(&self.announced);
            if announced.len() == ANNOUNCED_MAX {
                announced.pop_front();
                tracing::warn!(max = ANNOUNCED_MAX, "all_grades flush is behind; the oldest waiting grades are not pushed");
            }
            announced.push_back(Announced { carried: event.grades.clone(), missing });
        }
        // The event lists its grades newest first, and it is newer than anything buffered.
        for grade in event.grades.into_iter().rev() {
            pending.grades.push_front(grade);
        }
        pending.grades.truncate(RECENT_PUSH_MAX);
    }

    fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending())
    }

    fn take_announced(&self) -> VecDeque<Announced> {
        std::mem::take(&mut *lock(&self.announced))
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        lock(&self.pending)
    }

    /// True while the Redis events subscription is up (reported by `/readyz`).
    pub fn subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    /// The latest `routes` body: reused if computed within the last push interval, so many
    /// clients connecting at once cost one computation.
    pub async fn routes(&self, state: &AppState) -> Result<RouteStats, ApiError> {
        let mut slot = self.routes.lock().await;
        if let Some((routes, at)) = slot.as_ref() {
            if at.elapsed() < ROUTES_INTERVAL {
                return Ok(routes.clone());
            }
        }
        let routes = api::route_stats(state).await?;
        *slot = Some((routes.clone(), Instant::now()));
        Ok(routes)
    }
}

/// A buffer of pending pushes, locked. They are only values the next flush takes, so a lock
/// poisoned by a panic is used as is rather than stopping every push.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

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
                state.hub.subscribed.store(true, Ordering::Relaxed);
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
                state.hub.subscribed.store(false, Ordering::Relaxed);
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
        let Some(term) = room.strip_prefix(STUDENTS_ROOM_PREFIX) else { continue };
        let mut parts = term.splitn(3, ':');
        let (Some(curso), Some(semestre), Some(year)) = (parts.next(), parts.next(), parts.next().and_then(|y| y.parse().ok())) else {
            continue;
        };
        match state.live.students(curso, semestre, year).await {
            Ok(students) => {
                let count = StudentCount { curso: curso.to_owned(), semestre: semestre.to_owned(), year, students };
                state.hub.pending().students.insert(room.to_string(), count);
            }
            Err(error) => tracing::warn!(%error, %room, "could not read students after reconnecting"),
        }
    }
}

/// Flushes coalesced updates every [`FLUSH_INTERVAL`]: `total` when it changed, `students` to each
/// room whose count changed, and `recent_grades` with the grades that arrived; and, on its own
/// ticker (its MySQL reads never delay those), `all_grades` to [`ALL_GRADES_ROOM`].
pub async fn run_flusher(state: AppState, io: SocketIo, shutdown: impl Future<Output = ()>) {
    tokio::select! {
        _ = flush_sampled(&state, &io) => {}
        _ = flush_all_grades(&state, &io) => {}
        _ = shutdown => {}
    }
}

async fn flush_sampled(state: &AppState, io: &SocketIo) {
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_totals: Option<Totals> = None;
    let mut last_students: HashMap<String, u64> = HashMap::new();
    loop {
        tick.tick().await;
        let pending = state.hub.take();
        if let Some(totals) = pending.totals {
            if last_totals.as_ref() != Some(&totals) {
                push(state, io.emit("total", &totals).await, "total");
                last_totals = Some(totals);
            }
        }
        for (room, count) in pending.students {
            if last_students.get(&room) != Some(&count.students) {
                last_students.insert(room.clone(), count.students);
                push(state, io.to(room).emit("students", &count).await, "students");
            }
        }
        if !pending.grades.is_empty() {
            let grades: Vec<StoredGrade> = pending.grades.into();
            push(state, io.emit("recent_grades", &grades).await, "recent_grades");
        }
    }
}

/// Every [`FLUSH_INTERVAL`], the grades announced since the last flush, each once and in id
/// order, to the clients in [`ALL_GRADES_ROOM`] (nothing is read while the room is empty).
async fn flush_all_grades(state: &AppState, io: &SocketIo) {
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let announced = state.hub.take_announced();
        if announced.is_empty() || io.within(ALL_GRADES_ROOM).sockets().is_empty() {
            continue;
        }
        let grades = every_grade(state, announced).await;
        if !grades.is_empty() {
            push(state, io.to(ALL_GRADES_ROOM).emit("all_grades", &grades).await, "all_grades");
        }
    }
}

/// The grades of the announced events, oldest first: what each carried, preceded by the grades
/// of its fold it did not carry (one newest-first primary-key range below the oldest carried).
async fn every_grade(state: &AppState, announced: VecDeque<Announced>) -> Vec<StoredGrade> {
    let mut grades = Vec::new();
    for Announced { carried, missing } in announced {
        let Some(oldest_carried) = carried.last().map(|g| g.id) else { continue };
        if missing > 0 {
            let limit = u32::try_from(missing.min(BACKFILL_MAX)).unwrap_or(u32::MAX);
            match list_grades(&state.pool, &GradeFilter::default(), limit, Some(oldest_carried)).await {
                Ok(page) => grades.extend(page.items.into_iter().rev()),
                Err(error) => tracing::warn!(%error, missing, "cannot read the grades an event did not carry; all_grades skips them"),
            }
        }
        grades.extend(carried.into_iter().rev());
    }
    grades
}

fn push(state: &AppState, result: Result<(), socketioxide::BroadcastError>, event: &str) {
    match result {
        Ok(()) => state.metrics.pushed(event),
        Err(error) => tracing::debug!(%error, event, "push not delivered to every client"),
    }
}

/// Pushes `routes` every [`ROUTES_INTERVAL`] while any client is connected, computed once per tick.
pub async fn run_routes_ticker(state: AppState, io: SocketIo, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(ROUTES_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut shutdown => return,
        }
        if io.sockets().is_empty() {
            continue;
        }
        match state.hub.routes(&state).await {
            Ok(routes) => {
                if failing {
                    tracing::info!("route figures available again");
                    failing = false;
                }
                push(&state, io.emit("routes", &routes).await, "routes");
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "route figures unavailable; routes pushes paused");
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use grades_domain::Route;
    use grades_live::RouteCounts;

    use super::*;

    fn grade(id: u64) -> StoredGrade {
        StoredGrade {
            id,
            carnet: id,
            nombre: format!("Alumno {id}"),
            curso: "SO1".into(),
            nota: 90,
            semestre: "2S".into(),
            year: 2023,
            route: Route::Rest,
            created_at: Default::default(),
        }
    }

    fn event(total: u64, ids: &[u64], students: &[(&str, u64)]) -> LiveEvent {
        LiveEvent {
            total,
            route_count: RouteCounts { grpc: 0, rest: total },
            new_grades: ids.len() as u64,
            // Newest first, as the projector publishes them.
            grades: ids.iter().rev().map(|id| grade(*id)).collect(),
            students: students
                .iter()
                .map(|(curso, n)| StudentCount { curso: (*curso).into(), semestre: "2S".into(), year: 2023, students: *n })
                .collect(),
        }
    }

    #[test]
    fn events_between_flushes_keep_only_the_latest_values() {
        let hub = Hub::default();
        hub.apply(event(1, &[1], &[("SO1", 1)]));
        hub.apply(event(3, &[2, 3], &[("SO1", 2), ("BD1", 1)]));
        hub.apply(event(4, &[4], &[("SO1", 3)]));
        let pending = hub.take();
        assert_eq!(pending.totals.map(|t| t.total), Some(4));
        assert_eq!(pending.students.len(), 2);
        assert_eq!(pending.students["students:SO1:2S:2023"].students, 3);
        assert_eq!(pending.students["students:BD1:2S:2023"].students, 1);
        let ids: Vec<u64> = pending.grades.iter().map(|g| g.id).collect();
        assert_eq!(ids, [4, 3, 2, 1], "newest first across events");
        let empty = hub.take();
        assert!(empty.totals.is_none() && empty.students.is_empty() && empty.grades.is_empty());
    }

    #[test]
    fn every_event_is_kept_for_all_grades_with_what_it_did_not_carry() {
        let hub = Hub::default();
        hub.apply(event(3, &[1, 2, 3], &[]));
        // A fold of 80 grades (ids 4..=83) whose event carried only the newest 50.
        let mut big = event(83, &(34..=83).collect::<Vec<_>>(), &[]);
        big.new_grades = 80;
        hub.apply(big);
        hub.apply(event(83, &[], &[]));
        let announced: Vec<(Vec<u64>, u64)> =
            hub.take_announced().into_iter().map(|a| (a.carried.iter().map(|g| g.id).collect(), a.missing)).collect();
        assert_eq!(announced.len(), 2, "an event without grades announces none");
        assert_eq!(announced[0], (vec![3, 2, 1], 0));
        assert_eq!(announced[1].0.first().copied(), Some(83));
        assert_eq!(announced[1].0.last().copied(), Some(34));
        assert_eq!(announced[1].1, 30, "ids 4..=33 are read back from MySQL");
        assert!(hub.take_announced().is_empty());
    }

    #[test]
    fn a_burst_keeps_the_newest_grades_only() {
        let hub = Hub::default();
        let ids: Vec<u64> = (1..=30).collect();
        hub.apply(event(25, &ids[..25], &[]));
        hub.apply(event(30, &ids[25..], &[]));
        let kept: Vec<u64> = hub.take().grades.iter().map(|g| g.id).collect();
        assert_eq!(kept, (11..=30).rev().collect::<Vec<_>>());
    }
}
