//! The caller's tasks: the steps it may advance now (each decided as the mutation would be) and
//! the open questions addressed to its party, ordered by due date, with the counts. The one
//! computation behind `Query.tasks`, the tasks download and anything that tells people what
//! waits for them.

use std::sync::Arc;

use engine::questions::Question as DomainQuestion;
use engine::Engine;
use projections::Projector;
use store::Timestamp;
use workflow::rollout::Rollout as DomainRollout;
use workflow::{StepAction, StepStatus};

use crate::caller::Caller;
use crate::rollouts::{matching, mutation_of, Selection};

/// Days ahead that count as "due soon" in the task counts.
pub const DUE_SOON_DAYS: i64 = 14;

/// What a task is.
#[derive(Copy, Clone, Eq, PartialEq, Debug)]
pub enum TaskKind {
    /// A step the token may start, complete or confirm now.
    Step,
    /// An open question addressed to the token's party.
    Question,
}

/// Which tasks.
#[derive(Clone, Debug, Default)]
pub struct TaskQuery {
    /// In which rollouts (phase and status are not asked: a task is where work is).
    pub selection: Selection,
    /// Only overdue steps (true) or only those not overdue (false).
    pub overdue: Option<bool>,
    /// Only steps or only questions.
    pub kind: Option<TaskKind>,
}

/// One task as computed.
#[derive(Clone, Debug)]
pub struct TaskItem {
    pub kind: TaskKind,
    pub rollout: Arc<DomainRollout>,
    pub step: usize,
    pub actions: Vec<StepAction>,
    pub due_at: Option<Timestamp>,
    pub overdue: bool,
    pub ready_because: Vec<String>,
    pub question: Option<DomainQuestion>,
    /// Messages the caller has not read in the threads on this step.
    pub unread: usize,
    /// The order and the cursor.
    pub key: String,
}

/// The caller's tasks, ordered by due date (overdue first, undated last), and the counts.
#[derive(Debug)]
pub struct TaskList {
    pub items: Vec<TaskItem>,
    pub overdue: u64,
    pub due_soon: u64,
    pub waiting_for_central: u64,
    pub unread: u64,
}

/// Everything `c` may advance now in the rollouts `filter` selects: every step for which
/// `Step.actions` would list `startStep`, `completeStep` or `confirmStep` (each decided as the
/// mutation would be), and the open questions addressed to `c`'s party.
pub async fn task_list(
    engine: &Engine,
    projector: &Projector,
    c: &Caller,
    filter: &TaskQuery,
    now: Timestamp,
) -> Result<TaskList, String> {
    let cx_of = |r: &DomainRollout| workflow::Context {
        principal: c.domain(),
        now,
        facts: engine.facts(&r.service_key, &r.ars),
    };
    let automation_ok = |a: &StepAction| c.may_use_mutation(mutation_of(*a));
    let mut items = Vec::new();
    let mut confirm = Vec::new();
    let mut waiting_for_central = 0;
    let mut rollout_ids = std::collections::HashSet::new();
    let writes = c.may_write();
    projector.read(|m| {
        for r in matching(m, c, &filter.selection) {
            rollout_ids.insert(r.id());
            if !writes {
                continue;
            }
            // Most rollouts have no step anyone could act on now: no context is built for them.
            let open = |st: &workflow::StepState| {
                matches!(st.status, StepStatus::Ready | StepStatus::InProgress)
                    && r.blocked.is_none()
                    && r.cancelled.is_none()
            };
            let cx = r.steps.iter().any(open).then(|| cx_of(r));
            for (i, st) in r.steps.iter().enumerate() {
                match st.status {
                    // Who completed it is in the records: decided below with them.
                    StepStatus::AwaitingConfirmation => confirm.push((r.clone(), i)),
                    StepStatus::Waiting if waits_only_for_central(r, i) && may_work_on(c, r, i) => {
                        waiting_for_central += 1
                    }
                    _ => {
                        let Some(cx) = cx.as_ref().filter(|_| open(st)) else { continue };
                        let actions: Vec<StepAction> =
                            workflow::task_actions(r, i, cx).into_iter().filter(automation_ok).collect();
                        if !actions.is_empty() {
                            items.push(step_item(r.clone(), i, actions, now));
                        }
                    }
                }
            }
        }
    });
    confirm_tasks(engine, c, confirm, now, &mut items).await?;
    if let Some(overdue) = filter.overdue {
        items.retain(|t| t.overdue == overdue);
    }
    let unread = question_tasks(engine, projector, c, &rollout_ids, filter, &mut items);
    if let Some(kind) = filter.kind {
        items.retain(|t| t.kind == kind);
    }
    items.sort_by(|a, b| a.key.cmp(&b.key));
    let (overdue, due_soon) = due_counts(&items, now);
    Ok(TaskList { overdue, due_soon, waiting_for_central, unread, items })
}

/// The steps awaiting confirmation that `c` may confirm: decided with their records (who
/// completed them), folded from each rollout's stream at the summary's version.
async fn confirm_tasks(
    engine: &Engine,
    c: &Caller,
    confirm: Vec<(Arc<DomainRollout>, usize)>,
    now: Timestamp,
    items: &mut Vec<TaskItem>,
) -> Result<(), String> {
    let cx_of = |r: &DomainRollout| workflow::Context {
        principal: c.domain(),
        now,
        facts: engine.facts(&r.service_key, &r.ars),
    };
    let automation_ok = |a: &StepAction| c.may_use_mutation(mutation_of(*a));
    for (summary, i) in confirm {
        let full = projections::rollout_at_version(
            &**engine.store(),
            &**engine.registry(),
            &summary.service_key,
            &summary.ars,
            summary.version,
        )
        .await
        .map_err(|e| e.to_string())?
        .map_or_else(|| summary.clone(), Arc::new);
        let actions: Vec<StepAction> =
            workflow::task_actions(&full, i, &cx_of(&full)).into_iter().filter(automation_ok).collect();
        if !actions.is_empty() {
            items.push(step_item(summary, i, actions, now));
        }
    }
    Ok(())
}

/// Questions: the unread messages on the step tasks' threads (their count is answered), and
/// the open threads addressed to `c`'s party as tasks of their own (not when only overdue
/// tasks are asked for).
fn question_tasks(
    engine: &Engine,
    projector: &Projector,
    c: &Caller,
    rollout_ids: &std::collections::HashSet<String>,
    filter: &TaskQuery,
    items: &mut Vec<TaskItem>,
) -> u64 {
    let me = c.actor().id;
    let party = c.party();
    let threads = engine.questions().all(|q| rollout_ids.contains(&q.rollout_id()));
    // Unread messages per (rollout, step), then onto the step tasks: one pass each.
    let mut unread_on: std::collections::HashMap<(String, &str), usize> = std::collections::HashMap::new();
    for q in &threads {
        let n = q.unread_for(&me);
        if n > 0 {
            *unread_on.entry((q.rollout_id(), q.step.as_str())).or_insert(0) += n;
        }
    }
    let unread = unread_on.values().sum::<usize>() as u64;
    if !unread_on.is_empty() {
        for t in items.iter_mut() {
            let step = t.rollout.definition.steps[t.step].id.as_str();
            t.unread += unread_on.get(&(t.rollout.id(), step)).copied().unwrap_or(0);
        }
    }
    if filter.overdue != Some(true) {
        for q in threads.into_iter().filter(|q| q.is_open() && Some(q.to) == party) {
            let rollout = projector.read(|m| m.rollout(&q.rollout_id()).cloned());
            let Some(rollout) = rollout else { continue };
            let Some(step) = rollout.definition.step_index(&q.step) else { continue };
            let unread = q.unread_for(&me);
            let key = format!("{}|{}|{:04}|q{}", undated(), rollout.id(), step, q.id);
            items.push(TaskItem {
                kind: TaskKind::Question,
                rollout,
                step,
                actions: Vec::new(),
                due_at: None,
                overdue: false,
                ready_because: Vec::new(),
                question: Some(q),
                unread,
                key,
            });
        }
    }
    unread
}

/// The steps among `items` that are overdue, and those due within [`DUE_SOON_DAYS`].
fn due_counts(items: &[TaskItem], now: Timestamp) -> (u64, u64) {
    let soon = Timestamp::from_unix_micros(now.unix_micros() + DUE_SOON_DAYS * 86_400_000_000);
    let steps = || items.iter().filter(|t| t.kind == TaskKind::Step);
    let overdue = steps().filter(|t| t.overdue).count() as u64;
    let due_soon = steps().filter(|t| !t.overdue && t.due_at.is_some_and(|d| d <= soon)).count() as u64;
    (overdue, due_soon)
}

/// The key of an undated task: after every dated one.
fn undated() -> String {
    "9".repeat(20)
}

fn step_item(r: Arc<DomainRollout>, i: usize, actions: Vec<StepAction>, now: Timestamp) -> TaskItem {
    let due_at = r.steps[i].due_at();
    let overdue = due_at.is_some_and(|d| d < now);
    // Microseconds since the epoch, shifted to stay positive: the key sorts as the date does.
    let due_key =
        due_at.map_or_else(undated, |d| format!("{:020}", (d.unix_micros() as i128 + (1i128 << 62)) as u64));
    let key = format!("{due_key}|{}|{i:04}|s", r.id());
    TaskItem {
        kind: TaskKind::Step,
        ready_because: r.ready_because(i),
        rollout: r,
        step: i,
        actions,
        due_at,
        overdue,
        question: None,
        unread: 0,
        key,
    }
}

/// The step waits, and only for central steps (the Land's, or the association's model release).
fn waits_only_for_central(r: &DomainRollout, i: usize) -> bool {
    let def = &r.definition.steps[i];
    !def.land_depends_on.is_empty()
        && def.depends_on.iter().all(|&d| r.steps[d].status.satisfies())
        && def.land_depends_on.iter().any(|l| !r.land_steps_done.contains(l))
}

/// The token has a role the step allows (admins every step).
fn may_work_on(c: &Caller, r: &DomainRollout, i: usize) -> bool {
    let p = c.domain();
    p.admin || p.roles.iter().any(|role| r.definition.steps[i].roles.contains(role))
}
