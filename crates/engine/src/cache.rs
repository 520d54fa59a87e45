//! The full state of recently used rollouts (with their step records, which `decide` needs for
//! four eyes and reopening and the read models' summaries drop), so that deciding a command
//! does not read the rollout's whole stream.
//!
//! An entry is the fold of its stream's events `1..=version`, and events never change: an entry
//! is never wrong, only possibly behind. Loading asks the store for the stream's version (an
//! index lookup, no stream read); an entry at that version is used as it is, one behind it is
//! brought forward with the events after it (appends by policies, by other processes, by
//! another server on the same database), and nothing is trusted beyond that.
//!
//! A command (`Engine::execute`) does not ask first: it decides on the entry as it is and
//! appends with the entry's version as the expected one, so an entry behind the log is refused
//! by the store and the command decided again on the store's state. Whatever the entry would
//! refuse (an `expectedVersion` not its own, a rejection) is decided again on the store's state
//! too, before it is answered. So an entry can never turn a correct `expectedVersion` into
//! `CONFLICT`, a possible command into a rejection, or let a stale one through.
//!
//! Bounded by [`crate::limits::ROLLOUT_CACHE_ENTRIES`]: the least recently used entry goes
//! first. Everything here fits in memory by construction; the limit is what it costs.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use workflow::rollout::Rollout;

/// What the cache did since the engine opened (for `/metrics`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: u64,
    pub capacity: u64,
    /// Loads answered by an entry at the stream's version.
    pub hits: u64,
    /// Loads that brought an entry forward with the events after it.
    pub advanced: u64,
    /// Loads that folded the whole stream.
    pub misses: u64,
    /// Events read to bring entries forward or to fold streams.
    pub events_folded: u64,
}

#[derive(Debug)]
pub(crate) struct RolloutCache {
    capacity: usize,
    inner: Mutex<Lru>,
    hits: AtomicU64,
    advanced: AtomicU64,
    misses: AtomicU64,
    events_folded: AtomicU64,
}

#[derive(Debug, Default)]
struct Lru {
    tick: u64,
    /// Shared, so that the lock is held only to hand out a reference: callers copy outside it.
    entries: HashMap<String, (Arc<Rollout>, u64)>,
    /// tick → stream id, oldest first.
    order: BTreeMap<u64, String>,
}

impl RolloutCache {
    pub(crate) fn new(capacity: usize) -> RolloutCache {
        RolloutCache {
            capacity,
            inner: Mutex::new(Lru::default()),
            hits: AtomicU64::new(0),
            advanced: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            events_folded: AtomicU64::new(0),
        }
    }

    /// The entry of `stream` if it is at `version` or before it.
    pub(crate) fn get(&self, stream: &str, version: u64) -> Option<Arc<Rollout>> {
        if self.capacity == 0 {
            return None;
        }
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        let (rollout, used) = lru.entries.get_mut(stream)?;
        if rollout.version > version {
            // The store says less than the entry holds: not this log (never trusted).
            return None;
        }
        let old = std::mem::replace(used, tick);
        let rollout = Arc::clone(rollout);
        lru.order.remove(&old);
        lru.order.insert(tick, stream.to_owned());
        Some(rollout)
    }

    /// Keeps `rollout` (the fold of its stream up to its version) unless a newer one is kept.
    pub(crate) fn put(&self, stream: &str, rollout: &Rollout) {
        if self.capacity == 0 {
            return;
        }
        let rollout = Arc::new(rollout.clone());
        let mut lru = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        if let Some((kept, used)) = lru.entries.get_mut(stream) {
            if kept.version > rollout.version {
                return;
            }
            *kept = rollout;
            let old = std::mem::replace(used, tick);
            lru.order.remove(&old);
            lru.order.insert(tick, stream.to_owned());
            return;
        }
        lru.entries.insert(stream.to_owned(), (rollout, tick));
        lru.order.insert(tick, stream.to_owned());
        while lru.entries.len() > self.capacity {
            let Some((_, oldest)) = lru.order.pop_first() else { break };
            lru.entries.remove(&oldest);
        }
    }

    pub(crate) fn counted(&self, outcome: Outcome, events: u64) {
        let counter = match outcome {
            Outcome::Hit => &self.hits,
            Outcome::Advanced => &self.advanced,
            Outcome::Miss => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.events_folded.fetch_add(events, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let entries = self.inner.lock().unwrap_or_else(|p| p.into_inner()).entries.len() as u64;
        CacheStats {
            entries,
            capacity: self.capacity as u64,
            hits: self.hits.load(Ordering::Relaxed),
            advanced: self.advanced.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            events_folded: self.events_folded.load(Ordering::Relaxed),
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Outcome {
    Hit,
    Advanced,
    Miss,
}
