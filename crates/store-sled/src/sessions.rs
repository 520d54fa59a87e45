//! The sign-in sessions of an embedded store: a sled tree beside the index (`sessions`), keyed
//! by the hash of a session's secret. Flushed with the index (every checkpoint interval): a
//! crash may forget the last minute's sign-ins (their people sign in again); an ended session
//! is also an event in the log, so no crash brings one back.

use store::{SessionKey, SessionRow, StoreError, Timestamp};
use uuid::Uuid;

/// The tree's name.
pub(crate) const SESSIONS_TREE: &str = "sessions";

/// The sessions tree of an embedded store.
#[derive(Debug, Clone)]
pub struct SledSessions {
    tree: sled::Tree,
}

impl SledSessions {
    pub(crate) fn new(tree: sled::Tree) -> SledSessions {
        SledSessions { tree }
    }
}

/// person (16 bytes) ‖ keep_until (8, big-endian micros) ‖ value.
fn encode(row: &SessionRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + row.value.len());
    out.extend_from_slice(row.person.as_bytes());
    out.extend_from_slice(&row.keep_until.unix_micros().to_be_bytes());
    out.extend_from_slice(&row.value);
    out
}

fn decode(key: &[u8], bytes: &[u8]) -> Option<SessionRow> {
    let key: SessionKey = key.try_into().ok()?;
    let person = Uuid::from_slice(bytes.get(..16)?).ok()?;
    let keep_until = Timestamp::from_unix_micros(i64::from_be_bytes(bytes.get(16..24)?.try_into().ok()?));
    Some(SessionRow { key, person, keep_until, value: bytes[24..].to_vec() })
}

fn io(e: sled::Error) -> StoreError {
    StoreError::Io(format!("sessions: {e}"))
}

impl SledSessions {
    fn rows(&self) -> impl Iterator<Item = Result<SessionRow, StoreError>> + '_ {
        self.tree.iter().filter_map(|item| match item {
            Ok((k, v)) => decode(&k, &v).map(Ok),
            Err(e) => Some(Err(io(e))),
        })
    }
}

#[async_trait::async_trait]
impl store::SessionStore for SledSessions {
    async fn put(&self, row: SessionRow) -> Result<(), StoreError> {
        self.tree.insert(row.key, encode(&row)).map(|_| ()).map_err(io)
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<SessionRow>, StoreError> {
        Ok(self.tree.get(key).map_err(io)?.and_then(|v| decode(key, &v)))
    }

    async fn of_person(&self, person: Uuid) -> Result<Vec<SessionRow>, StoreError> {
        self.rows().filter(|r| r.as_ref().map_or(true, |r| r.person == person)).collect()
    }

    async fn remove_person(&self, person: Uuid) -> Result<(), StoreError> {
        for row in self.of_person(person).await? {
            self.tree.remove(row.key).map_err(io)?;
        }
        // An erasure must not wait for the next checkpoint to reach the disk.
        self.tree.flush_async().await.map(|_| ()).map_err(io)
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let stale: Vec<SessionKey> =
            self.rows().filter_map(|r| r.ok()).filter(|r| r.keep_until < now).map(|r| r.key).collect();
        for key in &stale {
            self.tree.remove(key).map_err(io)?;
        }
        Ok(stale.len())
    }
}
