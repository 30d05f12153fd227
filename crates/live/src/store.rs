//! The Redis connection and every read and write of the live state.

use std::sync::Arc;
use std::time::Duration;

use grades_domain::{Route, StoredGrade};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};
use tokio::sync::Mutex;

use crate::figures::{LiveEvent, LiveFigures, RouteCounts};
use crate::keys::{field, LiveKeys};

/// Writes live figures and announces them, atomically, guarded by the watermark Redis holds.
///
/// - `advance` applies a fold's figures only when Redis holds the watermark the fold started
///   from (ARGV[2]), so a missed or lost update is never papered over: the caller rebuilds.
/// - `replace` (a rebuild) clears the hash first, unless Redis already holds a newer watermark
///   that can be real (above ARGV[2], at most the highest committed id ARGV[3]): a newer leader
///   wrote it. A watermark beyond every committed id means MySQL was reset, and is replaced.
///
/// KEYS[1] the state hash; ARGV[1] mode, ARGV[2] and ARGV[3] the watermarks above, ARGV[4]
/// channel, ARGV[5] event, ARGV[6..] field/value pairs (HSET in slices, far from Lua's limits).
const WRITE: &str = r#"
local current = redis.call('HGET', KEYS[1], 'synced_id')
if ARGV[1] == 'advance' then
  if current ~= ARGV[2] then return 0 end
else
  local held = tonumber(current)
  if held and held > tonumber(ARGV[2]) and held <= tonumber(ARGV[3]) then return 0 end
  redis.call('DEL', KEYS[1])
end
for i = 6, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"#;

/// Keys of the legacy layout removed per round trip: bounded work per command.
const LEGACY_CLEANUP_BATCH: usize = 500;

/// Why a live-state write failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Redis refused or did not answer.
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    /// The figures could not be encoded (a bug).
    #[error("encoding the live state: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Where the live state is: the Redis settings of every service that reads or writes it.
#[derive(Debug, Clone, clap::Args)]
pub struct RedisArgs {
    /// Redis URL for the live state, the events channel and the latency figures.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "REDIS_PREFIX", default_value = "grades:")]
    pub redis_prefix: String,
}

impl RedisArgs {
    /// A store for these settings (it connects on first use).
    pub fn store(&self) -> Result<LiveStore, String> {
        LiveStore::new(&self.redis_url, self.redis_prefix.clone()).map_err(|e| format!("REDIS_URL is not valid: {e}"))
    }
}

/// Redis connection made on first use and re-made after failures, so a service starts and serves
/// while Redis is down.
#[derive(Clone)]
pub struct LiveStore {
    client: Client,
    keys: LiveKeys,
    connection: Arc<Mutex<Option<ConnectionManager>>>,
    write: Arc<Script>,
}

impl LiveStore {
    /// A store for the Redis at `url` and the key space `prefix`; connects on first use.
    pub fn new(url: &str, prefix: impl Into<String>) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            keys: LiveKeys::new(prefix),
            connection: Arc::new(Mutex::new(None)),
            write: Arc::new(Script::new(WRITE)),
        })
    }

    /// The key names of this store.
    pub fn keys(&self) -> &LiveKeys {
        &self.keys
    }

    /// For subscriptions, which need a connection of their own.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The shared connection, made on first use; it reconnects by itself after failures.
    pub async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(1))
            .set_number_of_retries(2)
            .set_max_delay(500);
        let connection = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Whether Redis answers (readiness).
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        redis::cmd("PING").query_async::<String>(&mut connection).await.map(|_| ())
    }

    /// The projector watermark the live state equals, or `None` when it is missing.
    pub async fn synced_id(&self) -> Result<Option<u64>, RedisError> {
        let mut connection = self.connection().await?;
        redis::cmd("HGET").arg(self.keys.state()).arg(field::SYNCED_ID).query_async(&mut connection).await
    }

    /// Applies one fold's figures (touched course terms, route counts, the feed) and announces
    /// `event`, if Redis holds exactly `previous`. Returns false otherwise (Redis lost its data or
    /// missed an update): the caller then rebuilds with [`Self::replace`].
    pub async fn advance(&self, previous: u64, figures: &LiveFigures, event: &LiveEvent) -> Result<bool, LiveError> {
        self.write("advance", previous, 0, figures, event).await
    }

    /// Replaces the whole live state with `figures` (every course term) and announces `event`.
    /// `latest_id` is the highest committed grade id, to tell a newer leader's state (kept) from
    /// one left by a database that was reset (replaced).
    pub async fn replace(&self, figures: &LiveFigures, event: &LiveEvent, latest_id: u64) -> Result<(), LiveError> {
        self.remove_legacy_layout().await?;
        self.write("replace", figures.synced_id, latest_id, figures, event).await.map(|_| ())
    }

    async fn write(&self, mode: &str, first: u64, second: u64, figures: &LiveFigures, event: &LiveEvent) -> Result<bool, LiveError> {
        let mut invocation = self.write.key(self.keys.state());
        invocation.arg(mode).arg(first.to_string()).arg(second.to_string()).arg(self.keys.events()).arg(serde_json::to_string(event)?);
        for (name, value) in figures.fields()? {
            invocation.arg(name).arg(value);
        }
        let mut connection = self.connection().await?;
        Ok(invocation.invoke_async::<i64>(&mut connection).await? == 1)
    }

    /// Deletes what the previous layout left (a set of carnets per course term: millions of members
    /// at 10 M grades) in bounded batches, once: the marker key goes last.
    async fn remove_legacy_layout(&self) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        let marker = self.keys.legacy_marker();
        let present: bool = redis::cmd("EXISTS").arg(&marker).query_async(&mut connection).await?;
        if !present {
            return Ok(());
        }
        let mut cursor = 0_u64;
        let mut removed = 0_usize;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.keys.legacy_student_sets_pattern())
                .arg("COUNT")
                .arg(LEGACY_CLEANUP_BATCH)
                .query_async(&mut connection)
                .await?;
            if !keys.is_empty() {
                removed += keys.len();
                // UNLINK frees the memory off Redis's main thread.
                redis::cmd("UNLINK").arg(keys).query_async::<i64>(&mut connection).await?;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        redis::cmd("UNLINK").arg(&self.keys.legacy_keys()[..]).arg(&marker).query_async::<i64>(&mut connection).await?;
        tracing::info!(removed, "removed the previous live-state layout from redis");
        Ok(())
    }

    /// Grades stored in all and per route.
    pub async fn totals(&self) -> Result<(u64, RouteCounts), RedisError> {
        let mut connection = self.connection().await?;
        let (total, grpc, rest): (Option<u64>, Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.keys.state())
            .arg(field::TOTAL)
            .arg(field::route(Route::Grpc))
            .arg(field::route(Route::Rest))
            .query_async(&mut connection)
            .await?;
        Ok((total.unwrap_or(0), RouteCounts { grpc: grpc.unwrap_or(0), rest: rest.unwrap_or(0) }))
    }

    /// Distinct students of one course term (0 when unknown).
    pub async fn students(&self, curso: &str, semestre: &str, year: u16) -> Result<u64, RedisError> {
        let mut connection = self.connection().await?;
        let count: Option<u64> =
            redis::cmd("HGET").arg(self.keys.state()).arg(field::students(curso, semestre, year)).query_async(&mut connection).await?;
        Ok(count.unwrap_or(0))
    }

    /// The newest grades, newest first, at most `count`.
    pub async fn recent(&self, count: usize) -> Result<Vec<StoredGrade>, RedisError> {
        let mut connection = self.connection().await?;
        let raw: Option<String> = redis::cmd("HGET").arg(self.keys.state()).arg(field::RECENT).query_async(&mut connection).await?;
        let mut grades: Vec<StoredGrade> = raw.and_then(|raw| serde_json::from_str(&raw).ok()).unwrap_or_default();
        grades.truncate(count);
        Ok(grades)
    }
}
