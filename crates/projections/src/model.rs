//! The read model: everything queries need, folded from the global log event by event.
//! Queries never scan the log; the few that need the past (`as of`) fold a prefix of it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use catalog::{Catalog, CatalogEvent};
use store::{EventHash, RecordedEvent, Timestamp};
use workflow::rollout::{Definitions, Meta, Rollout};
use workflow::RolloutEvent;

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
    fn add(&mut self, c: &Contribution, sign: i64) {
        let apply = |v: &mut u64, d: u64| {
            *v = if sign > 0 { *v + d } else { v.saturating_sub(d) };
        };
        apply(&mut self.rollouts, 1);
        let key = (c.phase.clone(), c.status);
        let entry = self.by_phase_status.entry(key.clone()).or_insert(0);
        apply(entry, 1);
        if *entry == 0 {
            self.by_phase_status.remove(&key);
        }
        apply(&mut self.steps_done, c.steps_done);
        apply(&mut self.steps_total, c.steps_total);
    }

    /// Share of applicable steps done, 0 to 100.
    pub fn percent_done(&self) -> f64 {
        if self.steps_total == 0 {
            0.0
        } else {
            100.0 * self.steps_done as f64 / self.steps_total as f64
        }
    }
}

/// What one rollout adds to its groups.
#[derive(Clone, Debug, PartialEq)]
struct Contribution {
    groups: [(GroupBy, String); 3],
    phase: String,
    status: &'static str,
    steps_done: u64,
    steps_total: u64,
    /// Open steps with a due date: (due, step).
    due: Vec<(i64, String)>,
    /// Since when it is blocked.
    blocked_since: Option<i64>,
}

/// Positions of events, by what they concern; each list ascends.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditIndex {
    pub by_actor: HashMap<String, Vec<u64>>,
    pub by_stream: HashMap<String, Vec<u64>>,
    pub by_service: HashMap<String, Vec<u64>>,
    pub by_authority: HashMap<String, Vec<u64>>,
    pub by_type: HashMap<String, Vec<u64>>,
    /// Recorded-at of every event, by position - 1 (non-decreasing: the store never lets time
    /// run backwards along the log), for time ranges.
    pub times: Vec<i64>,
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
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadModel {
    pub position: u64,
    pub last_hash: EventHash,
    pub catalog: Catalog,
    /// Every rollout's summary (`Rollout::forget_records`: status of every step, due dates,
    /// block, assignment — not the evidence and actors of completed steps, which
    /// `rollout_at_version` folds from the stream when a query asks). Shared, so a query hands a
    /// rollout out without copying it.
    pub rollouts: HashMap<String, Arc<Rollout>>,
    contributions: HashMap<String, Contribution>,
    progress: HashMap<(GroupBy, String), Counts>,
    /// (due, rollout id, step) of open steps with a due date.
    due: BTreeSet<(i64, String, String)>,
    /// (blocked since, rollout id).
    blocked: BTreeSet<(i64, String)>,
    blocked_since: HashMap<String, i64>,
    /// Rollout ids by administration and by service (catalogue views).
    by_authority: HashMap<String, BTreeSet<String>>,
    by_service: HashMap<String, BTreeSet<String>>,
    pub audit: AuditIndex,
}

/// The rollout id (`service:ars`) of a rollout stream.
pub fn rollout_id_of_stream(stream: &str) -> Option<&str> {
    stream.strip_prefix("rollout-")
}

/// Appends a position to a key's list, allocating the key only the first time.
fn push(map: &mut HashMap<String, Vec<u64>>, key: &str, position: u64) {
    match map.get_mut(key) {
        Some(list) => list.push(position),
        None => {
            map.insert(key.to_owned(), vec![position]);
        }
    }
}

/// The positions under `key`, when the filter names one (none stored: an empty list).
fn pick<'a>(map: &'a HashMap<String, Vec<u64>>, key: &Option<String>) -> Option<&'a [u64]> {
    key.as_ref().map(|k| map.get(k).map_or(&[][..], Vec::as_slice))
}

impl ReadModel {
    /// Applies the next event of the log.
    pub fn apply(&mut self, e: &RecordedEvent, definitions: &dyn Definitions) -> Result<(), ProjectionError> {
        if e.position != self.position + 1 {
            return Err(ProjectionError::OutOfOrder { position: e.position, expected: self.position + 1 });
        }
        let unreadable = |reason: String| ProjectionError::Unreadable { position: e.position, reason };
        let (mut service, mut authority) = (None, None);
        if let Some(id) = rollout_id_of_stream(&e.stream_id) {
            let event = RolloutEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
                .map_err(unreadable)?;
            let meta = Meta { at: e.recorded_at, actor: e.actor.clone() };
            let (key, previous) = match self.rollouts.remove_entry(id) {
                Some((k, r)) => (k, Some(Arc::unwrap_or_clone(r))),
                None => (id.to_owned(), None),
            };
            let first = previous.is_none();
            let was_blocked = previous.as_ref().is_some_and(|r| r.blocked.is_some());
            let mut next = Rollout::evolve(previous, &event, &meta, definitions)
                .map_err(|err| unreadable(err.to_string()))?;
            next.forget_records();
            if next.blocked.is_some() && !was_blocked {
                self.blocked_since.insert(id.to_owned(), e.recorded_at.unix_micros());
            } else if next.blocked.is_none() {
                self.blocked_since.remove(id);
            }
            service = Some(next.service_key.clone());
            authority = Some(next.ars.clone());
            if first {
                self.by_authority.entry(next.ars.clone()).or_default().insert(id.to_owned());
                self.by_service.entry(next.service_key.clone()).or_default().insert(id.to_owned());
            }
            let contribution = self.contribution(id, &next);
            if self.contributions.get(id) != Some(&contribution) {
                self.replace_contribution(id, contribution);
            }
            self.rollouts.insert(key, Arc::new(next));
        } else if let Some(decoded) =
            CatalogEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
        {
            let event = decoded.map_err(unreadable)?;
            self.catalog.apply(&e.stream_id, &event);
            match &event {
                CatalogEvent::ServiceRegistered(s) | CatalogEvent::ServiceChanged { service: s, .. } => {
                    service = Some(s.key.clone())
                }
                CatalogEvent::AuthorityRegistered(a)
                | CatalogEvent::AuthorityChanged { authority: a, .. } => authority = Some(a.ars.clone()),
                CatalogEvent::AuthorityDissolved { .. } => {
                    authority = e.stream_id.strip_prefix("authority-").map(String::from)
                }
            }
        }
        let a = &mut self.audit;
        let p = e.position;
        push(&mut a.by_actor, &e.actor.id, p);
        push(&mut a.by_stream, &e.stream_id, p);
        push(&mut a.by_type, &e.event_type, p);
        if let Some(s) = service {
            push(&mut a.by_service, &s, p);
        }
        if let Some(ars) = authority {
            push(&mut a.by_authority, &ars, p);
        }
        a.times.push(e.recorded_at.unix_micros());
        self.position = e.position;
        self.last_hash = e.hash;
        Ok(())
    }

    fn contribution(&self, id: &str, r: &Rollout) -> Contribution {
        let landkreis = self
            .catalog
            .authorities
            .get(&r.ars)
            .and_then(|a| a.authority.landkreis_ars.clone())
            .unwrap_or_else(|| r.ars.clone());
        let (steps_done, steps_total) = r.steps_done();
        let due =
            r.deadlines().map(|(i, due)| (due.unix_micros(), r.definition.steps[i].id.clone())).collect();
        Contribution {
            groups: [
                (GroupBy::Service, r.service_key.clone()),
                (GroupBy::Landkreis, landkreis),
                (GroupBy::Authority, r.ars.clone()),
            ],
            phase: r.definition.phases.get(r.phase()).map(|p| p.id.clone()).unwrap_or_default(),
            status: r.status().name(),
            steps_done,
            steps_total,
            due,
            blocked_since: r.blocked.as_ref().and(self.blocked_since.get(id).copied()),
        }
    }

    fn replace_contribution(&mut self, id: &str, new: Contribution) {
        if let Some(old) = self.contributions.remove(id) {
            for g in &old.groups {
                if let Some(c) = self.progress.get_mut(g) {
                    c.add(&old, -1);
                }
            }
            for (due, step) in &old.due {
                self.due.remove(&(*due, id.to_owned(), step.clone()));
            }
            if let Some(since) = old.blocked_since {
                self.blocked.remove(&(since, id.to_owned()));
            }
        }
        for g in &new.groups {
            self.progress.entry(g.clone()).or_default().add(&new, 1);
        }
        for (due, step) in &new.due {
            self.due.insert((*due, id.to_owned(), step.clone()));
        }
        if let Some(since) = new.blocked_since {
            self.blocked.insert((since, id.to_owned()));
        }
        self.contributions.insert(id.to_owned(), new);
    }

    /// The rollouts of an administration, by id.
    pub fn rollouts_of_authority(&self, ars: &str) -> impl Iterator<Item = &Arc<Rollout>> {
        self.by_authority.get(ars).into_iter().flatten().filter_map(|id| self.rollouts.get(id))
    }

    /// The rollouts of a service, by id.
    pub fn rollouts_of_service(&self, key: &str) -> impl Iterator<Item = &Arc<Rollout>> {
        self.by_service.get(key).into_iter().flatten().filter_map(|id| self.rollouts.get(id))
    }

    /// Progress of every group of one kind, by group key.
    pub fn progress(&self, by: GroupBy) -> BTreeMap<String, Counts> {
        self.progress
            .iter()
            .filter(|((g, _), c)| *g == by && c.rollouts > 0)
            .map(|((_, k), c)| (k.clone(), c.clone()))
            .collect()
    }

    /// Open steps whose due date is before `now`, longest overdue first.
    pub fn overdue(&self, now: Timestamp) -> impl Iterator<Item = (Timestamp, &str, &str)> {
        self.due
            .range(..(now.unix_micros(), String::new(), String::new()))
            .map(|(due, id, step)| (Timestamp::from_unix_micros(*due), id.as_str(), step.as_str()))
    }

    /// Blocked rollouts, longest blocked first.
    pub fn blocked(&self) -> impl Iterator<Item = (Timestamp, &str)> {
        self.blocked.iter().map(|(since, id)| (Timestamp::from_unix_micros(*since), id.as_str()))
    }

    /// Positions of the events matching `filter`, ascending, after position `after`, at most
    /// `limit`. Uses the narrowest index; never reads the log.
    pub fn audit(&self, filter: &AuditFilter, after: u64, limit: usize) -> Vec<u64> {
        let a = &self.audit;
        let mut lists: Vec<&[u64]> = Vec::new();
        for list in [
            pick(&a.by_actor, &filter.actor),
            pick(&a.by_stream, &filter.stream),
            pick(&a.by_service, &filter.service),
            pick(&a.by_authority, &filter.authority),
        ]
        .into_iter()
        .flatten()
        {
            lists.push(list);
        }
        // Time range → position range (times ascend with positions).
        let first = filter.from.map_or(1, |t| a.times.partition_point(|&x| x < t.unix_micros()) as u64 + 1);
        let last =
            filter.until.map_or(self.position, |t| a.times.partition_point(|&x| x <= t.unix_micros()) as u64);
        let start = first.max(after + 1);
        let mut types: Vec<&[u64]> =
            filter.types.iter().map(|t| a.by_type.get(t).map_or(&[][..], Vec::as_slice)).collect();
        let type_ok = |p: u64, types: &Vec<&[u64]>| {
            types.is_empty() || types.iter().any(|l| l.binary_search(&p).is_ok())
        };
        let mut out = Vec::with_capacity(limit.min(1_000));
        match lists.iter().min_by_key(|l| l.len()) {
            Some(driver) => {
                let from = driver.partition_point(|&p| p < start);
                for &p in &driver[from..] {
                    if p > last || out.len() == limit {
                        break;
                    }
                    if lists.iter().all(|l| l.binary_search(&p).is_ok()) && type_ok(p, &types) {
                        out.push(p);
                    }
                }
            }
            None if types.len() == 1 => {
                let list = types.remove(0);
                let from = list.partition_point(|&p| p < start);
                out.extend(list[from..].iter().copied().take_while(|&p| p <= last).take(limit));
            }
            None => {
                let mut p = start;
                while p <= last && out.len() < limit {
                    if type_ok(p, &types) {
                        out.push(p);
                    }
                    p += 1;
                }
            }
        }
        out
    }

    /// Rebuilds the derived parts (progress, overdue and blocked lists) from restored state.
    pub(crate) fn restore(
        position: u64,
        last_hash: EventHash,
        catalog: Catalog,
        rollouts: HashMap<String, Arc<Rollout>>,
        blocked_since: HashMap<String, i64>,
        audit: AuditIndex,
    ) -> ReadModel {
        let mut m = ReadModel { position, last_hash, catalog, blocked_since, audit, ..ReadModel::default() };
        for (id, r) in &rollouts {
            let c = m.contribution(id, r);
            m.replace_contribution(id, c);
            m.by_authority.entry(r.ars.clone()).or_default().insert(id.clone());
            m.by_service.entry(r.service_key.clone()).or_default().insert(id.clone());
        }
        m.rollouts = rollouts;
        m
    }

    pub(crate) fn blocked_since(&self) -> &HashMap<String, i64> {
        &self.blocked_since
    }

    /// Steps past their due date for which no `StepOverdue` is recorded yet: (service, ARS, step).
    pub fn due_for_overdue_event(&self, now: Timestamp) -> Vec<(String, String, String)> {
        self.overdue(now)
            .filter_map(|(_, id, step)| {
                let r = self.rollouts.get(id)?;
                let (_, s) = r.step(step)?;
                (!s.overdue_recorded).then(|| (r.service_key.clone(), r.ars.clone(), step.to_owned()))
            })
            .collect()
    }
}
