//! The read model: everything queries need, folded from the global log event by event.
//! Queries never scan the log; the few that need the past (`as of`) fold a prefix of it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use catalog::{Catalog, CatalogEvent};
use rustc_hash::FxHashMap;
use store::{EventHash, RecordedEvent, Timestamp};
use workflow::registry::{
    DefinitionPublished, StoreCopied, DEFINITION_PUBLISHED, DEFINITION_STREAM_PREFIX, STORE_COPIED,
    STORE_COPY_STREAM,
};
use workflow::rollout::{Definitions, Meta, Records, Rollout, Status};
use workflow::RolloutEvent;

use crate::positions::{Descending, PositionList, TimeList};

/// How progress is grouped.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum GroupBy {
    Service,
    /// An Amt or Gemeinde counts under its Landkreis; a kreisfreie Stadt is its own group.
    Landkreis,
    Authority,
}

/// Counts of one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub rollouts: u64,
    /// (phase id, status name) → rollouts.
    pub by_phase_status: BTreeMap<(String, &'static str), u64>,
    pub steps_done: u64,
    pub steps_total: u64,
}

impl Counts {
    /// Share of applicable steps done, 0 to 100.
    pub fn percent_done(&self) -> f64 {
        if self.steps_total == 0 {
            0.0
        } else {
            100.0 * self.steps_done as f64 / self.steps_total as f64
        }
    }
}

/// A rollout's number in the model: its index in `ReadModel::entries`, given in the order the
/// rollouts started. The lists derived from rollouts (progress groups, due dates, blocked)
/// hold these instead of the rollouts' ids.
type Slot = u32;

/// A group's number: its index in `ReadModel::groups`.
type GroupId = u32;

/// One rollout in the model.
#[derive(Clone, Debug)]
struct Entry {
    /// `service:ars`.
    id: Box<str>,
    rollout: Arc<Rollout>,
    /// Its groups by service, Landkreis and administration (the order of `GROUPINGS`).
    groups: [GroupId; 3],
    /// What it adds to its groups; none before it is first counted.
    contribution: Option<Contribution>,
    /// Since when it is blocked: the time of the event that blocked it.
    blocked_since: Option<i64>,
    /// A service's central rollout (the Land's, or the association's model): counted only in
    /// its administration's group, never as an administration of its service or Landkreis.
    central: bool,
}

impl Entry {
    /// Whether it counts in its group of grouping `i` (the order of `GROUPINGS`).
    fn counts_in(&self, i: usize) -> bool {
        !self.central || GROUPINGS[i] == GroupBy::Authority
    }
}

/// What one rollout adds to its groups, and its open deadlines.
#[derive(Clone, Debug, PartialEq)]
struct Contribution {
    /// The phase's number in `ReadModel::phases`.
    phase: u32,
    status: Status,
    steps_done: u32,
    steps_total: u32,
    /// Open steps with a due date: (due, step index).
    due: Vec<(i64, u32)>,
}

/// The groupings, in the order of `Entry::groups`.
const GROUPINGS: [GroupBy; 3] = [GroupBy::Service, GroupBy::Landkreis, GroupBy::Authority];

/// Progress of one group, and (for services and administrations) its rollouts.
#[derive(Clone, Debug)]
struct Group {
    by: GroupBy,
    key: String,
    rollouts: u64,
    /// ((phase number, status), rollouts), only entries above zero.
    by_phase_status: Vec<((u32, Status), u64)>,
    steps_done: u64,
    steps_total: u64,
    /// The rollouts of a service or an administration (a rollout never changes either);
    /// empty for Landkreise, whose rollouts are found through their administrations.
    members: Vec<Slot>,
}

impl Group {
    fn add(&mut self, c: &Contribution) {
        self.rollouts += 1;
        self.steps_done += u64::from(c.steps_done);
        self.steps_total += u64::from(c.steps_total);
        let key = (c.phase, c.status);
        match self.by_phase_status.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => self.by_phase_status.push((key, 1)),
        }
    }

    fn remove(&mut self, c: &Contribution) {
        self.rollouts = self.rollouts.saturating_sub(1);
        self.steps_done = self.steps_done.saturating_sub(u64::from(c.steps_done));
        self.steps_total = self.steps_total.saturating_sub(u64::from(c.steps_total));
        let key = (c.phase, c.status);
        if let Some(i) = self.by_phase_status.iter().position(|(k, _)| *k == key) {
            self.by_phase_status[i].1 -= 1;
            if self.by_phase_status[i].1 == 0 {
                self.by_phase_status.swap_remove(i);
            }
        }
    }
}

/// Positions of events, by what they concern; each list ascends.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditIndex {
    pub by_actor: FxHashMap<String, PositionList>,
    pub by_stream: FxHashMap<String, PositionList>,
    pub by_service: FxHashMap<String, PositionList>,
    pub by_authority: FxHashMap<String, PositionList>,
    pub by_type: FxHashMap<String, PositionList>,
    /// Recorded-at of every event, in log order (non-decreasing: the store never lets time
    /// run backwards along the log), for time ranges.
    pub times: TimeList,
}

/// Which events an audit query wants. Empty filters match everything.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub stream: Option<String>,
    pub service: Option<String>,
    pub authority: Option<String>,
    pub types: Vec<String>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProjectionError {
    #[error("event at position {position} does not follow position {expected}")]
    OutOfOrder { position: u64, expected: u64 },
    #[error("event at position {position} cannot be read: {reason}")]
    Unreadable { position: u64, reason: String },
}

/// All read models, at one position of the log.
///
/// Held in memory whole (see ARCHITECTURE.md, "Read models"): at 40,000 rollouts and a million
/// events about a hundred megabytes, most of it the rollouts' step states.
#[derive(Clone, Debug, Default)]
pub struct ReadModel {
    pub position: u64,
    pub last_hash: EventHash,
    pub catalog: Catalog,
    /// Every rollout's summary (`Rollout::forget_records`: status of every step, due dates,
    /// block, assignment — not the evidence and actors of completed steps, which
    /// `rollout_at_version` folds from the stream when a query asks), in the order they
    /// started. Shared, so a query hands a rollout out without copying it.
    entries: Vec<Entry>,
    /// Slots by rollout id.
    slots: FxHashMap<Box<str>, Slot>,
    groups: Vec<Group>,
    /// Group numbers by key, one map per grouping (the order of `GROUPINGS`).
    group_ids: [FxHashMap<String, GroupId>; 3],
    /// Phase ids by number, and numbers by id.
    phases: Vec<String>,
    phase_ids: FxHashMap<String, u32>,
    /// (due, slot, step index) of open steps with a due date.
    due: BTreeSet<(i64, Slot, u32)>,
    /// (blocked since, slot).
    blocked: BTreeSet<(i64, Slot)>,
    pub audit: AuditIndex,
}

/// Equal when every answer is equal: the numbering of rollouts, groups and phases (which
/// depends on the order they were met, in the log or in a checkpoint) does not count.
impl PartialEq for ReadModel {
    fn eq(&self, other: &Self) -> bool {
        fn rollouts(m: &ReadModel) -> BTreeMap<&str, (&Rollout, Option<i64>)> {
            m.entries.iter().map(|e| (&*e.id, (&*e.rollout, e.blocked_since))).collect()
        }
        fn due(m: &ReadModel) -> Vec<(Timestamp, &str, &str)> {
            let mut v: Vec<_> = m.overdue(Timestamp::from_unix_micros(i64::MAX)).collect();
            v.sort_unstable();
            v
        }
        fn blocked(m: &ReadModel) -> BTreeSet<(Timestamp, &str)> {
            m.blocked().collect()
        }
        fn progress(m: &ReadModel) -> [BTreeMap<String, Counts>; 3] {
            GROUPINGS.map(|by| m.progress(by))
        }
        self.position == other.position
            && self.last_hash == other.last_hash
            && self.catalog == other.catalog
            && self.audit == other.audit
            && rollouts(self) == rollouts(other)
            && due(self) == due(other)
            && blocked(self) == blocked(other)
            && progress(self) == progress(other)
    }
}

/// The rollout id (`service:ars`) of a rollout stream.
pub fn rollout_id_of_stream(stream: &str) -> Option<&str> {
    stream.strip_prefix(vocab::names::ROLLOUT_STREAM_PREFIX)
}

/// Appends a position to a key's list, allocating the key only the first time.
fn push(map: &mut FxHashMap<String, PositionList>, key: &str, position: u64) -> Result<(), Descending> {
    match map.get_mut(key) {
        Some(list) => list.push(position),
        None => map.entry(key.to_owned()).or_default().push(position),
    }
}

impl ReadModel {
    // Long: one arm per kind of event the read model follows.
    /// Applies the next event of the log.
    pub fn apply(&mut self, e: &RecordedEvent, definitions: &dyn Definitions) -> Result<(), ProjectionError> {
        if e.position != self.position + 1 {
            return Err(ProjectionError::OutOfOrder { position: e.position, expected: self.position + 1 });
        }
        let unreadable = |reason: String| ProjectionError::Unreadable { position: e.position, reason };
        let at = e.recorded_at.unix_micros();
        let (mut service, mut authority) = (None, None);
        let catalog_event;
        if let Some(id) = rollout_id_of_stream(&e.stream_id) {
            let event = RolloutEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
                .map_err(unreadable)?;
            let meta = Meta { at: e.recorded_at, actor: &e.actor };
            let slot = match self.slots.get(id) {
                Some(&slot) => {
                    let rollout = Arc::make_mut(&mut self.entries[slot as usize].rollout);
                    rollout
                        .apply(&event, &meta, definitions, Records::Forget)
                        .map_err(|err| unreadable(err.to_string()))?;
                    slot
                }
                None => {
                    let rollout = Rollout::started(&event, &meta, definitions)
                        .map_err(|err| unreadable(err.to_string()))?;
                    self.add(id, rollout)
                }
            };
            self.refresh(slot, at);
            let r = &self.entries[slot as usize].rollout;
            service = Some(r.service_key.as_str());
            authority = Some(r.ars.as_str());
        } else if e.stream_id.starts_with(workflow::rollout::QUESTION_STREAM_PREFIX) {
            // A rollout's questions: audited under its service and administration.
            if let Some((s, a)) = workflow::rollout::rollout_of_stream(&e.stream_id) {
                (service, authority) = (Some(s), Some(a));
            }
        } else if let Some(decoded) =
            CatalogEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
        {
            catalog_event = decoded.map_err(unreadable)?;
            self.catalog.apply(&e.stream_id, &catalog_event);
            match &catalog_event {
                CatalogEvent::ServiceRegistered(s) | CatalogEvent::ServiceChanged { service: s, .. } => {
                    service = Some(s.key.as_str())
                }
                CatalogEvent::AuthorityRegistered(a)
                | CatalogEvent::AuthorityChanged { authority: a, .. } => authority = Some(a.ars.as_str()),
                CatalogEvent::AuthorityDissolved { .. } | CatalogEvent::BackOfficeSystemSet { .. } => {
                    authority = e.stream_id.strip_prefix(vocab::names::AUTHORITY_STREAM_PREFIX)
                }
                CatalogEvent::ServiceDefinitionSet { .. }
                | CatalogEvent::ResponsibilityChanged { .. }
                | CatalogEvent::ServiceOffered(_) => {
                    service = e.stream_id.strip_prefix(vocab::names::SERVICE_STREAM_PREFIX)
                }
                CatalogEvent::OfferAnswered(catalog::Answer { service: s, .. })
                | CatalogEvent::UsageRecorded(catalog::Usage { service: s, .. })
                | CatalogEvent::EndToEndSet { service: s, .. } => {
                    service = Some(s.as_str());
                    authority = e.stream_id.strip_prefix(vocab::names::AUTHORITY_STREAM_PREFIX)
                }
                CatalogEvent::SupportRecorded(s) => {
                    service = s.service.as_deref();
                    authority = e.stream_id.strip_prefix(vocab::names::AUTHORITY_STREAM_PREFIX)
                }
                CatalogEvent::TargetSet(_) => {}
            }
            if let Some(ars) = authority {
                self.regroup(ars);
            }
        } else if e.event_type == DEFINITION_PUBLISHED.0 && e.stream_id.starts_with(DEFINITION_STREAM_PREFIX)
        {
            // Learnt in log order: every rollout started on it comes later.
            let published =
                DefinitionPublished::from_payload(e.schema_version, e.data.as_str()).map_err(unreadable)?;
            definitions
                .learn(&published, &Meta { at: e.recorded_at, actor: &e.actor })
                .map_err(unreadable)?;
        } else if e.event_type == STORE_COPIED.0 && e.stream_id == STORE_COPY_STREAM {
            let copied = StoreCopied::from_payload(e.schema_version, e.data.as_str()).map_err(unreadable)?;
            definitions.learn_person_fields(&copied.person_fields);
        }
        let a = &mut self.audit;
        let p = e.position;
        let out_of_order = |d: Descending| unreadable(d.to_string());
        push(&mut a.by_actor, &e.actor.id, p).map_err(out_of_order)?;
        push(&mut a.by_stream, &e.stream_id, p).map_err(out_of_order)?;
        push(&mut a.by_type, &e.event_type, p).map_err(out_of_order)?;
        if let Some(s) = service {
            push(&mut a.by_service, s, p).map_err(out_of_order)?;
        }
        if let Some(ars) = authority {
            push(&mut a.by_authority, ars, p).map_err(out_of_order)?;
        }
        a.times.push_clamped(at);
        self.position = e.position;
        self.last_hash = e.hash;
        Ok(())
    }

    /// Takes a rollout in: gives it a slot and puts it in its groups (uncounted until
    /// `refresh`).
    fn add(&mut self, id: &str, rollout: Rollout) -> Slot {
        let slot = self.entries.len() as Slot;
        let landkreis = self.landkreis_of(&rollout.ars).to_owned();
        let groups = [
            self.group(GroupBy::Service, &rollout.service_key),
            self.group(GroupBy::Landkreis, &landkreis),
            self.group(GroupBy::Authority, &rollout.ars),
        ];
        self.groups[groups[0] as usize].members.push(slot);
        self.groups[groups[2] as usize].members.push(slot);
        self.slots.insert(id.into(), slot);
        let central = self.catalog.central_of(&rollout.service_key) == rollout.ars;
        self.entries.push(Entry {
            id: id.into(),
            rollout: Arc::new(rollout),
            groups,
            contribution: None,
            blocked_since: None,
            central,
        });
        slot
    }

    /// The Landkreis an administration counts under (a kreisfreie Stadt, or an
    /// administration the catalogue does not know, is its own).
    fn landkreis_of<'a>(&'a self, ars: &'a str) -> &'a str {
        self.catalog.authorities.get(ars).and_then(|a| a.authority.landkreis_ars.as_deref()).unwrap_or(ars)
    }

    /// The number of a group, made on first use.
    fn group(&mut self, by: GroupBy, key: &str) -> GroupId {
        let ids = &mut self.group_ids[by as usize];
        if let Some(&id) = ids.get(key) {
            return id;
        }
        let id = self.groups.len() as GroupId;
        ids.insert(key.to_owned(), id);
        self.groups.push(Group {
            by,
            key: key.to_owned(),
            rollouts: 0,
            by_phase_status: Vec::new(),
            steps_done: 0,
            steps_total: 0,
            members: Vec::new(),
        });
        id
    }

    /// Moves an administration's rollouts to the Landkreis the catalogue now gives it.
    fn regroup(&mut self, ars: &str) {
        let Some(&authority) = self.group_ids[GroupBy::Authority as usize].get(ars) else { return };
        let landkreis = self.landkreis_of(ars).to_owned();
        let landkreis = self.group(GroupBy::Landkreis, &landkreis);
        for i in 0..self.groups[authority as usize].members.len() {
            let slot = self.groups[authority as usize].members[i] as usize;
            let entry = &mut self.entries[slot];
            let old = std::mem::replace(&mut entry.groups[1], landkreis);
            if old != landkreis && entry.counts_in(1) {
                if let Some(c) = &entry.contribution {
                    self.groups[old as usize].remove(c);
                    self.groups[landkreis as usize].add(c);
                }
            }
        }
    }

    /// Brings the derived lists up to date with a rollout that changed at `at`: its
    /// contribution to its groups, its deadlines, whether it is blocked.
    fn refresh(&mut self, slot: Slot, at: i64) {
        let entry = &mut self.entries[slot as usize];
        let r = &*entry.rollout;
        match (r.blocked.is_some(), entry.blocked_since) {
            (true, None) => {
                entry.blocked_since = Some(at);
                self.blocked.insert((at, slot));
            }
            (false, Some(since)) => {
                entry.blocked_since = None;
                self.blocked.remove(&(since, slot));
            }
            _ => {}
        }
        let phase_id = r.definition.phases.get(r.phase()).map_or("", |p| p.id.as_str());
        let phase = match self.phase_ids.get(phase_id) {
            Some(&n) => n,
            None => {
                let n = self.phases.len() as u32;
                self.phases.push(phase_id.to_owned());
                self.phase_ids.insert(phase_id.to_owned(), n);
                n
            }
        };
        let (done, total) = r.steps_done();
        let (status, steps_done, steps_total) = (r.status(), done as u32, total as u32);
        let deadlines = || r.deadlines().map(|(i, due)| (due.unix_micros(), i as u32));
        let old = entry.contribution.take();
        let same_due = old.as_ref().is_some_and(|c| deadlines().eq(c.due.iter().copied()));
        let new = Contribution {
            phase,
            status,
            steps_done,
            steps_total,
            due: match &old {
                Some(c) if same_due => c.due.clone(),
                _ => deadlines().collect(),
            },
        };
        if old.as_ref() == Some(&new) {
            entry.contribution = old;
            return;
        }
        for (i, g) in entry.groups.into_iter().enumerate() {
            if !entry.counts_in(i) {
                continue;
            }
            if let Some(old) = &old {
                self.groups[g as usize].remove(old);
            }
            self.groups[g as usize].add(&new);
        }
        if !same_due {
            for &(due, step) in old.iter().flat_map(|c| &c.due) {
                self.due.remove(&(due, slot, step));
            }
            for &(due, step) in &new.due {
                self.due.insert((due, slot, step));
            }
        }
        entry.contribution = Some(new);
    }

    /// One rollout's summary, by id (`service:ars`).
    pub fn rollout(&self, id: &str) -> Option<&Arc<Rollout>> {
        self.slots.get(id).map(|&slot| &self.entries[slot as usize].rollout)
    }

    /// Every rollout's summary, in the order they started.
    pub fn rollouts(&self) -> impl Iterator<Item = &Arc<Rollout>> {
        self.entries.iter().map(|e| &e.rollout)
    }

    /// How many rollouts there are.
    pub fn rollout_count(&self) -> usize {
        self.entries.len()
    }

    fn members(&self, by: GroupBy, key: &str) -> impl Iterator<Item = &Arc<Rollout>> {
        let group = self.group_ids[by as usize].get(key).map(|&g| &self.groups[g as usize]);
        group.into_iter().flat_map(|g| &g.members).map(|&slot| &self.entries[slot as usize].rollout)
    }

    /// The rollouts of an administration.
    pub fn rollouts_of_authority(&self, ars: &str) -> impl Iterator<Item = &Arc<Rollout>> {
        self.members(GroupBy::Authority, ars)
    }

    /// The rollouts of a service.
    pub fn rollouts_of_service(&self, key: &str) -> impl Iterator<Item = &Arc<Rollout>> {
        self.members(GroupBy::Service, key)
    }

    /// Progress of every group of one kind, by group key.
    pub fn progress(&self, by: GroupBy) -> BTreeMap<String, Counts> {
        self.groups
            .iter()
            .filter(|g| g.by == by && g.rollouts > 0)
            .map(|g| {
                let by_phase_status = g
                    .by_phase_status
                    .iter()
                    .map(|&((phase, status), n)| ((self.phases[phase as usize].clone(), status.name()), n))
                    .collect();
                let counts = Counts {
                    rollouts: g.rollouts,
                    by_phase_status,
                    steps_done: g.steps_done,
                    steps_total: g.steps_total,
                };
                (g.key.clone(), counts)
            })
            .collect()
    }

    /// `progress` of the rollouts whose service `keep` accepts (a programme's), computed from
    /// each rollout's contribution on demand: one pass over the rollouts (the unfiltered counts
    /// are kept incrementally).
    pub fn progress_where(&self, by: GroupBy, keep: impl Fn(&str) -> bool) -> BTreeMap<String, Counts> {
        let i = GROUPINGS.iter().position(|g| *g == by).unwrap_or(0);
        let mut out: BTreeMap<String, Counts> = BTreeMap::new();
        for e in &self.entries {
            let Some(c) = &e.contribution else { continue };
            if !keep(&e.rollout.service_key) {
                continue;
            }
            if !e.counts_in(i) {
                continue;
            }
            let key = &self.groups[e.groups[i] as usize].key;
            let counts = out.entry(key.clone()).or_insert_with(|| Counts {
                rollouts: 0,
                by_phase_status: BTreeMap::new(),
                steps_done: 0,
                steps_total: 0,
            });
            counts.rollouts += 1;
            *counts
                .by_phase_status
                .entry((self.phases[c.phase as usize].clone(), c.status.name()))
                .or_insert(0) += 1;
            counts.steps_done += u64::from(c.steps_done);
            counts.steps_total += u64::from(c.steps_total);
        }
        out
    }

    /// Blocked rollouts per group `by` and blockage category (`""`: none given), of the
    /// services `keep` accepts. Walks only the blocked rollouts.
    pub fn blocked_by_group(
        &self,
        by: GroupBy,
        keep: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, BTreeMap<String, u64>> {
        let i = GROUPINGS.iter().position(|g| *g == by).unwrap_or(0);
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for &(_, slot) in &self.blocked {
            let e = &self.entries[slot as usize];
            if !keep(&e.rollout.service_key) || !e.counts_in(i) {
                continue;
            }
            let category = e.rollout.block.category.clone().unwrap_or_default();
            let group = self.groups[e.groups[i] as usize].key.clone();
            *out.entry(group).or_default().entry(category).or_insert(0) += 1;
        }
        out
    }

    /// When the last event folded was recorded.
    pub fn last_recorded_at(&self) -> Option<Timestamp> {
        self.audit.times.last().map(Timestamp::from_unix_micros)
    }

    /// Rollouts with an open step past its due date at `now`, per group `by`, of the services
    /// `keep` accepts; groups without any are left out. Walks only the due dates before `now`.
    pub fn overdue_by_group(
        &self,
        by: GroupBy,
        now: Timestamp,
        keep: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, u64> {
        let i = GROUPINGS.iter().position(|g| *g == by).unwrap_or(0);
        let mut slots: Vec<Slot> =
            self.due.range(..(now.unix_micros(), 0, 0)).map(|&(_, slot, _)| slot).collect();
        slots.sort_unstable();
        slots.dedup();
        let mut out = BTreeMap::new();
        for slot in slots {
            let e = &self.entries[slot as usize];
            if keep(&e.rollout.service_key) && e.counts_in(i) {
                *out.entry(self.groups[e.groups[i] as usize].key.clone()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Open steps whose due date is before `now`, longest overdue first: (due, rollout id,
    /// step id).
    pub fn overdue(&self, now: Timestamp) -> impl Iterator<Item = (Timestamp, &str, &str)> {
        self.due.range(..(now.unix_micros(), 0, 0)).map(|&(due, slot, step)| {
            let entry = &self.entries[slot as usize];
            let step = entry.rollout.definition.steps[step as usize].id.as_str();
            (Timestamp::from_unix_micros(due), &*entry.id, step)
        })
    }

    /// Blocked rollouts, longest blocked first: (since, rollout id).
    pub fn blocked(&self) -> impl Iterator<Item = (Timestamp, &str)> {
        self.blocked
            .iter()
            .map(|&(since, slot)| (Timestamp::from_unix_micros(since), &*self.entries[slot as usize].id))
    }

    /// Steps past their due date for which no `StepOverdue` is recorded yet: (service, ARS, step).
    pub fn due_for_overdue_event(&self, now: Timestamp) -> Vec<(String, String, String)> {
        self.overdue(now)
            .filter_map(|(_, id, step)| {
                let r = self.rollout(id)?;
                let (_, s) = r.step(step)?;
                (!s.overdue_recorded).then(|| (r.service_key.clone(), r.ars.clone(), step.to_owned()))
            })
            .collect()
    }
}

impl ReadModel {
    /// Rebuilds the model from restored state: each rollout with since when it is blocked;
    /// the derived parts (progress, overdue and blocked lists) are recomputed.
    pub(crate) fn restore(
        position: u64,
        last_hash: EventHash,
        catalog: Catalog,
        rollouts: impl IntoIterator<Item = (Rollout, Option<i64>)>,
        audit: AuditIndex,
    ) -> ReadModel {
        let mut m = ReadModel { position, last_hash, catalog, audit, ..ReadModel::default() };
        for (r, blocked_since) in rollouts {
            let slot = m.add(&r.id(), r);
            if let Some(since) = blocked_since {
                m.entries[slot as usize].blocked_since = Some(since);
                m.blocked.insert((since, slot));
            }
            m.refresh(slot, blocked_since.unwrap_or(0));
        }
        m
    }

    /// Every rollout with since when it is blocked (for the checkpoint).
    pub(crate) fn rollouts_blocked_since(&self) -> impl Iterator<Item = (&Arc<Rollout>, Option<i64>)> {
        self.entries.iter().map(|e| (&e.rollout, e.blocked_since))
    }
}
