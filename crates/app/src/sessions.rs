//! Server-side sign-in sessions: a random secret in the browser's cookie, only its blake3 hash
//! stored (beside the log, `store::SessionStore`), 8 hours at most and 1 hour idle by default.
//!
//! A session is found through a cache in memory (a signed-in request costs a hash and a map
//! lookup, like a token's); the store is read when a session is not in the cache (another
//! server began it, or this one restarted) and written when a session begins or ends and at
//! most once a minute when it is used (its "last seen", for the idle limit). An ended session
//! is also an event (`SessionEnded`, `engine::logins`), so every server refuses it at once.
//! The rows stay [`KEPT_AFTER_END`] after their end for "last sign-in", then are purged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use engine::logins::Access;
use serde::{Deserialize, Serialize};
use store::{Clock, SessionKey, SessionRow, SessionStore, StoreError, Timestamp};
use uuid::Uuid;

const SECOND: i64 = 1_000_000;

/// How long a session's row is kept after it ended or expired ("last sign-in" reads it).
pub const KEPT_AFTER_END: i64 = 90 * 24 * 3600 * SECOND;

/// How often a used session's "last seen" is written at most (a quarter of the idle limit
/// when that is shorter).
const TOUCH_EVERY: i64 = 60 * SECOND;

/// Sessions in the cache at most (it is emptied when full: they are read again from the store).
const CACHED_MAX: usize = 100_000;

/// The prefix of a session secret (recognisable in a leak report, like a token's `efa_`).
pub const SECRET_PREFIX: &str = "efs_";

/// How long sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// From sign-in to the end, in seconds.
    pub absolute_secs: i64,
    /// Without a request, in seconds.
    pub idle_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { absolute_secs: 8 * 3600, idle_secs: 3600 }
    }
}

/// A session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: Uuid,
    pub person: Uuid,
    /// The issuer the person signed in with.
    pub issuer: String,
    pub access: Access,
    pub started: Timestamp,
    pub last_seen: Timestamp,
    pub expires: Timestamp,
    pub idle_secs: i64,
    /// Signed out or revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Timestamp>,
}

impl Session {
    /// Whether it may be used at `now`: not ended, not expired, not idle too long.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.ended.is_none()
            && now < self.expires
            && now.unix_micros() - self.last_seen.unix_micros() < self.idle_secs * SECOND
    }

    /// When its row may go.
    fn keep_until(&self) -> Timestamp {
        let end = self.ended.unwrap_or(self.expires).unix_micros().min(self.expires.unix_micros());
        Timestamp::from_unix_micros(end + KEPT_AFTER_END)
    }
}

/// The hash a session's row is stored under.
fn key_of(secret: &str) -> SessionKey {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

/// The sessions of a server.
#[derive(Debug)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
    cache: Mutex<HashMap<SessionKey, Session>>,
}

impl Sessions {
    pub fn new(store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>, policy: SessionPolicy) -> Sessions {
        Sessions { store, clock, policy, cache: Mutex::default() }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Session>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, key: SessionKey, session: Session) {
        let mut cache = self.cache();
        if cache.len() >= CACHED_MAX {
            cache.clear();
        }
        cache.insert(key, session);
    }

    async fn put(&self, key: SessionKey, session: &Session) -> Result<(), StoreError> {
        let value = serde_json::to_vec(session).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let row = SessionRow { key, person: session.person, keep_until: session.keep_until(), value };
        self.store.put(row).await
    }

    /// Begins a session of `person`: returns the secret for the cookie (shown once, never
    /// stored) and the session.
    pub async fn begin(
        &self,
        person: Uuid,
        issuer: &str,
        access: Access,
    ) -> Result<(String, Session), StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Io(format!("no random numbers: {e}")))?;
        let secret = format!("{SECRET_PREFIX}{}", hex(&bytes));
        let now = self.clock.now();
        let session = Session {
            id: Uuid::now_v7(),
            person,
            issuer: issuer.to_owned(),
            access,
            started: now,
            last_seen: now,
            expires: Timestamp::from_unix_micros(now.unix_micros() + self.policy.absolute_secs * SECOND),
            idle_secs: self.policy.idle_secs,
            ended: None,
        };
        let key = key_of(&secret);
        self.put(key, &session).await?;
        self.remember(key, session.clone());
        Ok((secret, session))
    }

    /// The live session of `secret`, its "last seen" brought forward.
    pub async fn find(&self, secret: &str) -> Result<Option<Session>, StoreError> {
        if !secret.starts_with(SECRET_PREFIX) {
            return Ok(None);
        }
        let key = key_of(secret);
        let cached = self.cache().get(&key).cloned();
        let from_cache = cached.is_some();
        let mut session = match cached {
            Some(s) => s,
            None => match self.store.get(&key).await? {
                Some(row) => match serde_json::from_slice::<Session>(&row.value) {
                    Ok(s) => s,
                    Err(_) => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        let now = self.clock.now();
        if !session.is_live(now) {
            self.cache().remove(&key);
            return Ok(None);
        }
        let touch_every = TOUCH_EVERY.min(session.idle_secs * SECOND / 4);
        if now.unix_micros() - session.last_seen.unix_micros() >= touch_every {
            session.last_seen = now;
            self.put(key, &session).await?;
            self.remember(key, session.clone());
        } else if !from_cache {
            self.remember(key, session.clone());
        }
        Ok(Some(session))
    }

    /// The session of `secret`, live or not (to end it).
    pub async fn of_secret(&self, secret: &str) -> Result<Option<Session>, StoreError> {
        let row = self.store.get(&key_of(secret)).await?;
        Ok(row.and_then(|r| serde_json::from_slice(&r.value).ok()))
    }

    /// Every session of `person` kept (live, ended, expired), newest first.
    pub async fn of_person(&self, person: Uuid) -> Result<Vec<Session>, StoreError> {
        let mut list: Vec<Session> = self
            .store
            .of_person(person)
            .await?
            .into_iter()
            .filter_map(|r| serde_json::from_slice(&r.value).ok())
            .collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.started));
        Ok(list)
    }

    /// Marks the session `id` of `person` ended; returns it as it was before, if there is one.
    pub async fn end(&self, person: Uuid, id: Uuid) -> Result<Option<Session>, StoreError> {
        let rows = self.store.of_person(person).await?;
        for row in rows {
            let Ok(mut session) = serde_json::from_slice::<Session>(&row.value) else { continue };
            if session.id != id {
                continue;
            }
            let before = session.clone();
            session.ended.get_or_insert(self.clock.now());
            self.cache().remove(&row.key);
            self.put(row.key, &session).await?;
            return Ok(Some(before));
        }
        Ok(None)
    }

    /// Deletes the rows whose time is over.
    pub async fn purge(&self) -> Result<usize, StoreError> {
        self.store.purge(self.clock.now()).await
    }
}

/// Ends session `id` of `person` (signed out, or revoked by `req`'s actor): its row marked
/// ended, then `SessionEnded` appended, so every server following the log refuses it from then
/// on. The session as it was before; `None` when the person has no such session.
pub async fn end_session(
    engine: &engine::Engine,
    sessions: &Sessions,
    person: Uuid,
    id: Uuid,
    reason: &str,
    req: &engine::Invocation,
) -> Result<Option<Session>, String> {
    let Some(before) = sessions.end(person, id).await.map_err(|e| e.to_string())? else { return Ok(None) };
    engine.end_session(person, id, reason, req).await.map_err(|e| e.to_string())?;
    Ok(Some(before))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
