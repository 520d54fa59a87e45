//! The events of a rollout: facts in past tense. Their stored type names and schema versions are
//! explicit strings, never derived from Rust names, so a rename does not break old logs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Evidence as recorded: field id → value (validated against the field's type when recorded).
pub type Evidence = BTreeMap<String, serde_json::Value>;

/// Everything that can happen to a rollout.
///
/// Each variant's serde name is its stored type name, an explicit string: renaming a variant
/// changes neither what is stored nor how it is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum RolloutEvent {
    #[serde(rename = "RolloutStarted")]
    Started(RolloutStarted),
    #[serde(rename = "StepStarted")]
    StepStarted { step: String },
    #[serde(rename = "StepCompleted")]
    StepCompleted(StepCompleted),
    #[serde(rename = "StepConfirmed")]
    StepConfirmed { step: String, comment: Option<String> },
    /// `dependents`: steps reopened with it because they depend on it.
    #[serde(rename = "StepReopened")]
    StepReopened { step: String, reason: String, dependents: Vec<String> },
    #[serde(rename = "StepMarkedNotRequired")]
    StepMarkedNotRequired { step: String, reason: String },
    /// `block`: its category, vendor and step (absent in events before blockages had them).
    #[serde(rename = "RolloutBlocked")]
    Blocked {
        reason: String,
        #[serde(default, flatten)]
        block: Blockage,
    },
    /// `solution`: how it was solved, for the network's search (the block's category, vendor,
    /// step and reason copied, so the event says it whole); `share_name`: the administration's
    /// staff agreed that the network names it beside the solution.
    #[serde(rename = "RolloutUnblocked")]
    Unblocked {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        solution: Option<Solution>,
    },
    /// A project manager escalated a group of blockages (a category, a vendor) with a reason;
    /// recorded on every affected rollout's history.
    #[serde(rename = "BlockageEscalated")]
    Escalated {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vendor: Option<String>,
    },
    #[serde(rename = "CommentAdded")]
    CommentAdded { text: String, step: Option<String> },
    /// `reason`: why (events before it was asked for have none).
    #[serde(rename = "RolloutAssigned")]
    Assigned {
        assignee: Option<String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// A due date set by hand (Unix microseconds), replacing the one from the deadline.
    #[serde(rename = "DueDateSet")]
    DueDateSet { step: String, due_at: i64, reason: String },
    #[serde(rename = "DefinitionMigrated")]
    DefinitionMigrated(DefinitionMigrated),
    #[serde(rename = "RolloutCancelled")]
    Cancelled { reason: String },
    /// A step of the service's Land-level rollout was completed (or reopened: `done` false).
    #[serde(rename = "LandStepChanged")]
    LandStepChanged { step: String, done: bool },
    /// A step's due date passed while it was open (appended once by the system).
    #[serde(rename = "StepOverdue")]
    StepOverdue { step: String, due_at: i64 },
    /// A territorial change ended this rollout: its administration was dissolved; `to_ars` is
    /// the successor that took it over, if one did.
    #[serde(rename = "RolloutTransferred")]
    Transferred { to_ars: Option<String>, reason: String },
    /// This rollout took over the progress of a dissolved administration's rollout. Steps whose
    /// evidence named the old ARS, and the steps depending on them, are not taken (`reopened`).
    #[serde(rename = "RolloutTakenOver")]
    TakenOver(TakenOver),
    /// A step's condition reads recorded evidence, and now holds (`applies`) or not: recorded
    /// after the completion or reopening that changed it, with the values it was decided on.
    #[serde(rename = "StepApplicabilityChanged")]
    ApplicabilityChanged { step: String, applies: bool, because: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TakenOver {
    pub from_ars: String,
    pub reason: String,
    pub steps: Vec<TakenStep>,
    pub reopened: Vec<String>,
}

/// The categories of a blockage.
pub const BLOCK_CATEGORIES: &[&str] =
    &["fachverfahren", "vertrag_recht", "technik", "personal", "finanzierung", "land_bund", "sonstiges"];

/// What a blockage is about, besides its reason: a category (one of [`BLOCK_CATEGORIES`]), the
/// vendor of the back-office system or product that blocks it, the step it holds up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blockage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// How a blockage was solved (a work note, no personal data), with what it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Solution {
    pub text: String,
    /// The block's reason.
    pub problem: String,
    #[serde(default, flatten)]
    pub block: Blockage,
    /// The administration may be named beside the solution.
    #[serde(default)]
    pub share_name: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TakenStep {
    pub step: String,
    /// `done` or `not_required`.
    pub status: String,
    pub evidence: Evidence,
    pub comment: Option<String>,
    pub completed_by: Option<vocab::Actor>,
    /// Unix microseconds.
    pub completed_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStarted {
    pub service_key: String,
    pub ars: String,
    pub definition_id: String,
    pub definition_version: u32,
    pub definition_hash: String,
    /// Steps whose condition does not hold for this administration and service.
    pub not_applicable: Vec<String>,
    /// Land-level steps already completed when the rollout started.
    pub land_steps_done: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepCompleted {
    pub step: String,
    pub evidence: Evidence,
    pub comment: Option<String>,
    /// The step needs a second person's confirmation before it counts as done.
    pub awaiting_confirmation: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionMigrated {
    /// The definition moved to, when it is another one than the rollout ran (a service's
    /// variant); absent: a newer version of the same definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_id: Option<String>,
    pub from_version: u32,
    pub to_version: u32,
    pub to_hash: String,
    /// Old step id → new step id, for every step whose progress carries over.
    pub mapping: BTreeMap<String, String>,
    /// Steps of the new version whose condition does not hold.
    pub not_applicable: Vec<String>,
    /// Why it was moved, when the caller said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RolloutEvent {
    /// The stored type name and schema version.
    pub fn stored_type(&self) -> (&'static str, u32) {
        let name = match self {
            RolloutEvent::Started(_) => "RolloutStarted",
            RolloutEvent::StepStarted { .. } => "StepStarted",
            RolloutEvent::StepCompleted(_) => "StepCompleted",
            RolloutEvent::StepConfirmed { .. } => "StepConfirmed",
            RolloutEvent::StepReopened { .. } => "StepReopened",
            RolloutEvent::StepMarkedNotRequired { .. } => "StepMarkedNotRequired",
            RolloutEvent::Blocked { .. } => "RolloutBlocked",
            RolloutEvent::Unblocked { .. } => "RolloutUnblocked",
            RolloutEvent::Escalated { .. } => "BlockageEscalated",
            RolloutEvent::CommentAdded { .. } => "CommentAdded",
            RolloutEvent::Assigned { .. } => "RolloutAssigned",
            RolloutEvent::DueDateSet { .. } => "DueDateSet",
            RolloutEvent::DefinitionMigrated(_) => "DefinitionMigrated",
            RolloutEvent::Cancelled { .. } => "RolloutCancelled",
            RolloutEvent::LandStepChanged { .. } => "LandStepChanged",
            RolloutEvent::StepOverdue { .. } => "StepOverdue",
            RolloutEvent::Transferred { .. } => "RolloutTransferred",
            RolloutEvent::TakenOver(_) => "RolloutTakenOver",
            RolloutEvent::ApplicabilityChanged { .. } => "StepApplicabilityChanged",
        };
        (name, 1)
    }

    /// The payload as stored: the variant's fields, without the enum's tag (the tag is the
    /// envelope's event type).
    pub fn to_payload(&self) -> serde_json::Value {
        untagged_payload(self)
    }

    /// Every stored type name and its schema version (a test holds them to
    /// `schema/event-types.txt`).
    pub const STORED_TYPES: &'static [(&'static str, u32)] = &[
        ("RolloutStarted", 1),
        ("StepStarted", 1),
        ("StepCompleted", 1),
        ("StepConfirmed", 1),
        ("StepReopened", 1),
        ("StepMarkedNotRequired", 1),
        ("RolloutBlocked", 1),
        ("RolloutUnblocked", 1),
        ("BlockageEscalated", 1),
        ("CommentAdded", 1),
        ("RolloutAssigned", 1),
        ("DueDateSet", 1),
        ("DefinitionMigrated", 1),
        ("RolloutCancelled", 1),
        ("LandStepChanged", 1),
        ("StepOverdue", 1),
        ("RolloutTransferred", 1),
        ("RolloutTakenOver", 1),
        ("StepApplicabilityChanged", 1),
    ];

    /// Reads a stored event back from its type name, schema version and payload.
    pub fn from_stored(event_type: &str, schema_version: u32, payload: &str) -> Result<RolloutEvent, String> {
        if !Self::STORED_TYPES.iter().any(|(name, _)| *name == event_type) {
            return Err(format!("unknown rollout event type `{event_type}`"));
        }
        from_tagged_payload(event_type, event_type, schema_version, payload)
    }
}

/// The fields of an externally tagged enum variant, without the tag: events store their type
/// name in the envelope, so the payload holds only the fields.
pub fn untagged_payload<T: Serialize>(event: &T) -> serde_json::Value {
    match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(mut map)) if map.len() == 1 => {
            map.values_mut().next().map(std::mem::take).unwrap_or_default()
        }
        _ => serde_json::Value::Null,
    }
}

/// Reads a variant back from its serde tag and stored payload (schema version 1).
pub fn from_tagged_payload<T: serde::de::DeserializeOwned>(
    event_type: &str,
    tag: &str,
    schema_version: u32,
    payload: &str,
) -> Result<T, String> {
    if schema_version != 1 {
        return Err(format!(
            "`{event_type}` has schema version {schema_version}; this build reads version 1"
        ));
    }
    // `{"tag": payload}`, parsed in one pass (the tag is one of our own names, no escaping).
    let mut wrapped = String::with_capacity(payload.len() + tag.len() + 5);
    wrapped.push_str("{\"");
    wrapped.push_str(tag);
    wrapped.push_str("\":");
    wrapped.push_str(payload);
    wrapped.push('}');
    serde_json::from_str(&wrapped).map_err(|e| format!("`{event_type}`: {e}"))
}
