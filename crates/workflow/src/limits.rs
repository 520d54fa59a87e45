//! Every limit of the domain, in one place: definition files, the condition language, evidence
//! and the texts of commands. A violation is a diagnostic (definitions) or a `Rejection`
//! (commands) that names the limit; nothing is stored.

/// Bytes of one definition file at most.
pub const DEFINITION_BYTES_MAX: usize = 1024 * 1024;
/// Phases of one definition at most.
pub const PHASES_MAX: usize = 30;
/// Steps of one definition at most.
pub const STEPS_MAX: usize = 300;
/// Evidence fields of one step at most.
pub const FIELDS_PER_STEP_MAX: usize = 30;
/// Dependencies of one step at most.
pub const DEPENDENCIES_PER_STEP_MAX: usize = 30;

/// Characters of one condition at most.
pub const CONDITION_CHARS_MAX: usize = 2_000;
/// Nesting depth of one condition at most.
pub const CONDITION_DEPTH_MAX: usize = 32;
/// Literals in one `in` list of a condition at most.
pub const LIST_ITEMS_MAX: usize = 100;

/// Characters of a text evidence value at most.
pub const EVIDENCE_TEXT_CHARS_MAX: usize = 10_000;
/// Characters of a document reference (evidence) at most.
pub const DOCUMENT_REF_CHARS_MAX: usize = 500;

/// Characters of a command's reason or comment (block, reopen, cancel, comment, ...) at most.
pub const NOTE_CHARS_MAX: usize = 4_000;
