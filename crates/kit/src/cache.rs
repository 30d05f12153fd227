//! A value read from elsewhere (the course catalog) and trusted for a while.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

/// A value re-read at most every `ttl`. While a re-read fails, the last copy is served, so a
/// dependency that is briefly down does not fail requests that only need this value.
pub struct Refreshed<T> {
    ttl: Duration,
    slot: RwLock<Option<(Arc<T>, Instant)>>,
}

impl<T> Refreshed<T> {
    /// Nothing loaded yet; a loaded value is trusted for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, slot: RwLock::new(None) }
    }

    /// The value, read with `load` when it is missing or older than the TTL.
    pub async fn get<E, F, Fut>(&self, load: F) -> Result<Arc<T>, E>
    where
        E: Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.fresh(self.slot.read().await.as_ref()) {
            return Ok(value);
        }
        let mut slot = self.slot.write().await;
        // Another caller may have refreshed it while this one waited for the lock.
        if let Some(value) = self.fresh(slot.as_ref()) {
            return Ok(value);
        }
        match load().await {
            Ok(value) => {
                let value = Arc::new(value);
                *slot = Some((value.clone(), Instant::now()));
                Ok(value)
            }
            Err(error) => match slot.as_ref() {
                Some((stale, _)) => {
                    tracing::warn!(%error, "could not refresh; serving the previous copy");
                    Ok(stale.clone())
                }
                None => Err(error),
            },
        }
    }

    fn fresh(&self, slot: Option<&(Arc<T>, Instant)>) -> Option<Arc<T>> {
        slot.filter(|(_, loaded)| loaded.elapsed() < self.ttl).map(|(value, _)| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loads_once_within_the_ttl_and_serves_a_stale_copy_on_failure() {
        let cache = Refreshed::new(Duration::from_millis(30));
        let first = cache.get(|| async { Ok::<_, String>(1) }).await.unwrap();
        let cached = cache.get(|| async { Ok::<_, String>(2) }).await.unwrap();
        assert_eq!((*first, *cached), (1, 1));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let stale = cache.get(|| async { Err::<i32, _>("down".to_owned()) }).await.unwrap();
        assert_eq!(*stale, 1);
        let refreshed = cache.get(|| async { Ok::<_, String>(3) }).await.unwrap();
        assert_eq!(*refreshed, 3);
        let empty: Refreshed<i32> = Refreshed::new(Duration::from_secs(1));
        assert!(empty.get(|| async { Err::<i32, _>("down".to_owned()) }).await.is_err());
    }
}
