//! Settings of the storing services (grpc-server, rest-api), read from flags or the environment.

use std::time::Duration;

use grades_storage::projector::ProjectorConfig;
use grades_storage::WriterConfig;

/// Storage settings shared by grpc-server and rest-api.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// MySQL (or MariaDB) URL including the database name.
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306/grades")]
    pub mysql_url: String,
    /// Redis URL for live counters and events.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "REDIS_PREFIX", default_value = "grades:")]
    pub redis_prefix: String,
    /// Apply pending migrations at startup.
    #[arg(long, env = "MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
    /// Most connections in the MySQL pool.
    #[arg(long, env = "MYSQL_MAX_CONNECTIONS", default_value_t = 10)]
    pub mysql_max_connections: u32,
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
