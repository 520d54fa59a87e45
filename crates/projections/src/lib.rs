//! Read models of efa-rollout, folded from the global log: the current state of every rollout,
//! progress aggregates grouped by service, Landkreis and administration, overdue and blocked
//! lists, the audit index and the catalogue. Queries never scan the log.

mod audit;
pub mod checkpoint;
pub mod model;
pub mod positions;
pub mod projector;
pub mod stream;

pub use model::{AuditFilter, Counts, GroupBy, ProjectionError, ReadModel};
pub use projector::{
    fold, progress_over_time, progress_over_time_where, CheckpointPlace, Cut, Error, Projector, Start,
};
pub use stream::{
    continue_rollout, events_at, evolve_recorded, fold_rollout, history, load_rollout, rollout_as_of,
    rollout_at_version, HistoryEntry,
};
