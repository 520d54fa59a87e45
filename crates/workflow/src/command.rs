//! What `decide` is asked and answers: who acts (`Principal`), the time and facts it decides
//! with (`Context`), every command on a rollout, and every rejection with its reason.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use vocab::{Actor, ActorKind, Timestamp};

use crate::condition::Facts;
use crate::definition::{Definition, Role};
use crate::events::Evidence;
use crate::limits::NOTE_CHARS_MAX;
use crate::rollout::Rollout;

/// Who acts, with the roles the domain checks (scope — which administrations and services a
/// token may touch — is checked by the API before a command gets here).
#[derive(Clone, Debug)]
pub struct Principal {
    pub actor: Actor,
    pub roles: Vec<Role>,
    /// The Land-level and migration commands need a project manager or admin.
    pub admin: bool,
}

impl Principal {
    pub(crate) fn is_automation(&self) -> bool {
        self.actor.kind == ActorKind::Automation
    }

    pub(crate) fn is_system(&self) -> bool {
        self.actor.kind == ActorKind::System
    }

    /// An admin, the system or a project manager: may manage rollouts (block, cancel, migrate…).
    pub fn manages(&self) -> bool {
        self.admin || self.is_system() || self.roles.contains(&Role::ProjectManager)
    }
}

/// What a command is decided with besides the state.
#[derive(Clone, Debug)]
pub struct Context {
    pub principal: Principal,
    pub now: Timestamp,
    /// The administration's and the service's facts, for conditions decided while the rollout
    /// runs (those that read recorded evidence).
    pub facts: Facts,
}

#[derive(Clone, Debug)]
pub enum Command {
    /// Start the rollout of a service at an administration with a definition; `facts` decide
    /// which conditional steps apply.
    Start {
        service_key: String,
        ars: String,
        definition: Arc<Definition>,
        facts: Facts,
        land_steps_done: Vec<String>,
    },
    StartStep {
        step: String,
    },
    CompleteStep {
        step: String,
        evidence: Evidence,
        comment: Option<String>,
    },
    ConfirmStep {
        step: String,
        comment: Option<String>,
    },
    ReopenStep {
        step: String,
        reason: String,
    },
    MarkNotRequired {
        step: String,
        reason: String,
    },
    Block {
        reason: String,
        /// Category (one of `events::BLOCK_CATEGORIES`), vendor and step; all optional.
        block: crate::events::Blockage,
    },
    Unblock {
        reason: String,
        /// How it was solved (for the network's search), and whether the administration may be
        /// named beside it.
        solution: Option<String>,
        share_name: bool,
    },
    /// Record a project manager's escalation of a group of blockages on this blocked rollout.
    Escalate {
        reason: String,
        category: Option<String>,
        vendor: Option<String>,
    },
    Comment {
        text: String,
        step: Option<String>,
    },
    Assign {
        assignee: Option<String>,
        reason: String,
    },
    SetDueDate {
        step: String,
        due_at: Timestamp,
        reason: String,
    },
    /// Move to a newer version of the same definition, or to another definition of the same
    /// scope (a service's variant); `mapping` adds old → new step ids to those that keep their
    /// id.
    Migrate {
        definition: Arc<Definition>,
        mapping: BTreeMap<String, String>,
        facts: Facts,
        /// Why (recorded with the event; optional).
        reason: Option<String>,
    },
    Cancel {
        reason: String,
    },
    /// A step of the service's Land-level rollout was completed or reopened.
    RecordLandStep {
        step: String,
        done: bool,
    },
    /// Record that a step's due date has passed (the deadline policy sends this).
    RecordOverdue {
        step: String,
    },
    /// End this rollout because its administration was dissolved (territorial change).
    Transfer {
        to_ars: Option<String>,
        reason: String,
    },
    /// Take over the progress of `from`, the rollout of a dissolved administration `from.ars`.
    TakeOver {
        from: Box<Rollout>,
        reason: String,
    },
}

/// Why a command was refused. Each says what is wrong in words a user understands.
#[derive(Clone, Debug, PartialEq)]
pub enum Rejection {
    NotStarted,
    AlreadyStarted,
    Cancelled,
    Blocked {
        reason: String,
    },
    UnknownStep {
        step: String,
    },
    NotApplicable {
        step: String,
    },
    StepNotReady {
        step: String,
        missing: Vec<String>,
    },
    RoleNotAllowed {
        step: String,
        allowed: Vec<Role>,
        automatable: bool,
    },
    NotAllowed {
        what: String,
    },
    EvidenceInvalid {
        step: String,
        problems: Vec<(String, String)>,
    },
    AlreadyCompleted {
        step: String,
    },
    NotCompleted {
        step: String,
    },
    NotAwaitingConfirmation {
        step: String,
    },
    SamePersonConfirms {
        step: String,
    },
    NotSkippable {
        step: String,
    },
    TextRequired {
        what: String,
    },
    TextTooLong {
        what: String,
    },
    NotBlocked,
    AlreadyBlocked,
    Migration {
        problems: Vec<String>,
    },
    WrongScope {
        what: String,
    },
    NothingToDo {
        what: String,
    },
    CannotTakeOver {
        why: String,
    },
    /// A value that is not one of those allowed; `what` names it and the allowed ones.
    Invalid {
        what: String,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotStarted => write!(f, "the rollout has not been started"),
            Rejection::AlreadyStarted => write!(f, "the rollout is already started"),
            Rejection::Cancelled => write!(f, "the rollout is cancelled"),
            Rejection::Blocked { reason } => write!(f, "the rollout is blocked ({reason}); unblock it first"),
            Rejection::UnknownStep { step } => {
                write!(f, "there is no step `{step}` in this rollout's definition")
            }
            Rejection::NotApplicable { step } => write!(f, "step `{step}` does not apply to this rollout"),
            Rejection::StepNotReady { step, missing } => {
                write!(f, "step `{step}` is not ready: it waits for {}", missing.join(", "))
            }
            Rejection::RoleNotAllowed { step, allowed, automatable } => {
                let mut who: Vec<&str> = allowed.iter().map(|r| r.name()).collect();
                if *automatable {
                    who.push("automation");
                }
                write!(
                    f,
                    "your role may not complete step `{step}`; it may be completed by: {}",
                    who.join(", ")
                )
            }
            Rejection::NotAllowed { what } => write!(f, "{what} needs a project manager"),
            Rejection::Invalid { what } => write!(f, "not a valid {what}"),
            Rejection::EvidenceInvalid { step, problems } => {
                let list: Vec<String> =
                    problems.iter().map(|(field, why)| format!("`{field}` {why}")).collect();
                write!(f, "evidence for step `{step}` is invalid: {}", list.join("; "))
            }
            Rejection::AlreadyCompleted { step } => write!(f, "step `{step}` is already completed"),
            Rejection::NotCompleted { step } => {
                write!(f, "step `{step}` is not completed, so it cannot be reopened")
            }
            Rejection::NotAwaitingConfirmation { step } => {
                write!(f, "step `{step}` is not waiting for a confirmation")
            }
            Rejection::SamePersonConfirms { step } => {
                write!(f, "step `{step}` needs a second person: who completed it cannot confirm it")
            }
            Rejection::NotSkippable { step } => write!(f, "step `{step}` cannot be marked not required"),
            Rejection::TextRequired { what } => write!(f, "{what} is required"),
            Rejection::TextTooLong { what } => write!(f, "{what} has more than {NOTE_CHARS_MAX} characters"),
            Rejection::NotBlocked => write!(f, "the rollout is not blocked"),
            Rejection::AlreadyBlocked => write!(f, "the rollout is already blocked"),
            Rejection::Migration { problems } => {
                write!(f, "the migration is not possible: {}", problems.join("; "))
            }
            Rejection::WrongScope { what } => write!(f, "{what}"),
            Rejection::NothingToDo { what } => write!(f, "{what}"),
            Rejection::CannotTakeOver { why } => write!(f, "cannot take the rollout over: {why}"),
        }
    }
}
