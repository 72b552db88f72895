//! The decision cache: repeated `(query, input)` pairs answered without
//! evaluating again.
//!
//! Authorization traffic repeats: the same principal asks for the same
//! action on the same resource many times a second. A decision depends only
//! on the revision, the query and the input, *provided the policy is
//! deterministic*, so each revision gets its own cache, and a revision whose
//! modules call a builtin that reads the clock, the network, randomness or
//! the runtime (see [`NONDETERMINISTIC_BUILTINS`]) gets none. A reload starts
//! a new revision and so an empty cache. Only successful results are
//! cached; errors are always recomputed.
//!
//! Keys are the exact query and input JSON text (inputs up to
//! [`MAX_CACHED_INPUT_BYTES`]); hashing uses a per-process random key, so
//! inputs cannot be crafted to collide. The cache is sharded, each shard a
//! small mutex-guarded map held for a lookup only; a full shard is cleared
//! rather than tracked for recency, which keeps memory bounded at
//! `entries` with no bookkeeping on the hit path.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Inputs longer than this (bytes of JSON text) are never cached.
pub const MAX_CACHED_INPUT_BYTES: usize = 8 * 1024;

/// Builtins whose result can change between two calls with equal arguments.
/// A bundle whose source mentions any of them is evaluated every time.
pub const NONDETERMINISTIC_BUILTINS: &[&str] = &[
    "time.now_ns",
    "http.send",
    "rand.intn",
    "uuid.rfc4122",
    "uuid.parse",
    "opa.runtime",
    "net.lookup_ip_addr",
    "io.jwt.decode_verify",
    "crypto.x509.parse_and_verify_certificates",
];

const SHARDS: usize = 16;

struct Entry {
    query: Box<str>,
    input: Box<str>,
    value: Option<serde_json::Value>,
}

/// Counters, for operators and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecisionCacheStats {
    /// Whether the serving revision has a cache.
    pub enabled: bool,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to evaluate.
    pub misses: u64,
}

pub(crate) struct DecisionCache {
    shards: Box<[Mutex<HashMap<u64, Entry>>]>,
    per_shard: usize,
    hasher: RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl DecisionCache {
    pub(crate) fn new(entries: usize) -> Self {
        DecisionCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: entries.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn hash(&self, query: &str, input: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(query.as_bytes());
        h.write_u8(0xff);
        h.write(input.as_bytes());
        h.finish()
    }

    fn shard(&self, hash: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.shards[(hash as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value (`Some(None)` is a cached *undefined*).
    pub(crate) fn get(&self, query: &str, input: &str) -> Option<Option<serde_json::Value>> {
        let hash = self.hash(query, input);
        let found = self
            .shard(hash)
            .get(&hash)
            .filter(|e| &*e.query == query && &*e.input == input)
            .map(|e| e.value.clone());
        match found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    pub(crate) fn insert(&self, query: &str, input: &str, value: Option<serde_json::Value>) {
        let hash = self.hash(query, input);
        let mut shard = self.shard(hash);
        if shard.len() >= self.per_shard && !shard.contains_key(&hash) {
            shard.clear();
        }
        shard.insert(
            hash,
            Entry {
                query: query.into(),
                input: input.into(),
                value,
            },
        );
    }

    pub(crate) fn stats(&self) -> DecisionCacheStats {
        DecisionCacheStats {
            enabled: true,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// Whether a bundle's sources call no nondeterministic builtin.
pub(crate) fn is_deterministic<'a>(sources: impl IntoIterator<Item = &'a str>) -> bool {
    sources
        .into_iter()
        .all(|src| NONDETERMINISTIC_BUILTINS.iter().all(|b| !src.contains(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_require_equal_query_and_input() {
        let c = DecisionCache::new(64);
        c.insert("data.a", "{}", Some(serde_json::json!(true)));
        assert_eq!(c.get("data.a", "{}"), Some(Some(serde_json::json!(true))));
        assert_eq!(c.get("data.b", "{}"), None);
        assert_eq!(c.get("data.a", "{ }"), None);
        c.insert("data.u", "{}", None);
        assert_eq!(c.get("data.u", "{}"), Some(None));
        let s = c.stats();
        assert_eq!((s.hits, s.misses), (2, 2));
    }

    #[test]
    fn bounded() {
        let c = DecisionCache::new(32);
        for i in 0..10_000 {
            c.insert("q", &i.to_string(), None);
        }
        let total: usize = c.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= 32 + SHARDS, "{total}");
    }

    #[test]
    fn determinism_scan() {
        assert!(is_deterministic(["package a\nallow if input.x"]));
        assert!(!is_deterministic([
            "package a\nallow if time.now_ns() > input.t"
        ]));
    }
}
