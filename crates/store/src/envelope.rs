//! The event envelope: what every stored event carries besides its payload.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
pub use vocab::{Actor, ActorKind, Timestamp};

/// blake3 hash of an event (its content and its predecessor's hash). Printed as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventHash(pub [u8; 32]);

impl EventHash {
    /// The predecessor hash of the first event in a log.
    pub const GENESIS: EventHash = EventHash([0; 32]);
}

impl fmt::Display for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventHash({self})")
    }
}

impl FromStr for EventHash {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(format!("a hash has 64 hex digits, `{s}` has {}", bytes.len()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            match (hex(pair[0]), hex(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
                _ => return Err(format!("`{s}` is not lowercase hex")),
            }
        }
        Ok(EventHash(out))
    }
}

impl Serialize for EventHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// JSON text that was valid when it was appended. Kept as text so that reading the log does not
/// parse payloads, and so that the exported bytes are the hashed bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Json(Box<str>);

impl Json {
    /// Checks that `text` is one JSON value.
    pub fn parse(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(Json(text.into_boxed_str()))
    }

    pub fn from_value(value: &serde_json::Value) -> Self {
        Json(value.to_string().into_boxed_str())
    }

    /// Serializes any payload type.
    pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Json(serde_json::to_string(value)?.into_boxed_str()))
    }

    /// Text read back from storage, already covered by the event's hash.
    pub(crate) fn from_stored(text: String) -> Self {
        Json(text.into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Deserializes the payload into its typed form.
    pub fn decode<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Ok(Json(String::from(Box::<str>::from(raw)).into_boxed_str()))
    }
}

/// An event as a writer hands it to the store.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// UUID v7, made by the caller: a retried append with the same ids is applied once.
    pub event_id: Uuid,
    /// Stored name of the event type, an explicit string (never derived from a Rust identifier).
    pub event_type: String,
    /// Version of the payload's schema for this event type.
    pub schema_version: u32,
    pub actor: Actor,
    /// Ties together all events caused by one request.
    pub correlation_id: Uuid,
    /// The event or request that caused this one.
    pub causation_id: Option<Uuid>,
    pub data: Json,
}

/// An event as stored: the envelope the store adds, and the writer's event.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedEvent {
    /// Global position, 1-based, dense, in commit order.
    pub position: u64,
    pub event_id: Uuid,
    pub stream_id: String,
    /// Version within the stream, 1-based, dense.
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: u32,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub data: Json,
    pub prev_hash: EventHash,
    pub hash: EventHash,
}

/// The version a writer expects the stream to have before its append.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version (1-based).
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Which way to read a stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    Forward,
    Backward,
}

impl NewEvent {
    /// An event with a fresh UUID v7 id and no causation.
    pub fn new(
        event_type: &str,
        schema_version: u32,
        data: Json,
        actor: Actor,
        correlation_id: Uuid,
    ) -> Self {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.to_owned(),
            schema_version,
            actor,
            correlation_id,
            causation_id: None,
            data,
        }
    }
}
