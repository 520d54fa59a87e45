//! The OZG network's questions: who is how far with a service (`peers`: phase, status, when a
//! step was completed, consented contacts, the back-office system; nearest first), and
//! blocked rollouts grouped by category or vendor. Never evidence, comments or questions of
//! another administration's rollout.

use std::collections::HashMap;

use catalog::centres::{km, Centres};
use engine::{Engine, EngineError, Personal};
use projections::Projector;
use store::Timestamp;
use workflow::StepStatus;

use crate::caller::Caller;

/// What `peers` asks.
#[derive(Clone, Copy, Debug)]
pub struct PeerQuery<'a> {
    pub service_key: &'a str,
    /// Only those that completed this step (and when).
    pub step_id: Option<&'a str>,
    /// Only those that use this back-office product (case-insensitive) in the service's area.
    pub product: Option<&'a str>,
}

/// A contact person who agreed to be named for the service.
#[derive(Clone, Debug)]
pub struct Contact {
    pub id: uuid::Uuid,
    pub name: String,
    pub function: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Another administration's progress on a service, as the network shows it.
#[derive(Clone, Debug)]
pub struct Peer {
    pub authority: catalog::Authority,
    /// The phase its rollout is in (phase id).
    pub phase: String,
    /// Its status; `blocked` only where the caller may read the rollout.
    pub status: workflow::Status,
    pub in_operation: bool,
    /// When it completed the asked step.
    pub completed_at: Option<Timestamp>,
    /// In the same Landkreis as the caller's administration.
    pub same_landkreis: bool,
    /// Kilometres between the centres of the two administrations' areas, to 0.1 km.
    pub distance_km: Option<f64>,
    pub contacts: Vec<Contact>,
    /// The back-office system in the service's subject area: (area, system).
    pub back_office: Option<(String, catalog::events::BackOfficeSystem)>,
}

/// Why `peers` has no answer.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    #[error("no rollout of `{service}` has a step `{step}`")]
    NoSuchStep { service: String, step: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Who is how far with a service, for every caller: every administration with a rollout of it
/// (with a step: those that completed it), the central ones left out; nearest first (same
/// Landkreis as the caller's administration, then by distance), then the earliest.
pub async fn peers(
    engine: &Engine,
    projector: &Projector,
    centres: &Centres,
    c: &Caller,
    q: PeerQuery<'_>,
) -> Result<Vec<Peer>, PeersError> {
    if !c.may_read_network() {
        return Ok(Vec::new());
    }
    let service_key = q.service_key;
    let catalog = engine.catalog();
    let rollouts = peer_rollouts(engine, projector, &q)?;
    let landkreis_of = |ars: &str| landkreis_of(&catalog, ars);
    let me = c.home();
    let my_kreis = me.map(landkreis_of);
    let my_seat = me.and_then(|a| centres.of(a));
    // The persons who may be named for this service, by administration (one pass).
    let mut named: HashMap<String, Vec<uuid::Uuid>> = HashMap::new();
    for p in engine.persons().all().into_iter().filter(|p| p.named_for(service_key)) {
        named.entry(p.ars).or_default().push(p.id);
    }
    let area = catalog.services.get(service_key).map(|s| s.service.subject_area.clone()).unwrap_or_default();
    let wanted = q.product.map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty());
    let mut peers = Vec::new();
    for r in rollouts {
        let Some(entry) = catalog.authorities.get(&r.ars) else { continue };
        let back_office = entry.back_office.get(&area);
        if let Some(w) = &wanted {
            if back_office.is_none_or(|b| b.product.to_lowercase() != *w) {
                continue;
            }
        }
        let completed_at = match q.step_id {
            None => None,
            Some(step) => match completed(engine, &r, step).await? {
                Some(at) => at,
                None => continue,
            },
        };
        let contacts = contacts_of(engine, named.get(&r.ars).map(Vec::as_slice).unwrap_or_default()).await?;
        peers.push(Peer {
            authority: entry.authority.clone(),
            phase: r.definition.phases.get(r.phase()).map(|p| p.id.clone()).unwrap_or_default(),
            // Another administration's blockage is not shown: its end would name whose the
            // unnamed solution that appears with it is.
            status: if c.may_read_rollout(&r.service_key, &r.ars) {
                r.status()
            } else {
                r.status_unblocked()
            },
            in_operation: r.status() == workflow::Status::Live,
            completed_at,
            same_landkreis: my_kreis.as_deref() == Some(landkreis_of(&r.ars).as_str()),
            distance_km: my_seat.zip(centres.of(&r.ars)).map(|(a, b)| (km(a, b) * 10.0).round() / 10.0),
            contacts,
            back_office: back_office.map(|b| (area.clone(), b.clone())),
        });
    }
    peers.retain(|p| me != Some(p.authority.ars.as_str()));
    let order = |p: &Peer| {
        (!p.same_landkreis, p.distance_km.unwrap_or(f64::MAX), p.completed_at, p.authority.ars.clone())
    };
    peers.sort_by(|a, b| order(a).partial_cmp(&order(b)).unwrap_or(std::cmp::Ordering::Equal));
    Ok(peers)
}

/// The Landkreis of `ars` (a kreisfreie Stadt and a Landkreis: itself).
fn landkreis_of(catalog: &catalog::Catalog, ars: &str) -> String {
    catalog
        .authorities
        .get(ars)
        .and_then(|a| a.authority.landkreis_ars.clone())
        .unwrap_or_else(|| ars.to_owned())
}

/// When `r` completed `step`: `None` when it has not (or has no such step); the time from the
/// step's record (the engine's cache or the rollout's stream).
async fn completed(
    engine: &Engine,
    r: &workflow::rollout::Rollout,
    step: &str,
) -> Result<Option<Option<Timestamp>>, EngineError> {
    let Some(i) = r.definition.step_index(step) else { return Ok(None) };
    if r.steps[i].status != StepStatus::Done {
        return Ok(None);
    }
    let full = engine.load(&r.service_key, &r.ars).await?;
    Ok(Some(full.and_then(|f| f.completed_at(i))))
}

/// The contact details of `persons` that can be read (erased ones are left out).
async fn contacts_of(engine: &Engine, persons: &[uuid::Uuid]) -> Result<Vec<Contact>, EngineError> {
    let mut contacts = Vec::new();
    for &id in persons {
        if let Some(Personal::Readable(d)) = engine.person_details(id).await? {
            contacts.push(Contact { id, name: d.name, function: d.function, email: d.email, phone: d.phone });
        }
    }
    Ok(contacts)
}

/// The rollouts of the asked service but the central ones; refused when no rollout of it has
/// the asked step.
fn peer_rollouts(
    engine: &Engine,
    projector: &Projector,
    q: &PeerQuery<'_>,
) -> Result<Vec<std::sync::Arc<workflow::rollout::Rollout>>, PeersError> {
    let service_key = q.service_key;
    let central = engine.central_ars(service_key);
    let land = engine.read_catalog(|c| c.land_ars());
    let rollouts: Vec<_> = projector.read(|m| {
        m.rollouts_of_service(service_key)
            .filter(|r| r.ars != central && Some(r.ars.as_str()) != land.as_deref())
            .cloned()
            .collect()
    });
    if let Some(step) = q.step_id {
        if !rollouts.iter().any(|r| r.definition.step_index(step).is_some()) && !rollouts.is_empty() {
            return Err(PeersError::NoSuchStep { service: service_key.to_owned(), step: step.to_owned() });
        }
    }
    Ok(rollouts)
}

/// How blocked rollouts are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    Category,
    Vendor,
}

/// A group of blocked rollouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedGroup {
    /// The category (stored name) or vendor; empty when not recorded.
    pub key: String,
    /// `<serviceKey>:<ARS>` of each.
    pub rollout_ids: Vec<String>,
    /// Distinct administrations.
    pub authorities: u64,
}

/// Blocked rollouts grouped by category or vendor, largest group first — for callers who read
/// across administrations (empty for others).
pub fn blockage_groups(projector: &Projector, c: &Caller, by: Grouping) -> Vec<BlockedGroup> {
    if !c.is_manager() {
        return Vec::new();
    }
    let mut groups: std::collections::BTreeMap<String, (Vec<String>, std::collections::BTreeSet<String>)> =
        Default::default();
    projector.read(|m| {
        for (_, id) in m.blocked() {
            let Some(r) = m.rollout(id) else { continue };
            let key = match by {
                Grouping::Category => r.block.category.clone(),
                Grouping::Vendor => r.block.vendor.clone(),
            }
            .unwrap_or_default();
            let g = groups.entry(key).or_default();
            g.0.push(id.to_owned());
            g.1.insert(r.ars.clone());
        }
    });
    let mut out: Vec<BlockedGroup> = groups
        .into_iter()
        .map(|(key, (rollout_ids, arss))| BlockedGroup { key, rollout_ids, authorities: arss.len() as u64 })
        .collect();
    out.sort_by(|a, b| b.rollout_ids.len().cmp(&a.rollout_ids.len()).then(a.key.cmp(&b.key)));
    out
}

/// The rollouts blocked now in `group` ((service key, ARS)), for an escalation by a caller who
/// may escalate (none for others).
pub fn blocked_in_group(
    projector: &Projector,
    c: &Caller,
    group: &engine::escalation::BlockageGroup,
) -> Vec<(String, String)> {
    if !c.may_escalate_blockages() {
        return Vec::new();
    }
    projector.read(|m| {
        m.blocked()
            .filter_map(|(_, id)| m.rollout(id))
            .filter(|r| group.category.is_none() || r.block.category == group.category)
            .filter(|r| group.vendor.is_none() || r.block.vendor == group.vendor)
            .map(|r| (r.service_key.clone(), r.ars.clone()))
            .collect()
    })
}
