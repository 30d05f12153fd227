//! Settings of the storing services (grpc-server, rest-api), read from flags or the environment.

use std::time::Duration;

use grades_kit::HttpArgs;
use grades_live::RedisArgs;
use grades_storage::mysql::MysqlArgs;
use grades_storage::projector::ProjectorConfig;
use grades_storage::WriterConfig;

/// Everything a storing service is configured with besides its ports; each service's `Config`
/// flattens it.
#[derive(Debug, Clone, clap::Args)]
pub struct StoringArgs {
    /// A one-shot task instead of serving.
    #[command(subcommand)]
    pub command: Option<StorageCommand>,
    /// MySQL, Redis, writer and projector settings.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Listen address, HTTP timeouts, connection limit and drain deadline.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Validate and acknowledge every grade but store none (no write to MySQL or Redis): a mode
    /// for measuring what the protocols alone cost (`just protocol`), never for serving people.
    #[arg(long, env = "DISCARD_GRADES", default_value_t = false, action = clap::ArgAction::Set)]
    pub discard_grades: bool,
}

/// Storage settings shared by grpc-server and rest-api.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Where MySQL is.
    #[command(flatten)]
    pub mysql: MysqlArgs,
    /// Where the Redis live state is.
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Apply pending migrations at startup.
    #[arg(long, env = "MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
    /// Most grades committed in one transaction.
    #[arg(long, env = "WRITER_MAX_BATCH", default_value_t = 512, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub writer_max_batch: u16,
    /// Batch transactions in flight at once: the next waits on the id lock inside MySQL while the
    /// current one commits.
    #[arg(long, env = "WRITER_PIPELINE_DEPTH", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub writer_pipeline_depth: u8,
    /// Shortest time between two folds of the terms projection (counts, distinct students, live
    /// state), in milliseconds.
    #[arg(long, env = "PROJECTOR_TERMS_INTERVAL_MS", default_value_t = 50)]
    pub projector_terms_interval_ms: u64,
    /// Shortest time between two folds of the students projection (averages), in milliseconds:
    /// longer gathers more of a student's grades into one row change.
    #[arg(long, env = "PROJECTOR_STUDENTS_INTERVAL_MS", default_value_t = 400)]
    pub projector_students_interval_ms: u64,
}

impl StorageArgs {
    /// The writer settings these flags set; the rest keep their defaults.
    pub fn writer_config(&self) -> WriterConfig {
        WriterConfig {
            max_batch: usize::from(self.writer_max_batch),
            pipeline_depth: usize::from(self.writer_pipeline_depth),
            ..WriterConfig::default()
        }
    }

    /// The projector settings these flags set; the rest keep their defaults.
    pub fn projector_config(&self) -> ProjectorConfig {
        ProjectorConfig {
            terms_interval: Duration::from_millis(self.projector_terms_interval_ms),
            students_interval: Duration::from_millis(self.projector_students_interval_ms),
            ..ProjectorConfig::default()
        }
    }
}

/// Removes a password from a URL before it is logged.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://app:s3cret@db:3306/grades"), "mysql://app:***@db:3306/grades");
        assert_eq!(redact("mysql://root@127.0.0.1/grades"), "mysql://root@127.0.0.1/grades");
    }
}

/// What the storing services can do besides serving: one-off maintenance, then exit.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum StorageCommand {
    /// Apply pending MySQL migrations and exit (for a Kubernetes Job or a compose one-shot).
    Migrate,
    /// Wait until MySQL holds every migration this binary carries, each applied without failure,
    /// then exit 0; exit 1 once the timeout passes. Kubernetes runs it as the init container of
    /// every pod that reads MySQL, so a pod of a new release starts only after the migrations Job
    /// of that release has run. Needs nothing but SELECT on the database.
    WaitForSchema {
        /// Give up after this many seconds.
        #[arg(long, env = "WAIT_FOR_SCHEMA_TIMEOUT_SECONDS", default_value_t = 600)]
        timeout_seconds: u64,
    },
    /// Rebuild the Redis live state from the summary tables and exit (`just reconcile`); the
    /// running projector also does it on its own within seconds of a loss.
    Reconcile,
}
