//! Redis live state. Derived from MySQL and allowed to lag or vanish: MySQL is the source of truth.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, RedisError, Script};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;
use tokio::sync::Mutex;

use crate::writer::StoredGrade;

/// Most recent grades kept for late-joining dashboards.
pub const RECENT_LEN: isize = 50;

/// Key names, all under one prefix so tests and tenants get their own key space.
#[derive(Debug, Clone)]
pub struct LiveKeys {
    prefix: String,
}

impl LiveKeys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn total(&self) -> String {
        format!("{}total", self.prefix)
    }
    pub fn route_count(&self) -> String {
        format!("{}route_count", self.prefix)
    }
    pub fn students(&self, curso: &str, semestre: &str, year: u16) -> String {
        format!("{}students:{curso}:{semestre}:{year}", self.prefix)
    }
    pub fn recent(&self) -> String {
        format!("{}recent", self.prefix)
    }
    pub fn latency(&self, route: &str, unix_second: u64) -> String {
        format!("{}lat:{route}:{unix_second}", self.prefix)
    }
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }
    /// Highest grade id the live state was rebuilt from MySQL at; its absence means the live
    /// state is missing (first start, or Redis lost its data) and must be rebuilt.
    pub fn synced_id(&self) -> String {
        format!("{}synced_id", self.prefix)
    }
}

/// One message on the events channel: everything a dashboard needs to update without a read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchEvent {
    pub total: u64,
    pub route_count: RouteCounts,
    pub grades: Vec<serde_json::Value>,
    pub students: Vec<StudentCount>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteCounts {
    #[serde(default)]
    pub grpc: u64,
    #[serde(default)]
    pub rest: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudentCount {
    pub curso: String,
    pub semestre: String,
    pub year: u16,
    pub students: u64,
}

/// Applies one committed batch atomically: counters, distinct-student sets, the recent list, and
/// one pub/sub announcement carrying the new values (so subscribers never read back or poll).
///
/// Grades at or below `synced_id` were already counted by a rebuild from MySQL and are only
/// announced; without `synced_id` the script changes nothing and returns -1 (rebuild first).
const RECORD_BATCH: &str = r#"
local p = ARGV[1]
local synced = redis.call('GET', p .. 'synced_id')
if not synced then return -1 end
synced = tonumber(synced)
local grades = cjson.decode(ARGV[2])
local counted = 0
local touched, order = {}, {}
for _, g in ipairs(grades) do
  local term = g.curso .. ':' .. g.semestre .. ':' .. string.format('%d', g.year)
  if g.id > synced then
    counted = counted + 1
    redis.call('HINCRBY', p .. 'route_count', g.route, 1)
    redis.call('SADD', p .. 'students:' .. term, string.format('%d', g.carnet))
    redis.call('LPUSH', p .. 'recent', cjson.encode(g))
  end
  if not touched[term] then
    touched[term] = true
    table.insert(order, {g.curso, g.semestre, g.year, term})
  end
end
local total = redis.call('INCRBY', p .. 'total', counted)
redis.call('LTRIM', p .. 'recent', 0, tonumber(ARGV[3]) - 1)
local students = {}
for _, t in ipairs(order) do
  table.insert(students, {curso = t[1], semestre = t[2], year = t[3],
                          students = redis.call('SCARD', p .. 'students:' .. t[4])})
end
local counts = redis.call('HGETALL', p .. 'route_count')
local route_count = {}
for i = 1, #counts, 2 do route_count[counts[i]] = tonumber(counts[i + 1]) end
local newest_first = {}
for i = #grades, 1, -1 do table.insert(newest_first, grades[i]) end
redis.call('PUBLISH', p .. 'events', cjson.encode({total = total, route_count = route_count,
  grades = newest_first, students = students}))
return total
"#;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("rebuilding the live state from MySQL: {0}")]
    Mysql(#[from] sqlx::Error),
}

/// Redis connection that is made on first use and re-made after failures, so a service starts and
/// serves while Redis is down.
#[derive(Clone)]
pub struct LiveState {
    client: Client,
    keys: LiveKeys,
    connection: Arc<Mutex<Option<ConnectionManager>>>,
    record_batch: Arc<Script>,
}

impl LiveState {
    pub fn new(url: &str, prefix: impl Into<String>) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            keys: LiveKeys::new(prefix),
            connection: Arc::new(Mutex::new(None)),
            record_batch: Arc::new(Script::new(RECORD_BATCH)),
        })
    }

    pub fn keys(&self) -> &LiveKeys {
        &self.keys
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

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

    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        redis::cmd("PING").query_async::<String>(&mut connection).await.map(|_| ())
    }

    /// Applies one committed batch. When the live state is missing (first start, or Redis lost
    /// its data) it is first rebuilt from MySQL, which already holds this batch.
    pub async fn record_batch(&self, pool: &MySqlPool, grades: &[StoredGrade]) -> Result<(), LiveError> {
        if self.run_record_script(grades).await? < 0 {
            self.rebuild_from_mysql(pool).await?;
            self.run_record_script(grades).await?;
        }
        Ok(())
    }

    async fn run_record_script(&self, grades: &[StoredGrade]) -> Result<i64, RedisError> {
        let payload = serde_json::to_string(grades).map_err(|e| RedisError::from((redis::ErrorKind::TypeError, "encode", e.to_string())))?;
        let mut connection = self.connection().await?;
        self.record_batch.prepare_invoke().arg(self.keys.prefix()).arg(payload).arg(RECENT_LEN).invoke_async::<i64>(&mut connection).await
    }

    /// Marks the live state as stale, so the next batch update rebuilds it from MySQL.
    pub async fn invalidate(&self) -> Result<(), RedisError> {
        let mut connection = self.connection().await?;
        connection.del(self.keys.synced_id()).await
    }

    /// Rebuilds every live key from MySQL. Holds the `id_sequence` lock meanwhile, so no batch
    /// commits during the rebuild; `synced_id` then tells later batch updates which grades the
    /// rebuild already counted, so none is counted twice or missed.
    pub async fn rebuild_from_mysql(&self, pool: &MySqlPool) -> Result<(), LiveError> {
        let mut tx = pool.begin().await?;
        let (next_id,): (u64,) = sqlx::query_as("SELECT next_id FROM id_sequence WHERE name = 'grades' FOR UPDATE").fetch_one(&mut *tx).await?;
        let mut connection = self.connection().await?;
        if connection.exists::<_, bool>(self.keys.synced_id()).await? {
            return Ok(()); // another replica rebuilt it while this one waited for the lock
        }
        let synced_id = next_id - 1;
        let routes: Vec<(String, u64)> =
            sqlx::query_as("SELECT CAST(route AS CHAR), CAST(grades AS UNSIGNED) FROM route_stats").fetch_all(&mut *tx).await?;
        let enrollments: Vec<(String, String, u16, u64)> =
            sqlx::query_as("SELECT curso, semestre, year, carnet FROM enrollments WHERE year <> 0").fetch_all(&mut *tx).await?;
        let recent: Vec<String> = crate::stats::newest_grades(&mut *tx, RECENT_LEN as u32)
            .await?
            .iter()
            .filter_map(|grade| serde_json::to_string(grade).ok())
            .collect();

        let mut stale: Vec<String> = Vec::new();
        let mut cursor = 0_u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}students:*", self.keys.prefix()))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await?;
            stale.extend(keys);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !stale.is_empty() {
            pipe.del(stale).ignore();
        }
        pipe.del(&[self.keys.route_count(), self.keys.recent()]).ignore();
        pipe.set(self.keys.total(), routes.iter().map(|(_, n)| n).sum::<u64>()).ignore();
        for (route, count) in &routes {
            pipe.hset(self.keys.route_count(), route, count).ignore();
        }
        for chunk in enrollments.chunks(1000) {
            for (curso, semestre, year, carnet) in chunk {
                pipe.sadd(self.keys.students(curso, semestre, *year), carnet).ignore();
            }
        }
        if !recent.is_empty() {
            pipe.rpush(self.keys.recent(), recent).ignore();
        }
        pipe.set(self.keys.synced_id(), synced_id).ignore();
        pipe.query_async::<()>(&mut connection).await?;
        tx.commit().await?;
        tracing::info!(synced_id, students = enrollments.len(), "live state rebuilt from MySQL");
        Ok(())
    }

    pub async fn total(&self) -> Result<u64, RedisError> {
        let mut connection = self.connection().await?;
        Ok(connection.get::<_, Option<u64>>(self.keys.total()).await?.unwrap_or(0))
    }

    pub async fn route_counts(&self) -> Result<RouteCounts, RedisError> {
        let mut connection = self.connection().await?;
        let (grpc, rest): (Option<u64>, Option<u64>) =
            redis::cmd("HMGET").arg(self.keys.route_count()).arg("grpc").arg("rest").query_async(&mut connection).await?;
        Ok(RouteCounts { grpc: grpc.unwrap_or(0), rest: rest.unwrap_or(0) })
    }

    pub async fn students(&self, curso: &str, semestre: &str, year: u16) -> Result<u64, RedisError> {
        let mut connection = self.connection().await?;
        connection.scard(self.keys.students(curso, semestre, year)).await
    }

    /// Newest first, as JSON objects of the [`StoredGrade`] shape.
    pub async fn recent(&self, count: usize) -> Result<Vec<serde_json::Value>, RedisError> {
        let mut connection = self.connection().await?;
        let raw: Vec<String> = connection.lrange(self.keys.recent(), 0, count.max(1) as isize - 1).await?;
        Ok(raw.iter().filter_map(|item| serde_json::from_str(item).ok()).collect())
    }
}
