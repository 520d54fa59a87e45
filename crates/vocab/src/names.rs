//! The names the log is read by, in one place: every stream's name (or the prefix of a family
//! of streams) and the stored event type names that code outside their own family's module
//! matches on. Each family's events are decoded in its own module (`workflow::events`,
//! `catalog::events`, `engine::tokens`, `engine::persons`, `engine::questions`,
//! `engine::profile`, `workflow::registry`); the full list of stored type names is
//! `schema/event-types.txt`, held to the code by a test.

/// One rollout: `rollout-<serviceKey>:<ARS>`.
pub const ROLLOUT_STREAM_PREFIX: &str = "rollout-";
/// A rollout's question threads: `questions-<serviceKey>:<ARS>`.
pub const QUESTION_STREAM_PREFIX: &str = "questions-";
/// An administration of the catalogue: `authority-<ARS>`.
pub const AUTHORITY_STREAM_PREFIX: &str = "authority-";
/// A service of the catalogue: `service-<key>`.
pub const SERVICE_STREAM_PREFIX: &str = "service-";
/// An API token: `token-<id>`.
pub const TOKEN_STREAM_PREFIX: &str = "token-";
/// A person: `person-<id>`.
pub const PERSON_STREAM_PREFIX: &str = "person-";
/// A workflow definition's versions: `definition-<id>`.
pub const DEFINITION_STREAM_PREFIX: &str = "definition-";
/// The targets of services and programmes (`TargetSet`).
pub const TARGETS_STREAM: &str = "targets";
/// The Land's profile (one event, at `init`).
pub const PROFILE_STREAM: &str = "profile";
/// A re-keyed copy's first event.
pub const STORE_COPY_STREAM: &str = "store-copy";

/// A blockage ended (with the solution, if one was recorded): the network's solutions index.
pub const ROLLOUT_UNBLOCKED: &str = "RolloutUnblocked";
/// An administration's back-office system was recorded: the network changed.
pub const BACK_OFFICE_SYSTEM_SET: &str = "BackOfficeSystemSet";
