use uuid::Uuid;

use crate::ExpectedVersion;

/// What can go wrong in the store. Expected failures (conflict, bad input, limits) are typed;
/// `Io` and `Corrupt` are the store's own trouble.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("stream `{stream_id}` was expected at {expected}, but it is at version {actual}")]
    Conflict { stream_id: String, expected: ExpectedVersion, actual: u64 },
    #[error("invalid stream id `{stream_id}`: {reason}")]
    InvalidStreamId { stream_id: String, reason: String },
    #[error("{what} is limited to {max}, this has {actual}")]
    Limit { what: &'static str, max: u64, actual: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "event {event_id} is already stored {reason}; a retried append must repeat the original exactly"
    )]
    DuplicateEventId { event_id: Uuid, reason: String },
    #[error("the log does not continue at position {position}: {reason}")]
    ChainBroken { position: u64, reason: String },
    #[error("stored data is corrupt at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    #[error("the store is not empty (it holds {events} events)")]
    NotEmpty { events: u64 },
    #[error("{0}")]
    Locked(String),
    #[error("storage error: {0}")]
    Io(String),
    /// The store cannot write now (full disk, a failed write it has not recovered from, a lost
    /// database connection); nothing of the refused append was stored. Reads still work.
    #[error("the store cannot write now: {0}")]
    Unavailable(String),
    #[error("the store is shut down")]
    Closed,
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}
