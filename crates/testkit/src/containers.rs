//! MySQL and Redis from containers, for a machine with a Docker engine and no test servers named.
//!
//! One pair per test run, shared by every test process of the run: under nextest each test is a
//! process of its own, and a container per process would start hundreds of MySQL servers. A run
//! is the test runner that started this process (nextest, or cargo for `cargo test`), identified
//! by its pid and start time; its containers carry that identity in their name and a label, so the
//! first process creates them and the others find them (testcontainers' reuse). They are removed
//! when the runner exits, by a small watcher that the first process of the run leaves behind
//! (testcontainers-rs has no reaper of its own), through the `docker` CLI.
//!
//! The engine is found through `DOCKER_HOST`, else the current docker context, else the usual
//! socket paths. The images are `TEST_MYSQL_IMAGE` and `TEST_REDIS_IMAGE`, defaulting to the
//! versions compose and Kubernetes run (any image that behaves like the official one will do:
//! `just base-images` builds such images from Debian's packages).

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use testcontainers_modules::testcontainers::runners::AsyncRunner as _;
use testcontainers_modules::testcontainers::{core::Mount, Image, ImageExt as _, ReuseDirective};

/// The label every test container carries: the run it belongs to.
pub const RUN_LABEL: &str = "grades.testkit.run";

/// The MySQL image the tests use when `TEST_MYSQL_IMAGE` is unset: production's version.
pub const DEFAULT_MYSQL_IMAGE: &str = "mysql:8.4";
/// The Redis image the tests use when `TEST_REDIS_IMAGE` is unset: production's version.
pub const DEFAULT_REDIS_IMAGE: &str = "redis:7.4-alpine";

/// How long a server may take to accept connections after its container starts (MySQL
/// initializes its data directory first: about 20 s on a 2-core machine).
const READY_TIMEOUT: Duration = Duration::from_secs(240);

/// The kind of server a container runs.
#[derive(Clone, Copy)]
pub enum Server {
    /// MySQL, root without a password.
    Mysql,
    /// Redis.
    Redis,
}

impl Server {
    /// What it is called in container names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Server::Mysql => "mysql",
            Server::Redis => "redis",
        }
    }
}

/// The test run this process belongs to.
struct Run {
    /// `<runner pid>-<its start time>`: unique on this machine, shared by the run's processes.
    id: String,
    runner_pid: u32,
}

impl Run {
    fn current() -> Self {
        let parent = std::os::unix::process::parent_id();
        let runner = if is_test_runner(parent) { parent } else { std::process::id() };
        Run { id: format!("{runner}-{}", start_time(runner).unwrap_or(0)), runner_pid: runner }
    }
}

/// Whether `pid` is cargo or cargo-nextest (the process a run's test processes share).
fn is_test_runner(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim_end().starts_with("cargo"))
}

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat): with the pid,
/// it names a process uniquely even after the pid is reused.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// Splits `name[:tag]` (a registry port is not a tag: `host:5000/mysql`).
fn name_and_tag(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

/// The image for `server`: from its variable, else production's version.
pub fn image(server: Server) -> String {
    let (variable, default) = match server {
        Server::Mysql => ("TEST_MYSQL_IMAGE", DEFAULT_MYSQL_IMAGE),
        Server::Redis => ("TEST_REDIS_IMAGE", DEFAULT_REDIS_IMAGE),
    };
    std::env::var(variable).ok().filter(|value| !value.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// Points testcontainers at the engine of the current docker context when `DOCKER_HOST` is unset
/// (testcontainers reads only `DOCKER_HOST` and the default socket paths).
fn use_docker_context() {
    if std::env::var_os("DOCKER_HOST").is_some() {
        return;
    }
    let Ok(output) = Command::new("docker").args(["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"]).output() else {
        return;
    };
    let host = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !host.is_empty() {
        // Once per process, before the first container is asked for (edition 2021: not unsafe;
        // nothing else in a test process changes the environment).
        std::env::set_var("DOCKER_HOST", host);
    }
}

/// `host:port` of this run's container for `server`, created by the first process that asks and
/// answering connections (the caller checks the protocol).
pub async fn address(server: Server) -> Result<(String, u16), String> {
    use_docker_context();
    let run = Run::current();
    let reference = image(server);
    let (name, tag) = name_and_tag(&reference);
    let container_name = format!("grades-testkit-{}-{}", run.id, server.name());
    let mut last_error = String::new();
    // Two processes of a run may create the container at the same moment: the loser's create
    // fails on the name, and its next attempt finds the winner's container.
    for attempt in 0..6u64 {
        let started = match server {
            Server::Mysql => {
                let request = prepare(testcontainers_modules::mysql::Mysql::default(), name, tag, &container_name, &run)
                    // A throw-away server: its data directory in memory.
                    .with_mount(Mount::tmpfs_mount("/var/lib/mysql"))
                    // As Cloud SQL runs it: GTIDs on and their consistency enforced (the upstream
                    // image leaves both off), so what GTIDs forbid fails here first.
                    .with_cmd(["--gtid-mode=ON", "--enforce-gtid-consistency=ON"]);
                running_address(request.start().await, 3306).await
            }
            Server::Redis => {
                let request = prepare(testcontainers_modules::redis::Redis::default(), name, tag, &container_name, &run);
                running_address(request.start().await, 6379).await
            }
        };
        match started {
            Ok(address) => {
                leave_reaper(&run);
                return Ok(address);
            }
            Err(error) => last_error = error,
        }
        tokio::time::sleep(Duration::from_millis(300 * (attempt + 1))).await;
    }
    Err(format!("could not start a {} container from {reference}: {last_error}", server.name()))
}

fn prepare<I: Image>(
    image: I,
    name: &str,
    tag: &str,
    container_name: &str,
    run: &Run,
) -> testcontainers_modules::testcontainers::ContainerRequest<I> {
    image
        .with_name(name)
        .with_tag(tag)
        .with_container_name(container_name)
        .with_labels([(RUN_LABEL, run.id.as_str())])
        .with_reuse(ReuseDirective::Always)
        .with_startup_timeout(READY_TIMEOUT)
}

async fn running_address<I: Image>(
    started: Result<testcontainers_modules::testcontainers::ContainerAsync<I>, testcontainers_modules::testcontainers::TestcontainersError>,
    port: u16,
) -> Result<(String, u16), String> {
    let container = started.map_err(|e| e.to_string())?;
    let host = container.get_host().await.map_err(|e| e.to_string())?.to_string();
    let mapped = container.get_host_port_ipv4(port).await.map_err(|e| e.to_string())?;
    // Dropping a reused container leaves it running: the reaper removes it with the run.
    Ok((host, mapped))
}

/// Polls `check` until it succeeds or the server had its time to start (a process that found the
/// run's container may have found it still initializing).
pub async fn wait_until_ready<F, Fut>(what: &str, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        match check().await {
            Ok(()) => return Ok(()),
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("{what} did not answer within {} s: {error}", READY_TIMEOUT.as_secs()))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Leaves, once per run, a watcher that removes the run's containers (and their anonymous
/// volumes) when the runner exits. It runs in its own process group with no standard streams, so
/// neither the runner's Ctrl-C nor its wait for a test's output involves it.
fn leave_reaper(run: &Run) {
    let lock = std::env::temp_dir().join(format!("grades-testkit-{}.reaper", run.id));
    let Ok(mut file) = std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) else {
        return; // another process of the run left it
    };
    let _ = writeln!(file, "removes the containers labelled {RUN_LABEL}={} when process {} exits", run.id, run.runner_pid);
    const WATCH: &str = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
ids=$(docker ps -aq --filter "label=$2")
[ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1
rm -f "$3""#;
    let spawned = Command::new("sh")
        .args(["-c", WATCH, "grades-testkit-reaper"])
        .arg(run.runner_pid.to_string())
        .arg(format!("{RUN_LABEL}={}", run.id))
        .arg(&lock)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let has_cli = Command::new("docker").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if spawned.is_err() || !has_cli {
        eprintln!(
            "grades-testkit: the docker CLI is needed to remove this run's containers when it ends; remove them with \
             docker rm -f -v $(docker ps -aq --filter label={RUN_LABEL}={})",
            run.id
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_and_tag() {
        assert_eq!(name_and_tag("mysql:8.4"), ("mysql", "8.4"));
        assert_eq!(name_and_tag("grades-base/mysql:sid"), ("grades-base/mysql", "sid"));
        assert_eq!(name_and_tag("registry.local:5000/mysql"), ("registry.local:5000/mysql", "latest"));
        assert_eq!(name_and_tag("registry.local:5000/mysql:9.7"), ("registry.local:5000/mysql", "9.7"));
        assert_eq!(name_and_tag("redis"), ("redis", "latest"));
    }

    #[test]
    fn a_process_start_time_is_read_and_stable() {
        let own = std::process::id();
        let first = start_time(own).expect("own start time");
        assert_eq!(start_time(own), Some(first));
        assert_eq!(start_time(u32::MAX), None);
    }
}
