//! API keys this process has checked, so a request needs no database round
//! trip to learn its tenant. A revoked or deleted key is announced on
//! `haul_api_keys` (a trigger, migration 0003) and forgotten here at once;
//! while that notification channel is down, nothing cached is trusted past
//! `auth.key_cache_ttl`, and the cache is emptied whenever the channel
//! reconnects, since announcements made meanwhile are lost.

use haul_db::meta::keys::KEY_CHANGES_CHANNEL;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A live key as last read from the database.
#[derive(Clone, Debug)]
pub struct KnownKey {
    pub tenant: String,
    pub key_hash: Vec<u8>,
}

pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (KnownKey, Instant)>>,
    /// Bumped by every forget and clear: a lookup that started before one
    /// may have read a key that has since been revoked, so its result is
    /// not cached (see `put`).
    generation: AtomicU64,
}

/// Keys are few (one or a handful per tenant); this only guards against a
/// flood of distinct valid keys growing the map without bound.
const MAX_ENTRIES: usize = 100_000;

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Taken before reading a key from the database; handed to `put`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The key with this prefix, if it was checked within the TTL.
    pub fn get(&self, prefix: &str) -> Option<KnownKey> {
        let entries = self.entries.lock().expect("key cache lock");
        let (key, at) = entries.get(prefix)?;
        (at.elapsed() < self.ttl).then(|| key.clone())
    }

    /// Caches a key read from the database, unless a change was announced
    /// since `read_at` (from `generation`): the read may predate it.
    pub fn put(&self, prefix: &str, key: KnownKey, read_at: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().expect("key cache lock");
        if self.generation() != read_at {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(prefix.to_string(), (key, Instant::now()));
    }

    pub fn forget(&self, prefix: &str) {
        let mut entries = self.entries.lock().expect("key cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(prefix);
    }

    pub fn clear(&self) {
        let mut entries = self.entries.lock().expect("key cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

/// Forgets keys as their changes are announced, until `shutdown`.
pub async fn follow_key_changes(
    cache: std::sync::Arc<KeyCache>,
    pool: PgPool,
    shutdown: CancellationToken,
) {
    let listen = async {
        loop {
            if let Err(e) = listen_once(&cache, &pool).await {
                tracing::warn!(error = %e, "lost the API key change channel; retrying in 1s");
            }
            // Whatever was announced while not listening is unknown.
            cache.clear();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        _ = listen => {}
        _ = shutdown.cancelled() => {}
    }
}

async fn listen_once(cache: &KeyCache, pool: &PgPool) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(KEY_CHANGES_CHANNEL).await?;
    // Entries cached before LISTEN took effect may predate a revocation.
    cache.clear();
    loop {
        match listener.try_recv().await? {
            Some(change) => cache.forget(change.payload()),
            // The connection dropped (sqlx reconnects on the next call):
            // announcements in between are lost.
            None => cache.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tenant: &str) -> KnownKey {
        KnownKey {
            tenant: tenant.into(),
            key_hash: vec![1, 2, 3],
        }
    }

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = KeyCache::new(Duration::from_millis(50));
        cache.put("abc", key("acme"), cache.generation());
        cache.put("def", key("globex"), cache.generation());
        assert_eq!(cache.get("abc").unwrap().tenant, "acme");
        cache.forget("abc");
        assert!(cache.get("abc").is_none());
        assert_eq!(cache.get("def").unwrap().tenant, "globex");
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("def").is_none(), "expired after the TTL");
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = KeyCache::new(Duration::ZERO);
        cache.put("abc", key("acme"), cache.generation());
        assert!(cache.get("abc").is_none());
    }

    #[test]
    fn a_lookup_overtaken_by_a_revocation_is_not_cached() {
        let cache = KeyCache::new(Duration::from_secs(30));
        let read_at = cache.generation();
        // The key is revoked (and announced) while its lookup is under way.
        cache.forget("abc");
        cache.put("abc", key("acme"), read_at);
        assert!(cache.get("abc").is_none());
        cache.put("abc", key("acme"), cache.generation());
        assert!(cache.get("abc").is_some());
    }
}
