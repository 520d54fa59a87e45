//! `decide`: a command and the current state give events, or a rejection that says why.
//! Every business rule of a rollout lives here; no IO, no clock (time comes in `Context`).

use std::collections::BTreeMap;
use std::sync::Arc;

use vocab::Timestamp;

use crate::condition::Facts;
use crate::definition::{Definition, Role, Scope};
use crate::events::{DefinitionMigrated, Evidence, RolloutEvent, RolloutStarted, StepCompleted};
use crate::rollout::{Rollout, StepStatus};

use crate::limits::NOTE_CHARS_MAX;

pub use crate::command::{Command, Context, Principal, Rejection};

/// A command's required note (reason, comment): trimmed, with a visible character and no
/// control or hidden one (`vocab::text`), at most
/// [`NOTE_CHARS_MAX`] characters.
pub fn check_note(value: &str, what: &str) -> Result<String, Rejection> {
    text(value, what)
}

fn text(value: &str, what: &str) -> Result<String, Rejection> {
    let t = value.trim();
    if !vocab::text::has_visible(t) || vocab::text::forbidden_char(t).is_some() {
        return Err(Rejection::TextRequired { what: what.into() });
    }
    if t.chars().count() > NOTE_CHARS_MAX {
        return Err(Rejection::TextTooLong { what: what.into() });
    }
    Ok(t.to_owned())
}

fn opt_text(value: &Option<String>, what: &str) -> Result<Option<String>, Rejection> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => text(t, what).map(Some),
    }
}

/// A command on one step, as a user interface offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepAction {
    Start,
    Complete,
    Confirm,
    Reopen,
    MarkNotRequired,
}

impl StepAction {
    pub const ALL: [StepAction; 5] = [
        StepAction::Start,
        StepAction::Complete,
        StepAction::Confirm,
        StepAction::Reopen,
        StepAction::MarkNotRequired,
    ];
}

/// The commands on `step` that `decide` would accept from `cx.principal` now — each decided
/// as the real command would be, with valid example evidence and a reason, so a user interface
/// offers exactly what will not be refused for the role or the state (evidence the user then
/// enters can still be refused, and the rollout can change meanwhile).
pub fn step_actions(state: &Rollout, step: &str, cx: &Context) -> Vec<StepAction> {
    actions_among(state, step, cx, &StepAction::ALL)
}

/// Those of `actions` on `step` that `decide` would accept now, each decided in full.
fn actions_among(state: &Rollout, step: &str, cx: &Context, actions: &[StepAction]) -> Vec<StepAction> {
    let Some(index) = state.definition.step_index(step) else { return Vec::new() };
    let definition = &state.definition.steps[index];
    let step = step.to_owned();
    let reason = "–".to_owned();
    actions
        .iter()
        .copied()
        .filter(|action| {
            let command = match action {
                StepAction::Start => Command::StartStep { step: step.clone() },
                StepAction::Complete => Command::CompleteStep {
                    step: step.clone(),
                    evidence: definition.example_evidence(&state.ars),
                    comment: None,
                },
                StepAction::Confirm => Command::ConfirmStep { step: step.clone(), comment: None },
                StepAction::Reopen => Command::ReopenStep { step: step.clone(), reason: reason.clone() },
                StepAction::MarkNotRequired => {
                    Command::MarkNotRequired { step: step.clone(), reason: reason.clone() }
                }
            };
            decide(Some(state), &command, cx).is_ok()
        })
        .collect()
}

/// The actions that make `step` (an index) a task for `cx.principal`: starting, completing or
/// confirming it, each as [`step_actions`] decides it (reopening a done step or marking one not
/// required is no task). Only a ready, started or completed-unconfirmed step of a rollout that
/// is neither blocked nor cancelled can be one (what `decide` requires for these commands), so
/// the others are not decided at all. A summary without step records cannot tell who
/// completed a step: for a step awaiting confirmation pass the rollout with its records.
pub fn task_actions(state: &Rollout, step: usize, cx: &Context) -> Vec<StepAction> {
    let Some(s) = state.steps.get(step) else { return Vec::new() };
    if state.blocked.is_some() || state.cancelled.is_some() {
        return Vec::new();
    }
    // The status each command requires (as `decide_command` checks it): only those are decided.
    let possible: &[StepAction] = match s.status {
        StepStatus::Ready => &[StepAction::Start, StepAction::Complete],
        StepStatus::InProgress => &[StepAction::Complete],
        StepStatus::AwaitingConfirmation => &[StepAction::Confirm],
        _ => return Vec::new(),
    };
    actions_among(state, &state.definition.steps[step].id, cx, possible)
}

/// Decides a command against the rollout's state (`None` before it is started).
///
/// Completing or reopening a step whose evidence other steps' conditions read
/// (`evidence.<step>.<field>`) also decides those steps again: each that stops applying, or
/// starts applying again, gets a `StepApplicabilityChanged` event saying why.
pub fn decide(
    state: Option<&Rollout>,
    command: &Command,
    cx: &Context,
) -> Result<Vec<RolloutEvent>, Rejection> {
    let mut events = decide_command(state, command, cx)?;
    if let (Some(r), Command::CompleteStep { .. } | Command::ReopenStep { .. }) = (state, command) {
        let changes = applicability_changes(r, &events, cx);
        events.extend(changes);
    }
    Ok(events)
}

/// No definitions: the events simulated here never migrate.
struct NoDefinitions;

impl crate::rollout::Definitions for NoDefinitions {
    fn get(&self, _: &str, _: u32) -> Option<Arc<Definition>> {
        None
    }
}

/// The steps whose evidence conditions hold differently once `events` are applied to `r`.
/// A condition whose evidence is not recorded yet is undecided: the step applies until then.
fn applicability_changes(r: &Rollout, events: &[RolloutEvent], cx: &Context) -> Vec<RolloutEvent> {
    // Most definitions have no such branch: no copy of the rollout then.
    if !r.definition.steps.iter().any(|s| s.condition.as_ref().is_some_and(|c| c.reads_evidence())) {
        return Vec::new();
    }
    let mut after = r.clone();
    let meta = crate::rollout::Meta { at: cx.now, actor: &cx.principal.actor };
    for e in events {
        if after.apply(e, &meta, &NoDefinitions, crate::rollout::Records::Keep).is_err() {
            return Vec::new();
        }
    }
    let d = &after.definition;
    let mut out = Vec::new();
    for (j, step) in d.steps.iter().enumerate() {
        let Some(condition) = &step.condition else { continue };
        let reads = condition.evidence_steps();
        if reads.is_empty() {
            continue;
        }
        let mut facts = cx.facts.clone();
        let mut recorded = Vec::new();
        let mut decided = true;
        for read in &reads {
            let Some(i) = d.step_index(read) else { continue };
            match after.record(i) {
                Some(rec) => {
                    for (field, value) in rec.evidence.to_map() {
                        let v = match &value {
                            serde_json::Value::Bool(b) => crate::condition::Value::Bool(*b),
                            serde_json::Value::Number(n) => {
                                crate::condition::Value::Number(n.as_f64().unwrap_or(0.0))
                            }
                            serde_json::Value::String(t) => crate::condition::Value::Text(t.clone()),
                            other => crate::condition::Value::Text(other.to_string()),
                        };
                        recorded.push(format!("{read}.{field} = {value}"));
                        facts.set(&format!("evidence.{read}.{field}"), v);
                    }
                }
                None => decided = false,
            }
        }
        let applies = !decided || condition.eval(&facts);
        let now_applies = after.steps[j].status != StepStatus::NotApplicable;
        if applies == now_applies {
            continue;
        }
        let because = if decided {
            format!("Bedingung `{}` mit {}", condition.source(), recorded.join(", "))
        } else {
            format!(
                "Bedingung `{}`: Nachweise von {} wieder offen",
                condition.source(),
                reads.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        out.push(RolloutEvent::ApplicabilityChanged { step: step.id.clone(), applies, because });
    }
    out
}

// Long: one arm per command: the table of every rule a rollout obeys (each arm short).
fn decide_command(
    state: Option<&Rollout>,
    command: &Command,
    cx: &Context,
) -> Result<Vec<RolloutEvent>, Rejection> {
    let r = match (state, command) {
        (None, Command::Start { service_key, ars, definition, facts, land_steps_done }) => {
            // The association starts the rollouts of the definitions its staff works in.
            let association = cx.principal.roles.contains(&Role::AssociationStaff)
                && definition.steps.iter().any(|s| s.roles.contains(&Role::AssociationStaff));
            if !cx.principal.manages() && !association {
                return Err(Rejection::NotAllowed { what: "starting a rollout".into() });
            }
            let not_applicable = definition
                .steps
                .iter()
                .filter(|s| s.condition.as_ref().is_some_and(|c| !c.reads_evidence() && !c.eval(facts)))
                .map(|s| s.id.clone())
                .collect();
            return Ok(vec![RolloutEvent::Started(RolloutStarted {
                service_key: service_key.clone(),
                ars: ars.clone(),
                definition_id: definition.id.clone(),
                definition_version: definition.version,
                definition_hash: definition.content_hash.clone(),
                not_applicable,
                land_steps_done: land_steps_done.clone(),
            })]);
        }
        (None, _) => return Err(Rejection::NotStarted),
        (Some(_), Command::Start { .. }) => return Err(Rejection::AlreadyStarted),
        (Some(r), _) => r,
    };
    if r.cancelled.is_some() {
        return Err(Rejection::Cancelled);
    }
    let step_of = |id: &str| -> Result<usize, Rejection> {
        let (i, s) = r.step(id).ok_or_else(|| Rejection::UnknownStep { step: id.into() })?;
        if s.status == StepStatus::NotApplicable {
            return Err(Rejection::NotApplicable { step: id.into() });
        }
        Ok(i)
    };
    let not_blocked = || match &r.blocked {
        Some(reason) => Err(Rejection::Blocked { reason: reason.clone() }),
        None => Ok(()),
    };
    let p = &cx.principal;
    match command {
        Command::Start { .. } => Err(Rejection::AlreadyStarted),
        Command::StartStep { step } => {
            not_blocked()?;
            let i = step_of(step)?;
            may_work_on(r, i, p)?;
            match r.steps[i].status {
                StepStatus::Ready => Ok(vec![RolloutEvent::StepStarted { step: step.clone() }]),
                StepStatus::Waiting => Err(not_ready(r, i)),
                StepStatus::InProgress => {
                    Err(Rejection::NothingToDo { what: format!("step `{step}` is already started") })
                }
                _ => Err(Rejection::AlreadyCompleted { step: step.clone() }),
            }
        }
        Command::CompleteStep { step, evidence, comment } => {
            not_blocked()?;
            let i = step_of(step)?;
            may_work_on(r, i, p)?;
            match r.steps[i].status {
                StepStatus::Ready | StepStatus::InProgress => {}
                StepStatus::Waiting => return Err(not_ready(r, i)),
                _ => return Err(Rejection::AlreadyCompleted { step: step.clone() }),
            }
            let def = &r.definition.steps[i];
            let mut problems = Vec::new();
            for field in &def.evidence {
                match evidence.get(&field.id) {
                    None | Some(serde_json::Value::Null) if field.required => {
                        problems.push((field.id.clone(), format!("({}) is required", field.label)))
                    }
                    None | Some(serde_json::Value::Null) => {}
                    Some(v) => {
                        if let Err(why) = field.ty.check(v) {
                            problems.push((field.id.clone(), why));
                        }
                    }
                }
            }
            for key in evidence.keys() {
                if !def.evidence.iter().any(|f| &f.id == key) {
                    let known: Vec<&str> = def.evidence.iter().map(|f| f.id.as_str()).collect();
                    problems.push((
                        key.clone(),
                        format!("is not a field of this step (fields: {})", known.join(", ")),
                    ));
                }
            }
            if !problems.is_empty() {
                return Err(Rejection::EvidenceInvalid { step: step.clone(), problems });
            }
            let evidence: Evidence =
                evidence.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
            Ok(vec![RolloutEvent::StepCompleted(StepCompleted {
                step: step.clone(),
                evidence,
                comment: opt_text(comment, "the comment")?,
                awaiting_confirmation: def.four_eyes,
            })])
        }
        Command::ConfirmStep { step, comment } => {
            not_blocked()?;
            let i = step_of(step)?;
            may_work_on(r, i, p)?;
            if r.steps[i].status != StepStatus::AwaitingConfirmation {
                return Err(Rejection::NotAwaitingConfirmation { step: step.clone() });
            }
            if r.completed_by(i).is_some_and(|a| a.id == p.actor.id) {
                return Err(Rejection::SamePersonConfirms { step: step.clone() });
            }
            Ok(vec![RolloutEvent::StepConfirmed {
                step: step.clone(),
                comment: opt_text(comment, "the comment")?,
            }])
        }
        Command::ReopenStep { step, reason } => {
            let i = step_of(step)?;
            may_work_on(r, i, p)?;
            let reason = text(reason, "a reason for reopening")?;
            if !matches!(
                r.steps[i].status,
                StepStatus::Done
                    | StepStatus::AwaitingConfirmation
                    | StepStatus::NotRequired
                    | StepStatus::InProgress
            ) {
                return Err(Rejection::NotCompleted { step: step.clone() });
            }
            let dependents = r
                .dependents(i)
                .into_iter()
                .filter(|&j| {
                    matches!(
                        r.steps[j].status,
                        StepStatus::Done
                            | StepStatus::AwaitingConfirmation
                            | StepStatus::InProgress
                            | StepStatus::NotRequired
                    )
                })
                .map(|j| r.definition.steps[j].id.clone())
                .collect();
            Ok(vec![RolloutEvent::StepReopened { step: step.clone(), reason, dependents }])
        }
        Command::MarkNotRequired { step, reason } => {
            not_blocked()?;
            let i = step_of(step)?;
            may_work_on(r, i, p)?;
            if !r.definition.steps[i].skippable {
                return Err(Rejection::NotSkippable { step: step.clone() });
            }
            if r.steps[i].status.satisfies() || r.steps[i].status == StepStatus::AwaitingConfirmation {
                return Err(Rejection::AlreadyCompleted { step: step.clone() });
            }
            let reason = text(reason, "a reason why the step is not required")?;
            Ok(vec![RolloutEvent::StepMarkedNotRequired { step: step.clone(), reason }])
        }
        Command::Block { reason, block } => {
            if r.blocked.is_some() {
                return Err(Rejection::AlreadyBlocked);
            }
            if let Some(c) = &block.category {
                if !crate::events::BLOCK_CATEGORIES.contains(&c.as_str()) {
                    return Err(Rejection::Invalid {
                        what: format!(
                            "category `{c}` (one of {})",
                            crate::events::BLOCK_CATEGORIES.join(", ")
                        ),
                    });
                }
            }
            if let Some(step) = &block.step {
                step_of(step)?;
            }
            let block = crate::events::Blockage {
                category: block.category.clone(),
                vendor: opt_text(&block.vendor, "the vendor")?,
                step: block.step.clone(),
            };
            Ok(vec![RolloutEvent::Blocked { reason: text(reason, "a reason for blocking")?, block }])
        }
        Command::Unblock { reason, solution, share_name } => {
            let Some(problem) = &r.blocked else { return Err(Rejection::NotBlocked) };
            let solution = opt_text(solution, "the solution")?.map(|text| crate::events::Solution {
                text,
                problem: problem.clone(),
                block: r.block.clone(),
                share_name: *share_name,
            });
            Ok(vec![RolloutEvent::Unblocked { reason: text(reason, "a reason for unblocking")?, solution }])
        }
        Command::Escalate { reason, category, vendor } => {
            if !p.manages() {
                return Err(Rejection::NotAllowed { what: "escalating blockages".into() });
            }
            if r.blocked.is_none() {
                return Err(Rejection::NotBlocked);
            }
            Ok(vec![RolloutEvent::Escalated {
                reason: text(reason, "a reason for escalating")?,
                category: category.clone(),
                vendor: vendor.clone(),
            }])
        }
        Command::Comment { text: t, step } => {
            if let Some(step) = step {
                step_of(step)?;
            }
            Ok(vec![RolloutEvent::CommentAdded { text: text(t, "the comment")?, step: step.clone() }])
        }
        Command::Assign { assignee, reason } => {
            let assignee = opt_text(assignee, "the assignee")?;
            let reason = text(reason, "a reason for the assignment")?;
            if assignee == r.assignee {
                return Err(Rejection::NothingToDo { what: "the rollout is already assigned so".into() });
            }
            Ok(vec![RolloutEvent::Assigned { assignee, reason }])
        }
        Command::SetDueDate { step, due_at, reason } => {
            let i = step_of(step)?;
            if r.steps[i].status.satisfies() {
                return Err(Rejection::AlreadyCompleted { step: step.clone() });
            }
            if !p.manages() {
                return Err(Rejection::NotAllowed { what: "setting a due date".into() });
            }
            let reason = text(reason, "a reason for the due date")?;
            Ok(vec![RolloutEvent::DueDateSet { step: step.clone(), due_at: due_at.unix_micros(), reason }])
        }
        Command::Migrate { definition, mapping, facts, reason } => {
            if !p.manages() {
                return Err(Rejection::NotAllowed { what: "migrating a rollout".into() });
            }
            let reason = opt_text(reason, "reason")?;
            migrate(r, definition, mapping, facts)
                .map(|m| vec![RolloutEvent::DefinitionMigrated(DefinitionMigrated { reason, ..m })])
        }
        Command::Cancel { reason } => {
            if !p.manages() {
                return Err(Rejection::NotAllowed { what: "cancelling a rollout".into() });
            }
            Ok(vec![RolloutEvent::Cancelled { reason: text(reason, "a reason for cancelling")? }])
        }
        Command::RecordLandStep { step, done } => {
            if !p.manages() {
                return Err(Rejection::NotAllowed { what: "recording a Land-level step".into() });
            }
            if r.definition.scope == Scope::Land {
                return Err(Rejection::WrongScope {
                    what: "a Land-level rollout has no Land-level dependencies".into(),
                });
            }
            if r.land_steps_done.contains(step) == *done {
                return Err(Rejection::NothingToDo {
                    what: format!("land step `{step}` is already recorded so"),
                });
            }
            Ok(vec![RolloutEvent::LandStepChanged { step: step.clone(), done: *done }])
        }
        Command::Transfer { to_ars, reason } => {
            if !p.manages() {
                return Err(Rejection::NotAllowed { what: "transferring a rollout".into() });
            }
            Ok(vec![RolloutEvent::Transferred { to_ars: to_ars.clone(), reason: text(reason, "a reason")? }])
        }
        Command::TakeOver { from, reason } => {
            if !p.manages() {
                return Err(Rejection::NotAllowed { what: "taking over a rollout".into() });
            }
            take_over(r, from, text(reason, "a reason")?).map(|t| vec![RolloutEvent::TakenOver(t)])
        }
        Command::RecordOverdue { step } => {
            let i = step_of(step)?;
            let s = &r.steps[i];
            match s.due_at() {
                Some(due) if due <= cx.now && !s.status.satisfies() && !s.overdue_recorded => {
                    Ok(vec![RolloutEvent::StepOverdue { step: step.clone(), due_at: due.unix_micros() }])
                }
                _ => Err(Rejection::NothingToDo { what: format!("step `{step}` is not overdue") }),
            }
        }
    }
}

fn not_ready(r: &Rollout, i: usize) -> Rejection {
    Rejection::StepNotReady { step: r.definition.steps[i].id.clone(), missing: r.missing_dependencies(i) }
}

/// The principal may work on step `i`: a role it has is allowed, or it is automation and the
/// step is automatable. Admins and the system may do everything.
fn may_work_on(r: &Rollout, i: usize, p: &Principal) -> Result<(), Rejection> {
    let step = &r.definition.steps[i];
    let allowed = p.admin
        || p.is_system()
        || (p.is_automation() && step.automatable)
        || (!p.is_automation() && p.roles.iter().any(|role| step.roles.contains(role)));
    if allowed {
        Ok(())
    } else {
        Err(Rejection::RoleNotAllowed {
            step: step.id.clone(),
            allowed: step.roles.clone(),
            automatable: step.automatable,
        })
    }
}

/// Which step of `to` each step of `from` becomes: `extra` as given (each named step must
/// exist), the others by equal id; and the mapping reversed (a target named twice is a
/// problem).
fn step_mapping(
    from: &Definition,
    to: &Definition,
    extra: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut mapping = BTreeMap::new();
    for (old, new) in extra {
        if from.step_index(old).is_none() {
            problems.push(format!("the mapping names `{old}`, which version {} does not have", from.version));
        }
        if to.step_index(new).is_none() {
            problems.push(format!("the mapping names `{new}`, which version {} does not have", to.version));
        }
        mapping.insert(old.clone(), new.clone());
    }
    for s in &from.steps {
        if !mapping.contains_key(&s.id) && to.step_index(&s.id).is_some() {
            mapping.insert(s.id.clone(), s.id.clone());
        }
    }
    let mut targets = BTreeMap::new();
    for (old, new) in &mapping {
        if let Some(first) = targets.insert(new.clone(), old.clone()) {
            problems.push(format!("`{first}` and `{old}` both map to `{new}`"));
        }
    }
    (mapping, targets)
}

fn migrate(
    r: &Rollout,
    to: &Arc<Definition>,
    extra: &BTreeMap<String, String>,
    facts: &Facts,
) -> Result<DefinitionMigrated, Rejection> {
    let from = &r.definition;
    let mut problems = Vec::new();
    if to.id == from.id && to.version <= from.version {
        problems.push(format!("version {} is not newer than {}", to.version, from.version));
    }
    if to.scope != from.scope {
        problems.push(format!(
            "`{}` is a {} definition, the rollout runs a {} one",
            to.id,
            to.scope.name(),
            from.scope.name()
        ));
    }
    let (mapping, targets) = step_mapping(from, to, extra, &mut problems);
    for (i, s) in r.steps.iter().enumerate() {
        let id = &from.steps[i].id;
        let progressed = matches!(
            s.status,
            StepStatus::Done
                | StepStatus::AwaitingConfirmation
                | StepStatus::NotRequired
                | StepStatus::InProgress
        );
        if progressed && !mapping.contains_key(id) {
            problems.push(format!(
                "step `{id}` has progress but no counterpart in version {}; map it",
                to.version
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Rejection::Migration { problems });
    }
    // Mapped steps keep their state, so they are not re-evaluated for applicability.
    let not_applicable = to
        .steps
        .iter()
        .filter(|s| {
            !targets.contains_key(&s.id)
                && s.condition.as_ref().is_some_and(|c| !c.reads_evidence() && !c.eval(facts))
        })
        .map(|s| s.id.clone())
        .collect();
    Ok(DefinitionMigrated {
        to_id: (to.id != from.id).then(|| to.id.clone()),
        reason: None,
        from_version: from.version,
        to_version: to.version,
        to_hash: to.content_hash.clone(),
        mapping,
        not_applicable,
    })
}

/// Which steps of `from` carry over to `r`: done and not-required steps, except those whose
/// evidence names the old ARS (routing, ARS assignment) and the steps that depend on them.
fn take_over(r: &Rollout, from: &Rollout, reason: String) -> Result<crate::events::TakenOver, Rejection> {
    if r.touched {
        return Err(Rejection::CannotTakeOver { why: "this rollout has progress of its own".into() });
    }
    if r.definition.id != from.definition.id {
        return Err(Rejection::CannotTakeOver {
            why: format!("it runs `{}`, this one `{}`", from.definition.id, r.definition.id),
        });
    }
    let names_old = |e: &crate::rollout::RecordedEvidence| {
        e.values().any(|v| v.as_str().is_some_and(|s| s.contains(&from.ars)))
    };
    let mut reopened = vec![false; from.steps.len()];
    for (i, s) in from.steps.iter().enumerate() {
        if s.status.satisfies() && names_old(from.evidence(i)) && !reopened[i] {
            reopened[i] = true;
            for d in from.dependents(i) {
                reopened[d] = true;
            }
        }
    }
    let mut steps = Vec::new();
    let mut reopened_ids = Vec::new();
    for (i, s) in from.steps.iter().enumerate() {
        let id = &from.definition.steps[i].id;
        let carried = matches!(s.status, StepStatus::Done | StepStatus::NotRequired);
        let Some((_, own)) = r.step(id) else { continue };
        if !carried || own.status == StepStatus::NotApplicable {
            continue;
        }
        if reopened[i] {
            reopened_ids.push(id.clone());
            continue;
        }
        steps.push(crate::events::TakenStep {
            step: id.clone(),
            status: if s.status == StepStatus::NotRequired { "not_required" } else { "done" }.into(),
            evidence: from.evidence(i).to_map(),
            comment: if s.status == StepStatus::NotRequired {
                from.not_required_reason(i).map(String::from)
            } else {
                from.comment(i).map(String::from)
            },
            completed_by: from.completed_by(i).cloned(),
            completed_at: from.completed_at(i).map(Timestamp::unix_micros),
        });
    }
    Ok(crate::events::TakenOver { from_ars: from.ars.clone(), reason, steps, reopened: reopened_ids })
}
