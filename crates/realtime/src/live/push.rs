//! The tickers that take the hub's pending values and push them to Socket.IO, and the MySQL
//! backfill of the grades an event did not carry (`all_grades`).

use std::collections::{HashMap, VecDeque};
use std::future::Future;

use grades_domain::StoredGrade;
use grades_storage::stats::{list_grades, GradeFilter};
use socketioxide::SocketIo;
use tokio::time::MissedTickBehavior;

use super::hub::Announced;
use super::{ALL_GRADES_ROOM, FLUSH_INTERVAL, ROUTES_INTERVAL};
use crate::api::{self, Totals};
use crate::AppState;

/// Most grades read back for one event: a terms fold never covers more (the projector's
/// `max_fold`).
const BACKFILL_MAX: u64 = 20_000;

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
        match state.hub.routes(|| api::route_stats(&state)).await {
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
