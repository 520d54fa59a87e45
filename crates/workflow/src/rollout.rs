//! The state of one rollout, folded from its events (`evolve`). Evolve only applies what
//! happened; every rule lives in `decide`.

use std::sync::Arc;

use vocab::{Actor, Timestamp};

use crate::definition::Definition;
use crate::events::Evidence;
pub use crate::known::{Definitions, Meta};

/// Where a step stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Waits for its dependencies.
    Waiting,
    /// May be started or completed.
    Ready,
    InProgress,
    /// Completed, waiting for a second person's confirmation.
    AwaitingConfirmation,
    Done,
    NotRequired,
    /// Its condition does not hold for this administration and service.
    NotApplicable,
}

impl StepStatus {
    /// Counts as finished for the steps that depend on it.
    pub fn satisfies(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::NotRequired | StepStatus::NotApplicable)
    }

    pub fn name(self) -> &'static str {
        match self {
            StepStatus::Waiting => "waiting",
            StepStatus::Ready => "ready",
            StepStatus::InProgress => "in_progress",
            StepStatus::AwaitingConfirmation => "awaiting_confirmation",
            StepStatus::Done => "done",
            StepStatus::NotRequired => "not_required",
            StepStatus::NotApplicable => "not_applicable",
        }
    }
}

/// The overall status, derived from the steps and flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    NotStarted,
    InProgress,
    Blocked,
    Live,
    Cancelled,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::NotStarted => "not_started",
            Status::InProgress => "in_progress",
            Status::Blocked => "blocked",
            Status::Live => "live",
            Status::Cancelled => "cancelled",
        }
    }
}

/// Evidence as a step holds it: a sorted slice, a fraction of a `BTreeMap`'s size for the few
/// fields a step has (the read models hold tens of thousands of rollouts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedEvidence(Vec<(String, serde_json::Value)>);

impl RecordedEvidence {
    pub fn from_map(map: &Evidence) -> Self {
        RecordedEvidence(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    pub fn to_map(&self) -> Evidence {
        self.0.iter().cloned().collect()
    }

    pub fn get(&self, field: &str) -> Option<&serde_json::Value> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(field)).ok().map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &serde_json::Value> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl serde::Serialize for RecordedEvidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> serde::Deserialize<'de> for RecordedEvidence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Evidence::deserialize(d).map(|m| RecordedEvidence::from_map(&m))
    }
}

/// Where a step stands. Kept small (the read models hold every step of every rollout: 24
/// bytes each): what was recorded when the step was completed or skipped is the rollout's
/// (`Rollout::record`), and the two times take eight bytes each (`MaybeTime`).
#[derive(Clone, Debug, PartialEq)]
pub struct StepState {
    pub status: StepStatus,
    /// The due date was set by hand and survives readiness changes.
    pub due_set_by_hand: bool,
    /// A `StepOverdue` was recorded for the current due date.
    pub overdue_recorded: bool,
    pub(crate) ready_at: MaybeTime,
    pub(crate) due_at: MaybeTime,
}

/// An optional time in eight bytes, where `Option<Timestamp>` takes sixteen: `i64::MIN`
/// microseconds (292,000 years before the epoch) stands for none, and a time set to it is
/// kept one microsecond later.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaybeTime(i64);

impl MaybeTime {
    pub(crate) const NONE: MaybeTime = MaybeTime(i64::MIN);

    pub(crate) fn new(t: Option<Timestamp>) -> Self {
        t.map_or(MaybeTime::NONE, |t| MaybeTime(t.unix_micros().max(i64::MIN + 1)))
    }

    pub(crate) fn get(self) -> Option<Timestamp> {
        (self != MaybeTime::NONE).then(|| Timestamp::from_unix_micros(self.0))
    }
}

impl std::fmt::Debug for MaybeTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// What was recorded for a completed (or skipped) step.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    pub evidence: RecordedEvidence,
    pub comment: Option<String>,
    pub completed_by: Option<Actor>,
    pub completed_at: Option<Timestamp>,
    pub confirmed_by: Option<Actor>,
    pub not_required_reason: Option<String>,
}

static NO_EVIDENCE: RecordedEvidence = RecordedEvidence(Vec::new());

impl StepState {
    pub(crate) fn new(status: StepStatus) -> Self {
        StepState {
            status,
            ready_at: MaybeTime::NONE,
            due_at: MaybeTime::NONE,
            due_set_by_hand: false,
            overdue_recorded: false,
        }
    }

    /// A step state as a checkpoint kept it (without a record).
    pub fn restored(
        status: StepStatus,
        ready_at: Option<Timestamp>,
        due_at: Option<Timestamp>,
        due_set_by_hand: bool,
        overdue_recorded: bool,
    ) -> Self {
        StepState {
            status,
            ready_at: MaybeTime::new(ready_at),
            due_at: MaybeTime::new(due_at),
            due_set_by_hand,
            overdue_recorded,
        }
    }

    /// When it last became ready.
    pub fn ready_at(&self) -> Option<Timestamp> {
        self.ready_at.get()
    }

    /// When it is due, if it has a deadline.
    pub fn due_at(&self) -> Option<Timestamp> {
        self.due_at.get()
    }

    pub(crate) fn reset(&mut self) {
        let keep_due = self.due_set_by_hand.then_some(self.due_at);
        *self = StepState::new(StepStatus::Waiting);
        if let Some(due) = keep_due {
            self.due_at = due;
            self.due_set_by_hand = true;
        }
    }
}

/// The Land's steps that are done, as a rollout knows them: a sorted list (a rollout has a few;
/// a `BTreeSet` would take a node of eleven entries for them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LandSteps(Vec<Box<str>>);

impl LandSteps {
    pub fn contains(&self, step: &str) -> bool {
        self.0.binary_search_by(|s| (**s).cmp(step)).is_ok()
    }

    pub fn insert(&mut self, step: &str) {
        if let Err(i) = self.0.binary_search_by(|s| (**s).cmp(step)) {
            self.0.insert(i, step.into());
        }
    }

    pub fn remove(&mut self, step: &str) {
        if let Ok(i) = self.0.binary_search_by(|s| (**s).cmp(step)) {
            self.0.remove(i);
        }
    }

    /// The steps, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| &**s)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: AsRef<str>> FromIterator<S> for LandSteps {
    fn from_iter<I: IntoIterator<Item = S>>(steps: I) -> Self {
        let mut out = LandSteps::default();
        for s in steps {
            out.insert(s.as_ref());
        }
        out
    }
}

/// One rollout: one service at one administration (or the Land), as its events made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    pub service_key: String,
    pub ars: String,
    pub definition: Arc<Definition>,
    /// Number of events applied: the stream version.
    pub version: u64,
    /// Aligned with `definition.steps`.
    pub steps: Vec<StepState>,
    pub land_steps_done: LandSteps,
    pub blocked: Option<String>,
    /// While blocked: the blockage's category, vendor and step (when they were given).
    pub block: crate::events::Blockage,
    pub cancelled: Option<String>,
    /// The successor that took this rollout over after a territorial change.
    pub transferred_to: Option<String>,
    pub assignee: Option<String>,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
    /// Whether any step has been started, completed or skipped by hand.
    pub touched: bool,
    /// What completed or skipped steps recorded (evidence, who, when, comments), aligned with
    /// `steps` once any step has a record; empty in a summary (`forget_records`).
    pub records: Vec<Option<Box<StepRecord>>>,
}

/// Whether `Rollout::apply` keeps what completed steps recorded (evidence, who, comments) or
/// only the summary a read model holds (`Rollout::forget_records`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Records {
    Keep,
    Forget,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EvolveError {
    #[error("the first event of a rollout must be RolloutStarted")]
    NotStarted,
    #[error("the rollout is already started")]
    AlreadyStarted,
    #[error("definition `{id}` version {version} is not known to this server")]
    UnknownDefinition { id: String, version: u32 },
    #[error(
        "definition `{id}` version {version} has hash {actual}, the rollout was started with {expected}"
    )]
    DefinitionChanged { id: String, version: u32, expected: String, actual: String },
    #[error("the event names step `{0}`, which the definition does not have")]
    UnknownStep(String),
}

/// The rollout id of the API: `"<serviceKey>:<ars>"`.
pub fn rollout_id(service_key: &str, ars: &str) -> String {
    format!("{service_key}:{ars}")
}

/// The event stream of a rollout.
pub fn stream_id(service_key: &str, ars: &str) -> String {
    format!("{ROLLOUT_STREAM_PREFIX}{service_key}:{ars}")
}

/// The prefix of the streams of a rollout's questions (`questions-<serviceKey>:<ars>`).
pub use vocab::names::{QUESTION_STREAM_PREFIX, ROLLOUT_STREAM_PREFIX};

/// The stream of a rollout's questions (Rückfragen), apart from the rollout's own.
pub fn question_stream_id(service_key: &str, ars: &str) -> String {
    format!("{QUESTION_STREAM_PREFIX}{service_key}:{ars}")
}

/// The rollout (service key, ARS) a rollout stream or a question stream belongs to.
pub fn rollout_of_stream(stream_id: &str) -> Option<(&str, &str)> {
    stream_id
        .strip_prefix(ROLLOUT_STREAM_PREFIX)
        .or_else(|| stream_id.strip_prefix(QUESTION_STREAM_PREFIX))?
        .split_once(':')
}

impl Rollout {
    pub fn id(&self) -> String {
        rollout_id(&self.service_key, &self.ars)
    }

    pub fn step(&self, id: &str) -> Option<(usize, &StepState)> {
        let i = self.definition.step_index(id)?;
        Some((i, &self.steps[i]))
    }

    pub fn status(&self) -> Status {
        if self.cancelled.is_none() && self.blocked.is_some() {
            Status::Blocked
        } else {
            self.status_unblocked()
        }
    }

    /// The status without its blockage: what the OZG network shows other administrations, so
    /// that the moment a blockage ends (and an unnamed solution appears) does not name whose
    /// it was.
    pub fn status_unblocked(&self) -> Status {
        if self.cancelled.is_some() {
            Status::Cancelled
        } else if self.is_live() {
            Status::Live
        } else if self.touched {
            Status::InProgress
        } else {
            Status::NotStarted
        }
    }

    /// Every step up to the definition's live phase is done or not required.
    pub fn is_live(&self) -> bool {
        let phases = &self.definition.phases;
        let end = phases.get(self.definition.live_phase).map_or(self.steps.len(), |p| p.steps.end);
        self.steps[..end].iter().all(|s| s.status.satisfies())
    }

    /// The first phase with an unfinished step (the last phase once all are finished).
    /// Drops what completed steps recorded (evidence, who, comments): the summary a read model
    /// keeps. `evolve` never reads records, so evolving a summary gives the summary of the
    /// evolved rollout; the records are folded from the rollout's stream when asked for.
    pub fn forget_records(&mut self) {
        self.records = Vec::new();
    }

    /// Whether any step holds a record (false for a summary).
    pub fn has_records(&self) -> bool {
        self.records.iter().any(Option::is_some)
    }

    /// What step `i` recorded when it was completed or skipped (nothing in a summary).
    pub fn record(&self, i: usize) -> Option<&StepRecord> {
        self.records.get(i)?.as_deref()
    }

    pub fn evidence(&self, i: usize) -> &RecordedEvidence {
        self.record(i).map_or(&NO_EVIDENCE, |r| &r.evidence)
    }

    pub fn comment(&self, i: usize) -> Option<&str> {
        self.record(i).and_then(|r| r.comment.as_deref())
    }

    pub fn completed_by(&self, i: usize) -> Option<&Actor> {
        self.record(i).and_then(|r| r.completed_by.as_ref())
    }

    pub fn completed_at(&self, i: usize) -> Option<Timestamp> {
        self.record(i).and_then(|r| r.completed_at)
    }

    pub fn confirmed_by(&self, i: usize) -> Option<&Actor> {
        self.record(i).and_then(|r| r.confirmed_by.as_ref())
    }

    pub fn not_required_reason(&self, i: usize) -> Option<&str> {
        self.record(i).and_then(|r| r.not_required_reason.as_deref())
    }

    pub(crate) fn record_mut(&mut self, i: usize) -> &mut StepRecord {
        self.records.resize_with(self.steps.len(), || None);
        self.records[i].get_or_insert_with(Box::default)
    }

    /// Sets (or clears) step `i`'s record. Without any record the list is empty, whichever
    /// way the rollout got there (so equal rollouts compare equal).
    pub(crate) fn set_record(&mut self, i: usize, record: Option<StepRecord>) {
        if record.is_some() || self.records.len() > i {
            self.records.resize_with(self.steps.len(), || None);
            self.records[i] = record.map(Box::new);
        }
        if self.records.iter().all(Option::is_none) {
            self.records.clear();
        }
    }

    /// The deadlines that count: open steps (not done or skipped, not waiting) of a rollout
    /// that is not cancelled, with a due date — (step index, due).
    pub fn deadlines(&self) -> impl Iterator<Item = (usize, Timestamp)> + '_ {
        let open = self.cancelled.is_none();
        self.steps
            .iter()
            .enumerate()
            .filter(move |(_, s)| open && !s.status.satisfies() && s.status != StepStatus::Waiting)
            .filter_map(|(i, s)| s.due_at().map(|due| (i, due)))
    }

    /// Whether a deadline has passed at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.deadlines().any(|(_, due)| due < now)
    }

    /// The first step (in definition order) someone can act on now: ready, or awaiting a
    /// confirmation.
    pub fn next_open_step(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| matches!(s.status, StepStatus::Ready | StepStatus::AwaitingConfirmation))
    }

    /// (steps done or not required, steps that apply): the rollout's progress.
    pub fn steps_done(&self) -> (u64, u64) {
        let applicable = self.steps.iter().filter(|s| s.status != StepStatus::NotApplicable);
        applicable.fold((0, 0), |(done, total), s| (done + u64::from(s.status.satisfies()), total + 1))
    }

    pub fn phase(&self) -> usize {
        let phases = &self.definition.phases;
        phases
            .iter()
            .position(|p| self.steps[p.steps.clone()].iter().any(|s| !s.status.satisfies()))
            .unwrap_or(phases.len().saturating_sub(1))
    }

    /// Steps (and `land:` steps) that `step` still waits for.
    pub fn missing_dependencies(&self, step: usize) -> Vec<String> {
        let def = &self.definition.steps[step];
        let mut out: Vec<String> = def
            .depends_on
            .iter()
            .filter(|&&d| !self.steps[d].status.satisfies())
            .map(|&d| self.definition.steps[d].id.clone())
            .collect();
        out.extend(
            def.land_depends_on
                .iter()
                .filter(|l| !self.land_steps_done.contains(l))
                .map(|l| format!("land:{l}")),
        );
        out
    }

    /// What `step` waited for and is satisfied now: its dependencies (step ids) and its
    /// central steps (`land:<id>`: the Land's steps, or the association's model release).
    pub fn ready_because(&self, step: usize) -> Vec<String> {
        let def = &self.definition.steps[step];
        let mut out: Vec<String> = def
            .depends_on
            .iter()
            .filter(|&&d| self.steps[d].status.satisfies())
            .map(|&d| self.definition.steps[d].id.clone())
            .collect();
        out.extend(
            def.land_depends_on
                .iter()
                .filter(|l| self.land_steps_done.contains(l))
                .map(|l| format!("land:{l}")),
        );
        out
    }

    /// Whether every dependency of `step` (and every `land:` one) is satisfied; allocates nothing.
    pub fn dependencies_met(&self, step: usize) -> bool {
        let def = &self.definition.steps[step];
        def.depends_on.iter().all(|&d| self.steps[d].status.satisfies())
            && def.land_depends_on.iter().all(|l| self.land_steps_done.contains(l))
    }

    /// Steps that depend on `step`, directly or through others, in definition order.
    pub fn dependents(&self, step: usize) -> Vec<usize> {
        let mut found = vec![false; self.steps.len()];
        found[step] = true;
        // Dependencies point backwards in phase order but may point forward within a phase,
        // so iterate to a fixed point.
        let mut changed = true;
        while changed {
            changed = false;
            for (i, s) in self.definition.steps.iter().enumerate() {
                if !found[i] && s.depends_on.iter().any(|&d| found[d]) {
                    found[i] = true;
                    changed = true;
                }
            }
        }
        found[step] = false;
        (0..self.steps.len()).filter(|&i| found[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_state_takes_24_bytes() {
        // 40,000 rollouts × 26 steps are held by the read models; 48 bytes each before.
        assert_eq!(std::mem::size_of::<StepState>(), 24);
    }

    #[test]
    fn step_times_keep_every_value_but_the_one_standing_for_none() {
        for t in [Some(0), Some(-5), Some(i64::MAX), Some(1_700_000_000_000_000), None] {
            let t = t.map(Timestamp::from_unix_micros);
            assert_eq!(MaybeTime::new(t).get(), t);
        }
        let earliest = MaybeTime::new(Some(Timestamp::from_unix_micros(i64::MIN)));
        assert_eq!(earliest.get(), Some(Timestamp::from_unix_micros(i64::MIN + 1)));
        let s =
            StepState::restored(StepStatus::Ready, None, Some(Timestamp::from_unix_micros(7)), true, false);
        assert_eq!((s.ready_at(), s.due_at()), (None, Some(Timestamp::from_unix_micros(7))));
    }

    #[test]
    fn land_steps_stay_sorted_and_unique() {
        let mut l: LandSteps = ["b", "a", "b"].into_iter().collect();
        assert_eq!(l.iter().collect::<Vec<_>>(), ["a", "b"]);
        l.insert("c");
        l.insert("a");
        l.remove("b");
        l.remove("zz");
        assert_eq!(l.iter().collect::<Vec<_>>(), ["a", "c"]);
        assert!(l.contains("c") && !l.contains("b") && l.len() == 2);
    }
}
