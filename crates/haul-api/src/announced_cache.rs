//! What this process read from the database recently, each entry forgotten
//! the moment a change to it is announced over LISTEN/NOTIFY. Two caches use
//! it: API keys, so a request needs no round trip to learn its tenant (a
//! trigger announces revocations, migration 3), and export rows, so a client
//! polling an export costs the database one read per `server.status_cache_ttl`
//! however often it polls (status changes are announced once committed; see
//! `haul_db::meta::exports`). While the notification channel is down, nothing
//! cached is trusted past its TTL, and the caches are emptied whenever the
//! channel reconnects, since announcements made meanwhile are lost.

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub struct AnnouncedCache<V> {
    ttl: Duration,
    /// Beyond this many entries, expired ones are dropped, then all.
    max_entries: usize,
    entries: Mutex<HashMap<String, (V, Instant)>>,
    /// Bumped by every forget and clear: a read that started before one
    /// may have seen what has since changed, so its result is not cached
    /// (see `put`).
    generation: AtomicU64,
}

impl<V: Clone> AnnouncedCache<V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Taken before reading from the database; handed to `put`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The entry for `key`, if it was read within the TTL.
    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().expect("cache lock");
        let (value, at) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Caches what was read from the database, unless a change was
    /// announced since `read_at` (from `generation`): the read may predate it.
    pub fn put(&self, key: &str, value: V, read_at: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().expect("cache lock");
        if self.generation() != read_at {
            return;
        }
        if entries.len() >= self.max_entries {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key.to_string(), (value, Instant::now()));
    }

    pub fn forget(&self, key: &str) {
        let mut entries = self.entries.lock().expect("cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(key);
    }

    pub fn clear(&self) {
        let mut entries = self.entries.lock().expect("cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

/// A cache as its announcement channel sees it.
pub trait Announced: Send + Sync {
    fn forget(&self, key: &str);
    fn clear(&self);
}

impl<V: Clone + Send> Announced for AnnouncedCache<V> {
    fn forget(&self, key: &str) {
        AnnouncedCache::forget(self, key)
    }
    fn clear(&self) {
        AnnouncedCache::clear(self)
    }
}

/// Forgets entries as changes to them are announced, each cache on its own
/// channel (the payload is the entry's key), until `shutdown`.
pub async fn follow_announcements(
    caches: Vec<(&'static str, Arc<dyn Announced>)>,
    pool: PgPool,
    shutdown: CancellationToken,
) {
    let clear_all = || caches.iter().for_each(|(_, cache)| cache.clear());
    let listen = async {
        loop {
            if let Err(e) = listen_once(&caches, &pool, clear_all).await {
                tracing::warn!(error = %e, "lost the cache announcement channel; retrying in 1s");
            }
            // Whatever was announced while not listening is unknown.
            clear_all();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        _ = listen => {}
        _ = shutdown.cancelled() => {}
    }
}

async fn listen_once(
    caches: &[(&'static str, Arc<dyn Announced>)],
    pool: &PgPool,
    clear_all: impl Fn(),
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    let channels: Vec<&str> = caches.iter().map(|(channel, _)| *channel).collect();
    listener.listen_all(channels).await?;
    // Entries cached before LISTEN took effect may predate a change.
    clear_all();
    loop {
        match listener.try_recv().await? {
            Some(change) => caches
                .iter()
                .filter(|(channel, _)| *channel == change.channel())
                .for_each(|(_, cache)| cache.forget(change.payload())),
            // The connection dropped (sqlx reconnects on the next call):
            // announcements in between are lost.
            None => clear_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tenant: &str) -> String {
        tenant.to_string()
    }

    const MANY: usize = 100;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = AnnouncedCache::new(Duration::from_millis(50), MANY);
        cache.put("abc", key("acme"), cache.generation());
        cache.put("def", key("globex"), cache.generation());
        assert_eq!(cache.get("abc").unwrap(), "acme");
        cache.forget("abc");
        assert!(cache.get("abc").is_none());
        assert_eq!(cache.get("def").unwrap(), "globex");
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("def").is_none(), "expired after the TTL");
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = AnnouncedCache::<String>::new(Duration::ZERO, MANY);
        cache.put("abc", key("acme"), cache.generation());
        assert!(cache.get("abc").is_none());
    }

    #[test]
    fn a_lookup_overtaken_by_a_revocation_is_not_cached() {
        let cache = AnnouncedCache::new(Duration::from_secs(30), MANY);
        let read_at = cache.generation();
        // The key is revoked (and announced) while its lookup is under way.
        cache.forget("abc");
        cache.put("abc", key("acme"), read_at);
        assert!(cache.get("abc").is_none());
        cache.put("abc", key("acme"), cache.generation());
        assert!(cache.get("abc").is_some());
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first() {
        let cache = AnnouncedCache::new(Duration::from_millis(50), 2);
        cache.put("old", key("acme"), cache.generation());
        std::thread::sleep(Duration::from_millis(60));
        cache.put("a", key("acme"), cache.generation());
        cache.put("b", key("globex"), cache.generation());
        assert!(cache.get("a").is_some() && cache.get("b").is_some());
        cache.put("c", key("initech"), cache.generation());
        assert!(cache.get("c").is_some());
        assert!(
            cache.get("a").is_none(),
            "all fresh entries go when still full"
        );
    }
}
