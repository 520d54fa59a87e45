//! `evolve`: a rollout's state after one more event. It only applies what happened; every rule
//! lives in `decide`.

use std::sync::Arc;

use vocab::Timestamp;

use crate::definition::Definition;
use crate::events::RolloutEvent;
use crate::known::{Definitions, Meta};
use crate::rollout::*;

impl Rollout {
    /// Applies one event. The first event must be `Started`.
    pub fn evolve(
        state: Option<Rollout>,
        event: &RolloutEvent,
        meta: &Meta<'_>,
        definitions: &dyn Definitions,
    ) -> Result<Rollout, EvolveError> {
        match state {
            None => Rollout::started(event, meta, definitions),
            Some(mut r) => {
                r.apply(event, meta, definitions, Records::Keep)?;
                Ok(r)
            }
        }
    }

    /// The rollout its first event (`Started`) begins.
    pub fn started(
        event: &RolloutEvent,
        meta: &Meta<'_>,
        definitions: &dyn Definitions,
    ) -> Result<Rollout, EvolveError> {
        let RolloutEvent::Started(s) = event else { return Err(EvolveError::NotStarted) };
        let definition = lookup(definitions, &s.definition_id, s.definition_version, &s.definition_hash)?;
        let mut steps: Vec<StepState> =
            definition.steps.iter().map(|_| StepState::new(StepStatus::Waiting)).collect();
        for id in &s.not_applicable {
            let i = definition.step_index(id).ok_or_else(|| EvolveError::UnknownStep(id.clone()))?;
            steps[i].status = StepStatus::NotApplicable;
        }
        let mut r = Rollout {
            service_key: s.service_key.clone(),
            ars: s.ars.clone(),
            definition,
            version: 1,
            steps,
            land_steps_done: s.land_steps_done.iter().cloned().collect(),
            blocked: None,
            block: Default::default(),
            cancelled: None,
            transferred_to: None,
            assignee: None,
            started_at: meta.at,
            updated_at: meta.at,
            touched: false,
            records: Vec::new(),
        };
        r.refresh(meta.at);
        Ok(r)
    }

    // Long: one arm per event: the table of what each event changes (each arm short).
    /// Applies one event after the first, in place. On an error (an event that does not fit
    /// this rollout) the rollout is left as it was. With `Records::Forget` nothing is recorded
    /// for completed steps: applying to a summary gives the summary of the next state.
    pub fn apply(
        &mut self,
        event: &RolloutEvent,
        meta: &Meta<'_>,
        definitions: &dyn Definitions,
        records: Records,
    ) -> Result<(), EvolveError> {
        let keep = records == Records::Keep;
        let index = |r: &Rollout, id: &str| {
            r.definition.step_index(id).ok_or_else(|| EvolveError::UnknownStep(id.into()))
        };
        let r = self;
        match event {
            RolloutEvent::Started(_) => return Err(EvolveError::AlreadyStarted),
            RolloutEvent::StepStarted { step } => {
                let i = index(r, step)?;
                r.steps[i].status = StepStatus::InProgress;
                r.touched = true;
            }
            RolloutEvent::StepCompleted(c) => {
                let i = index(r, &c.step)?;
                r.steps[i].status =
                    if c.awaiting_confirmation { StepStatus::AwaitingConfirmation } else { StepStatus::Done };
                if keep {
                    r.set_record(
                        i,
                        Some(StepRecord {
                            evidence: RecordedEvidence::from_map(&c.evidence),
                            comment: c.comment.clone(),
                            completed_by: Some(meta.actor.clone()),
                            completed_at: Some(meta.at),
                            confirmed_by: None,
                            not_required_reason: None,
                        }),
                    );
                }
                r.touched = true;
            }
            RolloutEvent::StepConfirmed { step, .. } => {
                let i = index(r, step)?;
                r.steps[i].status = StepStatus::Done;
                if keep {
                    r.record_mut(i).confirmed_by = Some(meta.actor.clone());
                }
            }
            RolloutEvent::StepReopened { step, dependents, .. } => {
                let i = index(r, step)?;
                let dependents = dependents.iter().map(|d| index(r, d)).collect::<Result<Vec<usize>, _>>()?;
                for j in std::iter::once(i).chain(dependents) {
                    r.steps[j].reset();
                    r.set_record(j, None);
                }
            }
            RolloutEvent::StepMarkedNotRequired { step, reason } => {
                let i = index(r, step)?;
                r.steps[i].status = StepStatus::NotRequired;
                if keep {
                    r.record_mut(i).not_required_reason = Some(reason.clone());
                }
                r.touched = true;
            }
            RolloutEvent::Blocked { reason, block } => {
                r.blocked = Some(reason.clone());
                r.block = block.clone();
            }
            RolloutEvent::Unblocked { .. } => {
                r.blocked = None;
                r.block = Default::default();
            }
            RolloutEvent::Escalated { .. } => {}
            RolloutEvent::CommentAdded { .. } => {}
            RolloutEvent::Assigned { assignee, .. } => r.assignee = assignee.clone(),
            RolloutEvent::DueDateSet { step, due_at, .. } => {
                let i = index(r, step)?;
                r.steps[i].due_at = MaybeTime::new(Some(Timestamp::from_unix_micros(*due_at)));
                r.steps[i].due_set_by_hand = true;
                r.steps[i].overdue_recorded = false;
            }
            RolloutEvent::DefinitionMigrated(m) => {
                let to_id = m.to_id.as_deref().unwrap_or(&r.definition.id);
                let to = lookup(definitions, to_id, m.to_version, &m.to_hash)?;
                let mut steps: Vec<StepState> =
                    to.steps.iter().map(|_| StepState::new(StepStatus::Waiting)).collect();
                let mut records: Vec<Option<Box<StepRecord>>> =
                    if r.records.is_empty() { Vec::new() } else { vec![None; to.steps.len()] };
                for (old, new) in &m.mapping {
                    let (Some(i), Some(j)) = (r.definition.step_index(old), to.step_index(new)) else {
                        return Err(EvolveError::UnknownStep(format!("{old} → {new}")));
                    };
                    steps[j] = r.steps[i].clone();
                    if let Some(slot) = records.get_mut(j) {
                        *slot = r.records.get(i).cloned().flatten();
                    }
                }
                for id in &m.not_applicable {
                    let j = to.step_index(id).ok_or_else(|| EvolveError::UnknownStep(id.clone()))?;
                    steps[j] = StepState::new(StepStatus::NotApplicable);
                    if let Some(slot) = records.get_mut(j) {
                        *slot = None;
                    }
                }
                r.definition = to;
                r.steps = steps;
                r.records = records;
            }
            RolloutEvent::Cancelled { reason } => r.cancelled = Some(reason.clone()),
            RolloutEvent::LandStepChanged { step, done } => {
                if *done {
                    r.land_steps_done.insert(step);
                } else {
                    r.land_steps_done.remove(step);
                }
            }
            RolloutEvent::StepOverdue { step, .. } => {
                let i = index(r, step)?;
                r.steps[i].overdue_recorded = true;
            }
            RolloutEvent::ApplicabilityChanged { step, applies, .. } => {
                let i = index(r, step)?;
                if *applies {
                    r.steps[i].reset();
                } else {
                    r.steps[i] = StepState::new(StepStatus::NotApplicable);
                }
                r.set_record(i, None);
            }
            RolloutEvent::Transferred { to_ars, reason } => {
                r.cancelled = Some(reason.clone());
                r.transferred_to = to_ars.clone();
            }
            RolloutEvent::TakenOver(t) => {
                let taken =
                    t.steps.iter().map(|x| Ok((index(r, &x.step)?, x))).collect::<Result<Vec<_>, _>>()?;
                for (i, taken) in taken {
                    let skipped = taken.status == "not_required";
                    r.steps[i].status = if skipped { StepStatus::NotRequired } else { StepStatus::Done };
                    if keep {
                        r.set_record(
                            i,
                            Some(StepRecord {
                                evidence: RecordedEvidence::from_map(&taken.evidence),
                                comment: (!skipped).then(|| taken.comment.clone()).flatten(),
                                completed_by: taken.completed_by.clone(),
                                completed_at: taken.completed_at.map(Timestamp::from_unix_micros),
                                confirmed_by: None,
                                not_required_reason: skipped.then(|| taken.comment.clone()).flatten(),
                            }),
                        );
                    }
                }
                r.touched = r.touched || !t.steps.is_empty();
            }
        }
        r.version += 1;
        r.updated_at = meta.at;
        r.refresh(meta.at);
        Ok(())
    }

    /// Recomputes which steps wait and which are ready, and the due dates of newly ready steps.
    fn refresh(&mut self, at: Timestamp) {
        for i in 0..self.steps.len() {
            let status = self.steps[i].status;
            if !matches!(status, StepStatus::Waiting | StepStatus::Ready) {
                continue;
            }
            let ready = self.dependencies_met(i);
            let s = &mut self.steps[i];
            match (status, ready) {
                (StepStatus::Waiting, true) => {
                    s.status = StepStatus::Ready;
                    s.ready_at = MaybeTime::new(Some(at));
                    if !s.due_set_by_hand {
                        s.due_at = MaybeTime::new(self.definition.steps[i].deadline.map(|d| {
                            Timestamp::from_unix_micros(at.unix_micros().saturating_add(d.micros()))
                        }));
                        s.overdue_recorded = false;
                    }
                }
                (StepStatus::Ready, false) => {
                    s.status = StepStatus::Waiting;
                    s.ready_at = MaybeTime::NONE;
                    if !s.due_set_by_hand {
                        s.due_at = MaybeTime::NONE;
                    }
                }
                _ => {}
            }
        }
    }
}

fn lookup(
    definitions: &dyn Definitions,
    id: &str,
    version: u32,
    hash: &str,
) -> Result<Arc<Definition>, EvolveError> {
    let d = definitions
        .get(id, version)
        .ok_or_else(|| EvolveError::UnknownDefinition { id: id.into(), version })?;
    if d.content_hash != hash {
        return Err(EvolveError::DefinitionChanged {
            id: id.into(),
            version,
            expected: hash.into(),
            actual: d.content_hash.clone(),
        });
    }
    Ok(d)
}
