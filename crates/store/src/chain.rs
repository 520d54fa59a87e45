//! The rules that make the log a hash chain: planning an append, checking a copied event, and
//! verifying a whole log. Every backend goes through these functions, so the rules live once.

use std::collections::HashMap;

use uuid::Uuid;

use crate::{event_hash, limits, EventHash, ExpectedVersion, NewEvent, RecordedEvent, StoreError, Timestamp};

/// The end of the log: what the next event chains to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Head {
    /// Position of the last event; 0 for an empty log.
    pub position: u64,
    pub hash: EventHash,
    pub recorded_at: Timestamp,
}

impl Head {
    pub const EMPTY: Head =
        Head { position: 0, hash: EventHash::GENESIS, recorded_at: Timestamp::from_unix_micros(i64::MIN) };

    pub fn after(event: &RecordedEvent) -> Head {
        Head { position: event.position, hash: event.hash, recorded_at: event.recorded_at }
    }
}

/// The stored facts an append is checked against. A backend answers from its storage plus the
/// writes it has planned but not yet committed.
pub trait AppendIndex {
    /// The stream's last version; 0 when it has no events.
    fn stream_version(&mut self, stream_id: &str) -> Result<u64, StoreError>;
    fn position_of(&mut self, event_id: Uuid) -> Result<Option<u64>, StoreError>;
}

/// What an append comes to.
#[derive(Debug)]
pub enum Plan {
    /// New events to write, chained to the head.
    Write(Vec<RecordedEvent>),
    /// Every event id is stored already (a retry): these are their positions, nothing is written.
    AlreadyStored(Vec<u64>),
}

/// Checks an append against limits, idempotency and the expected version, and builds the events
/// that continue the chain from `head` (which it advances).
///
/// Idempotency comes before the version check, so a retry of a successful append is answered
/// with its original result rather than a conflict.
pub fn plan_append(
    index: &mut dyn AppendIndex,
    head: &mut Head,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    now: Timestamp,
) -> Result<Plan, StoreError> {
    limits::check_append(stream_id, &events)?;
    let mut stored = Vec::with_capacity(events.len());
    for e in &events {
        if let Some(position) = index.position_of(e.event_id)? {
            stored.push(position);
        }
    }
    if stored.len() == events.len() {
        return Ok(Plan::AlreadyStored(stored));
    }
    if !stored.is_empty() {
        let dup = events.iter().find(|e| index.position_of(e.event_id).ok().flatten().is_some());
        return Err(StoreError::DuplicateEventId {
            event_id: dup.map(|e| e.event_id).unwrap_or_default(),
            reason: "while other events of this append are not".into(),
        });
    }
    let actual = index.stream_version(stream_id)?;
    let ok = match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual == 0,
        ExpectedVersion::Exact(v) => actual == v,
    };
    if !ok {
        return Err(StoreError::Conflict { stream_id: stream_id.to_owned(), expected, actual });
    }
    // Time never runs backwards along the log, even when the clock does.
    let recorded_at = now.max(head.recorded_at);
    let mut out = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let mut rec = RecordedEvent {
            position: head.position + 1,
            event_id: e.event_id,
            stream_id: stream_id.to_owned(),
            version: actual + 1 + i as u64,
            event_type: e.event_type,
            schema_version: e.schema_version,
            recorded_at,
            actor: e.actor,
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            data: e.data,
            prev_hash: head.hash,
            hash: EventHash::GENESIS,
        };
        rec.hash = event_hash(&rec);
        *head = Head::after(&rec);
        out.push(rec);
    }
    Ok(Plan::Write(out))
}

/// Checks that the events stored for a retried append are the ones the retry names.
pub fn check_retry(stream_id: &str, events: &[NewEvent], stored: &[RecordedEvent]) -> Result<(), StoreError> {
    for (new, old) in events.iter().zip(stored) {
        if old.event_id != new.event_id || old.stream_id != stream_id || old.event_type != new.event_type {
            return Err(StoreError::DuplicateEventId {
                event_id: new.event_id,
                reason: format!("as a `{}` event in stream `{}`", old.event_type, old.stream_id),
            });
        }
    }
    Ok(())
}

/// Checks that `event` continues the log at `head`, given its stream's current version. The
/// message names what is wrong.
pub fn check_link(head: &Head, stream_version: u64, event: &RecordedEvent) -> Result<(), String> {
    if event.position != head.position + 1 {
        return Err(format!("expected position {}, found position {}", head.position + 1, event.position));
    }
    if event.prev_hash != head.hash {
        return Err(format!(
            "the previous-hash link is {}, but the event before it has hash {}",
            event.prev_hash, head.hash
        ));
    }
    if event.version != stream_version + 1 {
        return Err(format!(
            "stream `{}` should continue at version {}, the event says version {}",
            event.stream_id,
            stream_version + 1,
            event.version
        ));
    }
    let computed = event_hash(event);
    if event.hash != computed {
        return Err(format!(
            "the content does not match its hash (stored {}, computed {computed})",
            event.hash
        ));
    }
    // Appends never let time run backwards along the log (`plan_append`); time cuts (time
    // travel, the audit index's time ranges) rely on it, so a continuation must not either.
    if event.recorded_at < head.recorded_at {
        return Err(format!(
            "it was recorded at {}, before the event before it ({})",
            event.recorded_at, head.recorded_at
        ));
    }
    Ok(())
}

/// Checks that already-hashed events (an import, a copy) continue the log at `head`.
pub fn plan_continuation(
    index: &mut dyn AppendIndex,
    head: &mut Head,
    events: &[RecordedEvent],
    pending_versions: &mut HashMap<String, u64>,
) -> Result<(), StoreError> {
    for e in events {
        limits::check_stream_id(&e.stream_id)?;
        let version = match pending_versions.get(&e.stream_id) {
            Some(&v) => v,
            None => index.stream_version(&e.stream_id)?,
        };
        check_link(head, version, e)
            .map_err(|reason| StoreError::ChainBroken { position: head.position + 1, reason })?;
        if index.position_of(e.event_id)?.is_some() {
            return Err(StoreError::ChainBroken {
                position: e.position,
                reason: format!("event id {} is already stored", e.event_id),
            });
        }
        pending_versions.insert(e.stream_id.clone(), e.version);
        *head = Head::after(e);
    }
    Ok(())
}

/// Walks a log from its start and finds the first event that breaks the chain.
/// Keeps every stream's last version in memory (see ARCHITECTURE.md, "What must fit in memory").
#[derive(Debug, Default)]
pub struct ChainVerifier {
    head: Option<Head>,
    versions: HashMap<String, u64>,
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn head(&self) -> Head {
        self.head.unwrap_or(Head::EMPTY)
    }

    /// Checks the next event. On an error the verifier is unchanged.
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), String> {
        let head = self.head();
        let version = self.versions.get(event.stream_id.as_str()).copied().unwrap_or(0);
        check_link(&head, version, event)?;
        match self.versions.get_mut(event.stream_id.as_str()) {
            Some(v) => *v = event.version,
            None => {
                self.versions.insert(event.stream_id.clone(), event.version);
            }
        }
        self.head = Some(Head::after(event));
        Ok(())
    }
}
