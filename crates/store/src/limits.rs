//! Every limit of the event store, in one place. A violation is a [`StoreError::Limit`] or
//! [`StoreError::Invalid`] and writes nothing.

use crate::{NewEvent, StoreError};

/// Bytes of one event's JSON payload.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// Events in one append.
pub const EVENTS_PER_APPEND_MAX: usize = 1_000;
/// Payload bytes of all events in one append.
pub const APPEND_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Bytes of a stream id.
pub const STREAM_ID_BYTES_MAX: usize = 200;
/// Bytes of an event type name.
pub const EVENT_TYPE_BYTES_MAX: usize = 100;
/// Bytes of an actor's id or display name.
pub const ACTOR_FIELD_BYTES_MAX: usize = 200;
/// Events one read call returns at most; larger requests are cut to this.
pub const READ_BATCH_MAX: usize = 10_000;
/// Appends one group commit takes at most (every backend's writer).
pub const GROUP_APPENDS_MAX: usize = 1_024;
/// Payload bytes one group commit takes at most, counted as appends join it (so a group can
/// exceed it by one append's bytes, at most [`APPEND_BYTES_MAX`]).
pub const GROUP_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Appends waiting for a backend's writer at most; a caller past it waits for room.
pub const WRITE_QUEUE_DEPTH: usize = 8_192;
/// Bytes of one stored chunk of a [`crate::Blobs`] value (PostgreSQL: one `bytea` row; a
/// single field must stay well under PostgreSQL's 1 GB limit).
pub const BLOB_CHUNK_BYTES: usize = 32 * 1024 * 1024;
/// Committed batches a live subscriber may lag behind before it reads the log instead.
pub const LIVE_CHANNEL_BATCHES: usize = 1_024;

/// Stream ids are ASCII letters, digits and `- _ . : / @`, e.g. `rollout-wohngeld:120540000000`.
pub fn check_stream_id(stream_id: &str) -> Result<(), StoreError> {
    let invalid =
        |reason: String| Err(StoreError::InvalidStreamId { stream_id: printable(stream_id), reason });
    if stream_id.is_empty() {
        return invalid("it is empty".into());
    }
    if stream_id.len() > STREAM_ID_BYTES_MAX {
        return invalid(format!(
            "it has {} bytes, at most {STREAM_ID_BYTES_MAX} are allowed",
            stream_id.len()
        ));
    }
    if let Some((i, c)) =
        stream_id.char_indices().find(|&(_, c)| !(c.is_ascii_alphanumeric() || "-_.:/@".contains(c)))
    {
        return invalid(format!(
            "character {c:?} at byte {i} is not allowed (ASCII letters, digits and - _ . : / @ are)"
        ));
    }
    Ok(())
}

/// Checks an append of already-recorded events (import, copy) before anything is written.
pub fn check_recorded(events: &[crate::RecordedEvent]) -> Result<(), StoreError> {
    if events.len() > EVENTS_PER_APPEND_MAX {
        return Err(StoreError::Limit {
            what: "events per append",
            max: EVENTS_PER_APPEND_MAX as u64,
            actual: events.len() as u64,
        });
    }
    Ok(())
}

/// Checks an append before anything is written.
pub fn check_append(stream_id: &str, events: &[NewEvent]) -> Result<(), StoreError> {
    check_stream_id(stream_id)?;
    if events.is_empty() {
        return Err(StoreError::Invalid("an append needs at least one event".into()));
    }
    if events.len() > EVENTS_PER_APPEND_MAX {
        return Err(StoreError::Limit {
            what: "events per append",
            max: EVENTS_PER_APPEND_MAX as u64,
            actual: events.len() as u64,
        });
    }
    let mut total = 0usize;
    for (i, e) in events.iter().enumerate() {
        check_event(i, e)?;
        total += e.data.len();
    }
    if total > APPEND_BYTES_MAX {
        return Err(StoreError::Limit {
            what: "payload bytes per append",
            max: APPEND_BYTES_MAX as u64,
            actual: total as u64,
        });
    }
    let mut ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(StoreError::Invalid(format!("event id {} appears twice in one append", w[0])));
    }
    Ok(())
}

fn check_event(index: usize, e: &NewEvent) -> Result<(), StoreError> {
    let at = |msg: String| StoreError::Invalid(format!("event {index} of the append: {msg}"));
    if e.data.len() > PAYLOAD_BYTES_MAX {
        return Err(StoreError::Limit {
            what: "payload bytes of one event",
            max: PAYLOAD_BYTES_MAX as u64,
            actual: e.data.len() as u64,
        });
    }
    if e.event_type.is_empty()
        || e.event_type.len() > EVENT_TYPE_BYTES_MAX
        || !e.event_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(at(format!(
            "event type {:?} must be 1 to {EVENT_TYPE_BYTES_MAX} ASCII letters, digits, `_` or `.`",
            printable(&e.event_type)
        )));
    }
    // A registered person's events carry no display name (it is read from the person's record).
    let name_min = if e.actor.person.is_some() { 0 } else { 1 };
    for (name, value, min) in [("actor id", &e.actor.id, 1), ("actor name", &e.actor.name, name_min)] {
        if value.len() < min || value.len() > ACTOR_FIELD_BYTES_MAX {
            return Err(at(format!("{name} must have {min} to {ACTOR_FIELD_BYTES_MAX} bytes")));
        }
    }
    if e.event_id.is_nil() {
        return Err(at("the event id is the nil UUID".into()));
    }
    Ok(())
}

/// At most 80 characters of untrusted text, for error messages.
fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
