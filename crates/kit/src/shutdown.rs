//! Graceful shutdown: one trigger (a signal or a test) that many tasks wait on, with a deadline.

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::watch;

/// Resolves on SIGTERM (Kubernetes, compose) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("received Ctrl-C, shutting down"),
        _ = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}

/// A shutdown trigger many tasks can await (HTTP server, gRPC server, background flushers).
#[derive(Clone)]
pub struct Shutdown {
    trigger: watch::Sender<bool>,
    signal: Shared<BoxFuture<'static, ()>>,
}

impl Shutdown {
    /// A shutdown nobody has triggered yet.
    pub fn new() -> Self {
        let (trigger, mut rx) = watch::channel(false);
        let signal = async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
        .boxed()
        .shared();
        Self { trigger, signal }
    }

    /// Triggers this shutdown when the process receives SIGTERM or Ctrl-C.
    pub fn on_signal(self) -> Self {
        let trigger = self.trigger.clone();
        // Never joined: it waits for a signal that may never come.
        crate::spawn_logged("signal-listener", async move {
            shutdown_signal().await;
            let _ = trigger.send(true);
        });
        self
    }

    /// Once shutdown starts, the process has `deadline` (and a second more) to stop on its own;
    /// then it exits anyway, so nothing stuck can keep it past Kubernetes' grace period.
    pub fn exit_after(self, deadline: std::time::Duration) -> Self {
        let started = self.wait();
        // Never joined: once shutdown starts it ends only by ending the process.
        crate::spawn_logged("exit-timer", async move {
            started.await;
            tokio::time::sleep(deadline + std::time::Duration::from_secs(1)).await;
            tracing::error!(deadline_seconds = deadline.as_secs(), "still stopping after the drain deadline; exiting now");
            exit_now();
        });
        self
    }

    /// Starts the shutdown (idempotent).
    pub fn trigger(&self) {
        let _ = self.trigger.send(true);
    }

    /// Resolves once the shutdown is triggered; any number of tasks may wait.
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.signal.clone()
    }
}

/// Ends the process: a function returning `()`, so the task calling it is an ordinary task.
fn exit_now() {
    std::process::exit(0)
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}
