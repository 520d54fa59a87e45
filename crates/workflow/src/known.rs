//! What a fold of the log learns definitions from, below both the registry (which learns
//! them) and the rollout's state (which is folded with them): the publication's payload, the
//! fields a re-keyed copy made persons, when and by whom an event happened, and the trait a
//! fold asks for a definition.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vocab::{Actor, Timestamp};

use crate::definition::Definition;

/// The stored type name and schema version of a publication.
pub const DEFINITION_PUBLISHED: (&str, u32) = ("DefinitionPublished", 1);

/// A definition was published: its whole text and what it was checked to be. Who and when are
/// the event's actor and time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionPublished {
    pub id: String,
    pub version: u32,
    /// BLAKE3 of `source`, as `RolloutStarted.definitionHash` names it.
    pub content_hash: String,
    pub source: String,
    pub reason: String,
    /// For a variant (`extends`): the base it was resolved against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseRef>,
}

/// The base a variant was resolved against: id, version and content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseRef {
    pub id: String,
    pub version: u32,
    pub content_hash: String,
}

impl BaseRef {
    pub fn name(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

impl DefinitionPublished {
    pub fn to_payload(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn from_payload(schema_version: u32, payload: &str) -> Result<DefinitionPublished, String> {
        if schema_version != DEFINITION_PUBLISHED.1 {
            return Err(format!(
                "`DefinitionPublished` has schema version {schema_version}; this build reads version 1"
            ));
        }
        serde_json::from_str(payload).map_err(|e| format!("`DefinitionPublished`: {e}"))
    }
}

/// One evidence field of one definition version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    pub definition: String,
    pub version: u32,
    pub step: String,
    pub field: String,
}

/// Finds a definition by id and version (the registry keeps every version ever published).
pub trait Definitions {
    fn get(&self, id: &str, version: u32) -> Option<Arc<Definition>>;

    /// A fold of the log met a publication: from now on `get` finds it. The default ignores it
    /// (a fixed set of definitions, as in tests).
    fn learn(&self, _published: &DefinitionPublished, _meta: &Meta<'_>) -> Result<(), String> {
        Ok(())
    }

    /// A fold met a re-keyed copy's first event (`StoreCopied`): these text fields hold person
    /// ids from now on. The default ignores it.
    fn learn_person_fields(&self, _fields: &[FieldRef]) {}
}

/// What the store adds to each event: when, and by whom (borrowed from the recorded event).
#[derive(Clone, Copy, Debug)]
pub struct Meta<'a> {
    pub at: Timestamp,
    pub actor: &'a Actor,
}
