//! The event store API of efa-rollout.
//!
//! Everything the product knows is an event in one global log, grouped into streams (one per
//! rollout, authority, service, token, ...). This crate defines the envelope, the [`EventStore`]
//! trait every backend implements, the rules of the hash chain, the write queue with group
//! commit that the durable backends share ([`writer`]), the limits, the NDJSON exchange
//! format, the subscription that hands over from catch-up to live, and an in-memory backend for
//! tests. Backends: `store-sled` (embedded default), [`MemoryStore`] (tests).

mod chain;
mod codec;
mod envelope;
mod error;
pub mod keys;
pub mod limits;
mod memory;
pub mod ndjson;
pub mod sessions;
mod subscription;
mod verify;
pub mod writer;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::sync::Arc;

use uuid::Uuid;

pub use chain::{
    check_link, check_retry, plan_append, plan_continuation, AppendIndex, ChainVerifier, Head, Plan,
};
pub use codec::{decode, encode, event_hash};
pub use envelope::{
    Actor, ActorKind, Direction, EventHash, ExpectedVersion, Json, NewEvent, RecordedEvent, Timestamp,
};
pub use error::StoreError;
pub use keys::{Key, KeyStore, MemoryKeys};
pub use memory::MemoryStore;
pub use sessions::{MemorySessions, SessionKey, SessionRow, SessionStore};
pub use subscription::Subscription;
pub use verify::{verify_log, verify_until, VerifyError, VerifyReport};
pub use writer::{write_queue, Group, GroupPlan, Write, WriteQueue, WriteReceiver};

/// Events committed together, in position order, sent to live subscribers after they are
/// durable. An empty batch only says "something was committed: read the log".
pub type Committed = Arc<[RecordedEvent]>;

/// The event log. One implementation per storage engine; the rest of the product holds an
/// `Arc<dyn EventStore>`.
///
/// Guarantees every backend keeps (checked by the conformance suite):
/// - an append returns only after its events are on stable storage;
/// - positions are dense, start at 1 and follow commit order; a stream's versions are dense;
/// - an append whose expected version is stale fails with [`StoreError::Conflict`];
/// - an append whose event ids are all stored returns the stored events and writes nothing;
/// - every event is hash-chained to its predecessor;
/// - reads never show an event that is not yet durable.
/// Named byte values kept beside the log, for what can be rebuilt from it (the read models'
/// checkpoint): a server that keeps its log in a database keeps these there too and needs no
/// writable local directory. Not part of the log: not hash-chained, not in `read_all`, replaced
/// as a whole by each `put`.
#[async_trait::async_trait]
pub trait Blobs: Send + Sync + std::fmt::Debug {
    /// Replaces the value of `name` (atomically: a reader sees the old value or the new one).
    async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// The value of `name`, if there is one.
    async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

#[async_trait::async_trait]
pub trait EventStore: Send + Sync + std::fmt::Debug {
    /// Appends `events` to one stream, atomically, after checking `expected`.
    /// Returns the stored events (for a retry: the events stored the first time).
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Appends events that already carry position, version and hash (import, copy between
    /// stores). They must continue the log exactly; nothing is written otherwise.
    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError>;

    /// Reads up to `max` events of a stream: forward from version `from` (inclusive), or
    /// backward from version `from` (inclusive; `u64::MAX` for the newest).
    async fn read_stream(
        &self,
        stream_id: &str,
        from: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The stream's last version; 0 when it has no events.
    async fn stream_version(&self, stream_id: &str) -> Result<u64, StoreError>;

    /// Reads up to `max` events of the global log from position `from` (inclusive).
    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Up to `max` events of the streams whose id starts with `prefix` (a category such as
    /// `token-` or `authority-`), in log order, after position `after`. It reads those streams
    /// through the stream index, not the whole log: meant for small categories (tokens, the
    /// catalogue), read at start-up.
    async fn read_category(
        &self,
        prefix: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The event at `position`, if it exists and is durable.
    async fn read_event(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError>;

    /// The durable event with this id, if there is one (through the event-id index: an
    /// idempotent command asks whether its first event is stored without reading its stream).
    async fn read_event_by_id(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError>;

    /// The last durable event's position and hash.
    async fn head(&self) -> Result<Head, StoreError>;

    /// The clock appends are recorded with. Everything that needs "now" (deadlines, overdue
    /// flags, step actions) asks this clock, so a test that controls it controls all of them.
    fn clock(&self) -> Arc<dyn Clock>;

    /// A receiver of committed batches, for [`Subscription`].
    fn notifications(&self) -> tokio::sync::broadcast::Receiver<Committed>;

    /// Whether appends can be made durable now, and if not, why. A store that found it cannot
    /// write tries to recover here (and before its next append): readiness probes drive it.
    async fn health(&self) -> Health {
        Health::Writable
    }

    /// The keys of personal data kept beside this log ([`keys`]), if this store keeps any.
    /// A wrapper of a store passes its inner store's on.
    fn key_store(&self) -> Option<Arc<dyn KeyStore>> {
        None
    }

    /// The sign-in sessions kept beside this log ([`sessions`]), if this store keeps any.
    /// A wrapper of a store passes its inner store's on.
    fn sessions(&self) -> Option<Arc<dyn SessionStore>> {
        None
    }
}

/// Whether a store can write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Writable,
    /// Appends are refused with [`StoreError::Unavailable`] carrying `cause`; reads work.
    /// `fatal`: the store cannot recover in this process (its supervisor must restart it).
    Unwritable {
        cause: String,
        fatal: bool,
    },
}

impl Health {
    pub fn is_writable(&self) -> bool {
        matches!(self, Health::Writable)
    }
}

/// Where appends get their time from. Stores take it as a parameter so tests and demo data can
/// control time; production uses [`SystemClock`].
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// The one place that reads the operating system's time.
    fn now(&self) -> Timestamp {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_unix_micros(micros)
    }
}

/// Every event of the streams whose id starts with one of `prefixes` (small categories such as
/// `token-` or the catalogue's), in log order: [`EventStore::read_category`] paged to the end.
pub async fn read_categories(
    store: &dyn EventStore,
    prefixes: &[&str],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    for prefix in prefixes {
        let mut after = 0;
        loop {
            let page = store.read_category(prefix, after, limits::READ_BATCH_MAX).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            events.extend(page);
        }
    }
    events.sort_unstable_by_key(|e| e.position);
    Ok(events)
}

/// Subscribes to the log from position `from` (inclusive): first the stored events, then live
/// ones, with no gap and no duplicate.
pub fn subscribe(store: Arc<dyn EventStore>, from: u64) -> Subscription {
    Subscription::new(store, from)
}
