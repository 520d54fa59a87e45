//! The pure rollout domain of efa-rollout: workflow definitions as data, the condition
//! language, evidence types, and the decider that turns commands into events.
//!
//! **Architecture invariant:** this crate does no IO, never reads the clock and makes no ids:
//! time and ids come in as arguments, so the same events always fold to the same state.

mod checks;
pub mod command;
pub mod condition;
pub mod definition;
pub mod duration;
pub mod evidence;
pub mod extends;
pub mod known;
pub mod limits;
mod lowering;
pub mod registry;
mod shape;

pub use condition::{Condition, Facts};
pub use definition::{parse, Definition, Diagnostic, Field, Phase, Role, Scope, Step};
pub use duration::Deadline;
pub use evidence::FieldType;
pub mod events;
mod evolve;
pub mod rollout;
pub use events::{Evidence, RolloutEvent};
pub use registry::{DefinitionPublished, Registry};
pub use rollout::{Definitions, LandSteps, Meta, Records, Rollout, Status, StepState, StepStatus};
pub mod decide;
pub use decide::{decide, step_actions, task_actions, Command, Context, Principal, Rejection, StepAction};
