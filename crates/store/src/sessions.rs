//! Sign-in sessions kept beside the log, not in it: a session is ephemeral and its times are
//! personal data, so it is a row that can be deleted, never an event. A row is found by the
//! blake3 hash of the session's secret (the secret itself is only ever in the browser's
//! cookie) and listed by its person; what a row holds is the caller's business (bytes).

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

use crate::{StoreError, Timestamp};

/// The hash of a session's secret: the key of its row.
pub type SessionKey = [u8; 32];

/// A stored session row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub key: SessionKey,
    pub person: Uuid,
    /// After this the row may be deleted ([`SessionStore::purge`]).
    pub keep_until: Timestamp,
    pub value: Vec<u8>,
}

/// Where a store keeps its sessions: a sled tree beside the index, a PostgreSQL table, memory.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Inserts or replaces the row of `row.key`.
    async fn put(&self, row: SessionRow) -> Result<(), StoreError>;
    /// The row of `key`, if there is one.
    async fn get(&self, key: &SessionKey) -> Result<Option<SessionRow>, StoreError>;
    /// Every row of `person`.
    async fn of_person(&self, person: Uuid) -> Result<Vec<SessionRow>, StoreError>;
    /// Deletes every row of `person` (an erasure).
    async fn remove_person(&self, person: Uuid) -> Result<(), StoreError>;
    /// Deletes the rows kept until before `now`; returns how many.
    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError>;
}

/// Sessions in memory (tests, the in-memory store).
#[derive(Debug, Default)]
pub struct MemorySessions {
    rows: Mutex<HashMap<SessionKey, SessionRow>>,
}

impl MemorySessions {
    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, SessionRow>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl SessionStore for MemorySessions {
    async fn put(&self, row: SessionRow) -> Result<(), StoreError> {
        self.rows().insert(row.key, row);
        Ok(())
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<SessionRow>, StoreError> {
        Ok(self.rows().get(key).cloned())
    }

    async fn of_person(&self, person: Uuid) -> Result<Vec<SessionRow>, StoreError> {
        Ok(self.rows().values().filter(|r| r.person == person).cloned().collect())
    }

    async fn remove_person(&self, person: Uuid) -> Result<(), StoreError> {
        self.rows().retain(|_, r| r.person != person);
        Ok(())
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut rows = self.rows();
        let before = rows.len();
        rows.retain(|_, r| r.keep_until >= now);
        Ok(before - rows.len())
    }
}
