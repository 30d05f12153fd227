//! Settings of the storing services (grpc-server, rest-api), read from flags or the environment.

use grades_kit::HttpArgs;
use grades_live::RedisArgs;
use grades_storage::idempotency::KeyRetentionArgs;
use grades_storage::mysql::MysqlArgs;
use grades_storage::projector::ProjectorArgs;
use grades_storage::WriterArgs;

/// Everything a storing service is configured with besides its ports; each service's `Config`
/// flattens it.
#[derive(Debug, Clone, clap::Args)]
pub struct StoringArgs {
    /// A one-shot task instead of serving.
    #[command(subcommand)]
    pub command: Option<StorageCommand>,
    /// MySQL, Redis, writer, projector and idempotency key retention settings.
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
    /// Batch size and pipelining of the group-commit writer.
    #[command(flatten)]
    pub writer: WriterArgs,
    /// How often the projections fold.
    #[command(flatten)]
    pub projector: ProjectorArgs,
    /// How long idempotency keys are kept before the sweeper deletes them.
    #[command(flatten)]
    pub idempotency: KeyRetentionArgs,
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
    use std::time::Duration;

    use clap::{Args, FromArgMatches};
    use grades_storage::idempotency::KeyRetention;
    use grades_storage::mysql::PoolConfig;
    use grades_storage::projector::ProjectorConfig;
    use grades_storage::WriterConfig;

    use super::{redact, StorageArgs};

    fn parse(flags: &[&str]) -> StorageArgs {
        let command = StorageArgs::augment_args(clap::Command::new("test"));
        let matches = command.try_get_matches_from(std::iter::once("test").chain(flags.iter().copied())).unwrap();
        StorageArgs::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn flag_defaults_are_the_storage_defaults_and_keep_their_values() {
        let args = parse(&[]);
        let (writer, projector) = (args.writer.config(), args.projector.config());
        let (writer_default, projector_default) = (WriterConfig::default(), ProjectorConfig::default());
        assert_eq!((writer.max_batch, writer.pipeline_depth), (512, 2));
        assert_eq!((writer_default.max_batch, writer_default.pipeline_depth), (512, 2));
        assert_eq!((projector.terms_interval, projector.students_interval), (Duration::from_millis(50), Duration::from_millis(400)));
        assert_eq!(
            (projector_default.terms_interval, projector_default.students_interval),
            (projector.terms_interval, projector.students_interval)
        );
        assert_eq!((args.mysql.mysql_max_connections, PoolConfig::default().max_connections), (10, 10));
        assert_eq!(
            (args.idempotency.config().window, KeyRetention::default().window),
            (Duration::from_secs(86_400), Duration::from_secs(86_400))
        );
    }

    #[test]
    fn flags_keep_their_names() {
        let args = parse(&[
            "--writer-max-batch=64",
            "--writer-pipeline-depth=3",
            "--projector-terms-interval-ms=5",
            "--projector-students-interval-ms=7",
            "--mysql-max-connections=4",
            "--idempotency-key-retention-hours=72",
        ]);
        assert_eq!((args.writer.writer_max_batch, args.writer.writer_pipeline_depth), (64, 3));
        assert_eq!((args.projector.projector_terms_interval_ms, args.projector.projector_students_interval_ms), (5, 7));
        assert_eq!(args.mysql.mysql_max_connections, 4);
        assert_eq!(args.idempotency.idempotency_key_retention_hours, 72);
    }

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
