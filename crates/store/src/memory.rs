use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{
    check_retry, limits, plan_append, plan_continuation, AppendIndex, Clock, Committed, Direction,
    EventStore, ExpectedVersion, Head, KeyStore, MemoryKeys, NewEvent, Plan, RecordedEvent, StoreError,
    SystemClock,
};

/// The whole log in memory, for tests. Same rules as every backend (it runs the conformance
/// suite); nothing survives the process.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Log>>,
    live: broadcast::Sender<Committed>,
    clock: Arc<dyn Clock>,
    keys: Arc<MemoryKeys>,
    sessions: Arc<crate::MemorySessions>,
}

#[derive(Default)]
struct Log {
    events: Vec<RecordedEvent>,
    /// Each stream's positions, in version order.
    streams: HashMap<String, Vec<u64>>,
    ids: HashMap<Uuid, u64>,
}

impl Log {
    fn head(&self) -> Head {
        self.events.last().map(Head::after).unwrap_or(Head::EMPTY)
    }

    fn push(&mut self, event: RecordedEvent) {
        self.streams.entry(event.stream_id.clone()).or_default().push(event.position);
        self.ids.insert(event.event_id, event.position);
        self.events.push(event);
    }

    fn at(&self, position: u64) -> Option<&RecordedEvent> {
        position.checked_sub(1).and_then(|i| self.events.get(i as usize))
    }
}

impl AppendIndex for Log {
    fn stream_version(&mut self, stream_id: &str) -> Result<u64, StoreError> {
        Ok(self.streams.get(stream_id).map_or(0, |p| p.len() as u64))
    }

    fn position_of(&mut self, event_id: Uuid) -> Result<Option<u64>, StoreError> {
        Ok(self.ids.get(&event_id).copied())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let (live, _) = broadcast::channel(limits::LIVE_CHANNEL_BATCHES);
        MemoryStore {
            inner: Arc::new(Mutex::new(Log::default())),
            live,
            clock,
            keys: Arc::default(),
            sessions: Arc::default(),
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        // A panic while holding the lock cannot leave the log half-written: `push` is the only
        // mutation and it runs after all checks.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut log = self.log();
        let mut head = log.head();
        let retry_check = events.clone();
        match plan_append(&mut *log, &mut head, stream_id, expected, events, self.clock.now())? {
            Plan::AlreadyStored(positions) => {
                let stored: Vec<_> = positions.iter().filter_map(|&p| log.at(p).cloned()).collect();
                check_retry(stream_id, &retry_check, &stored)?;
                Ok(stored)
            }
            Plan::Write(records) => {
                for r in &records {
                    log.push(r.clone());
                }
                let _ = self.live.send(records.clone().into());
                Ok(records)
            }
        }
    }

    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        limits::check_recorded(&events)?;
        let mut log = self.log();
        let mut head = log.head();
        plan_continuation(&mut *log, &mut head, &events, &mut HashMap::new())?;
        for e in &events {
            log.push(e.clone());
        }
        let _ = self.live.send(events.into());
        Ok(())
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = self.log();
        let Some(positions) = log.streams.get(stream_id) else {
            return Ok(Vec::new());
        };
        let max = max.min(limits::READ_BATCH_MAX);
        let len = positions.len() as u64;
        let picked: Vec<u64> = match direction {
            Direction::Forward => {
                let start = from.max(1) - 1;
                positions.iter().skip(start.min(len) as usize).take(max).copied().collect()
            }
            Direction::Backward => {
                let end = from.min(len) as usize;
                positions[..end].iter().rev().take(max).copied().collect()
            }
        };
        Ok(picked.into_iter().filter_map(|p| log.at(p).cloned()).collect())
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, StoreError> {
        self.log().stream_version(stream_id)
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = self.log();
        let start = (from.max(1) - 1).min(log.events.len() as u64) as usize;
        Ok(log.events[start..].iter().take(max.min(limits::READ_BATCH_MAX)).cloned().collect())
    }

    async fn read_category(
        &self,
        prefix: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = self.log();
        let start = after.min(log.events.len() as u64) as usize;
        Ok(log.events[start..]
            .iter()
            .filter(|e| e.stream_id.starts_with(prefix))
            .take(max.min(limits::READ_BATCH_MAX))
            .cloned()
            .collect())
    }

    async fn read_event(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        Ok(self.log().at(position).cloned())
    }

    async fn read_event_by_id(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        let log = self.log();
        Ok(log.ids.get(&event_id).and_then(|&p| log.at(p)).cloned())
    }

    async fn head(&self) -> Result<Head, StoreError> {
        Ok(self.log().head())
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn key_store(&self) -> Option<Arc<dyn KeyStore>> {
        Some(self.keys.clone())
    }

    fn sessions(&self) -> Option<Arc<dyn crate::SessionStore>> {
        Some(self.sessions.clone())
    }

    fn notifications(&self) -> broadcast::Receiver<Committed> {
        self.live.subscribe()
    }
}
