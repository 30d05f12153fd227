//! The coalescing buffer between the events subscription and the pushes: only values, no I/O.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use grades_domain::StoredGrade;
use grades_live::{LiveEvent, StudentCount};

use super::{RECENT_PUSH_MAX, ROUTES_INTERVAL};
use crate::api::{RouteStats, Totals};
use crate::error::ApiError;
use crate::params;

/// Most events waiting for the next `all_grades` flush; beyond it the oldest are dropped (their
/// grades are not pushed). Ten flushes' worth of events at the projector's fastest cadence.
const ANNOUNCED_MAX: usize = 200;

/// What arrived since the last flush: only the latest value of each thing is kept.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub(super) totals: Option<Totals>,
    /// Per `students` room.
    pub(super) students: HashMap<String, StudentCount>,
    /// Newest first, at most [`RECENT_PUSH_MAX`].
    pub(super) grades: VecDeque<StoredGrade>,
}

/// The grades one event announced, for the `all_grades` push.
#[derive(Debug)]
pub(super) struct Announced {
    /// The grades the event carried: the newest of its fold, newest first.
    pub(super) carried: Vec<StoredGrade>,
    /// Grades of the fold it did not carry: the ones just below the oldest carried (a fold is one
    /// gap-free id range).
    pub(super) missing: u64,
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

    pub(super) fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending())
    }

    pub(super) fn take_announced(&self) -> VecDeque<Announced> {
        std::mem::take(&mut *lock(&self.announced))
    }

    pub(super) fn pending(&self) -> MutexGuard<'_, Pending> {
        lock(&self.pending)
    }

    /// True while the Redis events subscription is up (reported by `/readyz`).
    pub fn subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    pub(super) fn set_subscribed(&self, up: bool) {
        self.subscribed.store(up, Ordering::Relaxed);
    }

    /// The latest `routes` body: reused if `compute`d within the last push interval, so many
    /// clients connecting at once cost one computation.
    pub async fn routes<Fut>(&self, compute: impl FnOnce() -> Fut) -> Result<RouteStats, ApiError>
    where
        Fut: Future<Output = Result<RouteStats, ApiError>>,
    {
        let mut slot = self.routes.lock().await;
        if let Some((routes, at)) = slot.as_ref() {
            if at.elapsed() < ROUTES_INTERVAL {
                return Ok(routes.clone());
            }
        }
        let routes = compute().await?;
        *slot = Some((routes.clone(), Instant::now()));
        Ok(routes)
    }
}

/// A buffer of pending pushes, locked. They are only values the next flush takes, so a lock
/// poisoned by a panic is used as is rather than stopping every push.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
