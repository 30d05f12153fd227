//! The Redis connection and every read and write of the live state.

use std::sync::Arc;
use std::time::Duration;

use grades_domain::{Route, StoredGrade};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};
use tokio::sync::Mutex;

use crate::figures::{LiveEvent, LiveFigures, RouteCounts};
use crate::keys::{field, LiveKeys};

/// Applies a fold's figures only when Redis holds the watermark the fold started from, so a
/// missed or lost update is never papered over: the caller rebuilds instead.
/// KEYS[1] state hash; ARGV[1] watermark Redis must hold, ARGV[2] channel, ARGV[3] event,
/// ARGV[4..] field/value pairs. HSET goes in slices to stay far from Lua's argument limits.
const ADVANCE: &str = r#"
if redis.call('HGET', KEYS[1], 'synced_id') ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"#;

/// Replaces the whole live state (a rebuild). Skipped when Redis already holds a newer watermark
/// that can be real (at most the highest committed id): a newer leader wrote it. A watermark
/// beyond every committed id means MySQL was reset, and is replaced.
/// KEYS[1] state hash; ARGV[1] channel, ARGV[2] event, ARGV[3] new watermark, ARGV[4] highest
/// committed id, ARGV[5..] field/value pairs.
const REPLACE: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'synced_id'))
if current and current > tonumber(ARGV[3]) and current <= tonumber(ARGV[4]) then return 0 end
redis.call('DEL', KEYS[1])
for i = 5, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
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

/// Redis connection made on first use and re-made after failures, so a service starts and serves
/// while Redis is down.
#[derive(Clone)]
pub struct LiveStore {
    client: Client,
    keys: LiveKeys,
    connection: Arc<Mutex<Option<ConnectionManager>>>,
    advance: Arc<Script>,
    replace: Arc<Script>,
}

impl LiveStore {
    /// A store for the Redis at `url` and the key space `prefix`; connects on first use.
    pub fn new(url: &str, prefix: impl Into<String>) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            keys: LiveKeys::new(prefix),
            connection: Arc::new(Mutex::new(None)),
            advance: Arc::new(Script::new(ADVANCE)),
            replace: Arc::new(Script::new(REPLACE)),
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
        let mut invocation = self.advance.key(self.keys.state());
        invocation.arg(previous.to_string()).arg(self.keys.events()).arg(serde_json::to_string(event)?);
        for (name, value) in figures.fields()? {
            invocation.arg(name).arg(value);
        }
        let mut connection = self.connection().await?;
        Ok(invocation.invoke_async::<i64>(&mut connection).await? == 1)
    }

    /// Replaces the whole live state with `figures` (every course term) and announces `event`.
    /// `latest_id` is the highest committed grade id, to tell a newer leader's state (kept) from
    /// one left by a database that was reset (replaced).
    pub async fn replace(&self, figures: &LiveFigures, event: &LiveEvent, latest_id: u64) -> Result<(), LiveError> {
        self.remove_legacy_layout().await?;
        let mut invocation = self.replace.key(self.keys.state());
        invocation.arg(self.keys.events()).arg(serde_json::to_string(event)?).arg(figures.synced_id).arg(latest_id);
        for (name, value) in figures.fields()? {
            invocation.arg(name).arg(value);
        }
        let mut connection = self.connection().await?;
        invocation.invoke_async::<i64>(&mut connection).await?;
        Ok(())
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
