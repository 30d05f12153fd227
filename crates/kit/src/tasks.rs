//! The background tasks of a process, named and tracked, so that none fails unseen.
//!
//! A bare `tokio::spawn` whose handle is dropped (or awaited with `let _ =`) loses what happens
//! to the task: a panic ends it silently and the process keeps answering `/readyz` with 200
//! while, say, its projector or its events subscription is gone. [`Tasks`] instead:
//!
//! - [`spawn`](Tasks::spawn)s each task under a name, into a `JoinSet` it keeps;
//! - logs a task that panics or returns an error with `tracing::error!` (`task`, `error`) the
//!   moment it ends, and records it, so [`failed`](Tasks::failed) turns true and
//!   [`check`](Tasks::check) makes the readiness report (`/readyz`) answer 503 from then on: the
//!   process stays up (to drain and be looked at) but gets no more traffic;
//! - waits for every task at shutdown ([`join_all`](Tasks::join_all)).
//!
//! ```ignore
//! let tasks = Tasks::new();
//! tasks.spawn("latency-flusher", latency.run_flusher(live, shutdown.wait()));
//! // readiness: report.require(..); tasks.check(&mut report);
//! tasks.join_all().await; // after the shutdown was triggered
//! ```
//!
//! A task may return `()` or `Result<(), E>` with `E: Display` (an `Err` counts as a failure).
//! Shutdown in stages: [`group`](Tasks::group) gives a set of tasks joined on its own (stop the
//! writer, then the projector) whose failures still show in every group of the same family. A
//! task that runs in a `JoinSet` of its own (a pipeline of batches) is wrapped with
//! [`supervise`](Tasks::supervise) to be reported the same way.
//!
//! Dropping the last clone of a group aborts its tasks still running: join it first.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt;
use tokio::task::JoinSet;

use crate::ReadyReport;

/// What a tracked task may return: `()`, or a `Result` whose error is a failure.
pub trait TaskOutcome: Send + 'static {
    /// The failure to report, if any.
    fn failure(self) -> Option<String>;
}

impl TaskOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: std::fmt::Display + Send + 'static> TaskOutcome for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|error| error.to_string())
    }
}

/// Named background tasks: spawned, reported when they fail, joined at shutdown (see the module
/// documentation). Cloning is cheap and shares the same tasks.
#[derive(Clone, Default)]
pub struct Tasks {
    running: Arc<Mutex<JoinSet<()>>>,
    /// Failures of this group's own tasks (summed up by `join_all`).
    own: Arc<Mutex<Vec<String>>>,
    /// Failures of every group of the family (what readiness checks).
    failures: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").field("failures", &self.failures()).finish_non_exhaustive()
    }
}

impl Tasks {
    /// No task yet, no failure.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another set of tasks, joined on its own, whose failures are this one's (and the other
    /// groups'): for a shutdown in stages.
    pub fn group(&self) -> Self {
        Self { running: Arc::default(), own: Arc::default(), failures: self.failures.clone() }
    }

    /// Runs `task` in the background under `name` (in the current Tokio runtime).
    pub fn spawn<F>(&self, name: impl Into<String>, task: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        let supervised = self.supervise(name, task);
        let mut running = lock(&self.running);
        // Forget the tasks already done (their outcome was reported as they ended).
        while running.try_join_next().is_some() {}
        running.spawn(supervised);
    }

    /// `task`, reporting a panic or an error under `name` like [`spawn`](Self::spawn) does, to be
    /// run by the caller (in a `JoinSet` of its own, say).
    pub fn supervise<F>(&self, name: impl Into<String>, task: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        supervised(name.into(), task, Some([self.own.clone(), self.failures.clone()]))
    }

    /// Waits for every task of this group, including those spawned meanwhile. Failures were
    /// logged as they happened; the group's are summed up once more here, in one line.
    pub async fn join_all(&self) {
        loop {
            let mut running = std::mem::take(&mut *lock(&self.running));
            if running.is_empty() {
                break;
            }
            while let Some(joined) = running.join_next().await {
                if let Err(error) = joined {
                    // Supervised tasks catch their panics: only a cancelled task gets here.
                    tracing::error!(%error, "background task did not finish");
                    lock(&self.own).push(format!("a task did not finish: {error}"));
                    lock(&self.failures).push(format!("a task did not finish: {error}"));
                }
            }
        }
        let failures = lock(&self.own).clone();
        if !failures.is_empty() {
            tracing::error!(failed = failures.len(), tasks = ?failures, "background tasks failed while the process ran");
        }
    }

    /// True once a task (of any group of this family) panicked or returned an error.
    pub fn failed(&self) -> bool {
        !lock(&self.failures).is_empty()
    }

    /// Each failed task as `name: what happened`, in the order they failed.
    pub fn failures(&self) -> Vec<String> {
        lock(&self.failures).clone()
    }

    /// Adds the tasks to a readiness report as the required dependency `tasks`: down (503) once
    /// one failed.
    pub fn check(&self, report: &mut ReadyReport) {
        let failures = self.failures();
        let state = if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) };
        report.require("tasks", state);
    }
}

/// Spawns a task nobody joins (the signal listener, the exit timer, one HTTP connection, which
/// the server's graceful shutdown waits for): a panic or an error is logged like a tracked
/// task's, but it turns no readiness. Anything else belongs in a [`Tasks`].
pub fn spawn_logged<F>(name: &'static str, task: F)
where
    F: Future + Send + 'static,
    F::Output: TaskOutcome,
{
    // The handle is not needed: the supervised task reports its own outcome.
    drop(tokio::spawn(supervised(name.to_owned(), task, None)));
}

/// `task`, its panic caught; a panic or an error is logged and added to each list of `records`.
async fn supervised<F>(name: String, task: F, records: Option<[Arc<Mutex<Vec<String>>>; 2]>)
where
    F: Future + Send + 'static,
    F::Output: TaskOutcome,
{
    let failure = match AssertUnwindSafe(task).catch_unwind().await {
        Ok(outcome) => outcome.failure(),
        Err(panic) => Some(format!("panicked: {}", panic_message(panic.as_ref()))),
    };
    if let Some(error) = failure {
        tracing::error!(task = %name, %error, "background task failed");
        for record in records.iter().flatten() {
            lock(record).push(format!("{name}: {error}"));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while these locks are held; if one did, the data is still whole.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The message a panic was raised with (`panic!("...")`, `unwrap` on an error, ...).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A panic with a `&'static str` payload.
    fn lose_its_mind() {
        panic!("the projector lost its mind")
    }

    /// A panic with a `String` payload.
    fn explode(message: &str) {
        panic!("{message}")
    }

    #[tokio::test]
    async fn a_panicking_task_is_reported_and_fails_readiness() {
        let tasks = Tasks::new();
        tasks.spawn("steady", async {});
        tasks.spawn("doomed", async { lose_its_mind() });
        tasks.join_all().await;
        assert!(tasks.failed());
        assert_eq!(tasks.failures(), ["doomed: panicked: the projector lost its mind"]);
        let mut report = ReadyReport::new();
        tasks.check(&mut report);
        assert!(!report.ready);
        assert!(report.dependencies["tasks"].contains("doomed: panicked"), "{report:?}");
    }

    /// What the tasks log, captured (the test runtime runs them on this thread).
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failure_is_logged_as_an_error_with_the_task_name_and_the_panic_message() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let tasks = Tasks::new();
        tasks.spawn("live-sync", async { explode("redis vanished") });
        tasks.join_all().await;
        let logs = String::from_utf8(lock(&captured.0).clone()).unwrap();
        let line = logs.lines().find(|line| line.contains("background task failed")).unwrap_or_default();
        assert!(line.contains("ERROR") && line.contains("task=live-sync") && line.contains("redis vanished"), "{logs}");
        assert!(logs.contains("background tasks failed while the process ran"), "join_all sums them up: {logs}");
    }

    #[tokio::test]
    async fn readiness_fails_as_soon_as_a_task_fails_not_at_shutdown() {
        let tasks = Tasks::new();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn("long-running", async move {
            let _ = stopped.await;
        });
        tasks.spawn("subscriber", async { Err::<(), _>("redis said no") });
        let failed = tokio::time::timeout(Duration::from_secs(5), async {
            while !tasks.failed() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        assert!(failed.await.is_ok(), "the failure was not seen while the other task ran");
        assert_eq!(tasks.failures(), ["subscriber: redis said no"]);
        let _ = stop.send(());
        tasks.join_all().await;
    }

    #[tokio::test]
    async fn healthy_tasks_keep_readiness_and_groups_share_failures() {
        let tasks = Tasks::new();
        let stage = tasks.group();
        stage.spawn("fine", async { Ok::<(), String>(()) });
        stage.join_all().await;
        let mut report = ReadyReport::new();
        tasks.check(&mut report);
        assert!(report.ready && report.dependencies["tasks"] == "up", "{report:?}");
        let mut batches = JoinSet::new();
        batches.spawn(stage.supervise("batch", async { explode("boom") }));
        assert!(batches.join_next().await.is_some_and(|joined| joined.is_ok()), "supervised panics are caught");
        assert!(tasks.failed(), "a failure in a group shows in its family");
        assert_eq!(tasks.failures(), ["batch: panicked: boom"]);
    }

    #[tokio::test]
    async fn join_all_waits_for_tasks_spawned_while_joining() {
        let tasks = Tasks::new();
        let (done, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let inner = tasks.clone();
        tasks.spawn("parent", async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            inner.spawn("child", async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = done.send(());
            });
        });
        tasks.join_all().await;
        assert!(seen.try_recv().is_ok(), "join_all returned before the child finished");
    }
}
