//! Which rollouts a caller sees: a [`Selection`] (programme, service, administration, Landkreis,
//! phase, status) applied to the read model within the caller's scope. `rollouts`, `tasks` and
//! every download of a list of rollouts select with it.

use std::sync::Arc;

use catalog::Program;
use workflow::rollout::Rollout;
use workflow::StepAction;

use crate::caller::Caller;

/// Which rollouts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only services of this programme.
    pub program: Option<Program>,
    /// Only this service.
    pub service_key: Option<String>,
    /// Only this administration.
    pub ars: Option<String>,
    /// Only administrations of this Landkreis (and the Landkreis itself).
    pub landkreis_ars: Option<String>,
    /// Only rollouts in this phase (phase id).
    pub phase: Option<String>,
    /// Only this status: `not_started`, `in_progress`, `blocked`, `live`, `cancelled`.
    pub status: Option<String>,
}

/// The rollouts of the read model matching `selection` that `c` may read, in no order.
pub fn matching<'m>(
    m: &'m projections::ReadModel,
    c: &Caller,
    selection: &Selection,
) -> Vec<&'m Arc<Rollout>> {
    let candidates: Box<dyn Iterator<Item = &Arc<Rollout>>> = match (&selection.ars, &selection.service_key) {
        (Some(ars), _) => Box::new(m.rollouts_of_authority(ars)),
        (None, Some(key)) => Box::new(m.rollouts_of_service(key)),
        (None, None) => Box::new(m.rollouts()),
    };
    let landkreis_of =
        |ars: &str| m.catalog.authorities.get(ars).and_then(|a| a.authority.landkreis_ars.clone());
    let s = selection;
    candidates
        .filter(|r| c.may_read_rollout(&r.service_key, &r.ars))
        .filter(|r| s.service_key.as_ref().is_none_or(|k| &r.service_key == k))
        .filter(|r| s.program.is_none_or(|p| m.catalog.program_of(&r.service_key) == p))
        .filter(|r| s.ars.as_ref().is_none_or(|a| &r.ars == a))
        .filter(|r| {
            s.landkreis_ars
                .as_ref()
                .is_none_or(|lk| &r.ars == lk || landkreis_of(&r.ars).as_ref() == Some(lk))
        })
        .filter(|r| s.status.as_ref().is_none_or(|st| r.status().name() == st))
        .filter(|r| {
            s.phase.as_ref().is_none_or(|ph| r.definition.phases.get(r.phase()).is_some_and(|x| &x.id == ph))
        })
        .collect()
}

/// The name of the operation that issues a step action (the GraphQL mutation's name; what
/// [`Caller::may_use_mutation`] is asked with).
pub fn mutation_of(action: StepAction) -> &'static str {
    match action {
        StepAction::Start => "startStep",
        StepAction::Complete => "completeStep",
        StepAction::Confirm => "confirmStep",
        StepAction::Reopen => "reopenStep",
        StepAction::MarkNotRequired => "markStepNotRequired",
    }
}
