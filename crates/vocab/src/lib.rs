//! The words every layer of efa-rollout shares: who did something ([`Actor`], [`ActorKind`]) and
//! when ([`Timestamp`]). Plain data with their text forms; no IO and no clock, so the pure
//! domain (`workflow`, `catalog`) can use them without depending on the event store.

pub mod names;
pub mod text;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch, UTC. Printed as RFC 3339 with six fractional digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    pub const fn unix_micros(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = i128::from(self.0) * 1_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.microsecond()
            ),
            Err(_) => write!(f, "@{}us", self.0),
        }
    }
}

impl FromStr for Timestamp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("`{s}` is not an RFC 3339 time: {e}"))?;
        let micros = t.unix_timestamp_nanos() / 1_000;
        i64::try_from(micros).map(Timestamp).map_err(|_| format!("`{s}` is out of range"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Who caused an event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Person,
    Automation,
    System,
}

impl ActorKind {
    /// The byte the stored event layout uses for the kind.
    pub fn code(self) -> u8 {
        match self {
            ActorKind::Person => 1,
            ActorKind::Automation => 2,
            ActorKind::System => 3,
        }
    }

    /// The kind of a stored byte, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(ActorKind::Person),
            2 => Some(ActorKind::Automation),
            3 => Some(ActorKind::System),
            _ => None,
        }
    }
}

/// The principal an event is recorded for: a person, an automation token or the system itself.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    /// The display name as recorded. Empty when the actor is a registered person
    /// ([`Actor::person`]): the name is then read from the person's record, where it is
    /// encrypted and erasable, and never stored in the event itself.
    pub name: String,
    pub kind: ActorKind,
    /// The registered person this actor is (a token that names its person), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<uuid::Uuid>,
}

impl Actor {
    /// An actor known by its recorded name only.
    pub fn named(id: impl Into<String>, name: impl Into<String>, kind: ActorKind) -> Self {
        Actor { id: id.into(), name: name.into(), kind, person: None }
    }

    pub fn system() -> Self {
        Actor::named("system", "efa-rollout", ActorKind::System)
    }
}
