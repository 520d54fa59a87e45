//! The catalogue as events: one stream per authority (`authority-<ARS>`) and per service
//! (`service-<key>`), and the plan that brings them in line with the data files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use workflow::events::{from_tagged_payload, untagged_payload};

use crate::model::{Authority, DefinitionLevel, DefinitionRef, Service};
use crate::parse::Dataset;
use crate::reuse::{Answer, Exception, Offer, Support, Target, Usage};

/// Each variant's serde name is its stored type name, an explicit string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum CatalogEvent {
    #[serde(rename = "AuthorityRegistered")]
    AuthorityRegistered(Authority),
    /// The full new record and the names of the fields that changed.
    #[serde(rename = "AuthorityChanged")]
    AuthorityChanged { authority: Authority, changed: Vec<String> },
    /// A territorial change dissolved the authority; its tasks went to `successors`.
    #[serde(rename = "AuthorityDissolved")]
    AuthorityDissolved { successors: Vec<String>, note: String },
    #[serde(rename = "ServiceRegistered")]
    ServiceRegistered(Service),
    #[serde(rename = "ServiceChanged")]
    ServiceChanged { service: Service, changed: Vec<String> },
    /// A project manager gave the service another definition for new rollouts of `level`.
    #[serde(rename = "ServiceDefinitionSet")]
    ServiceDefinitionSet { level: DefinitionLevel, definition: DefinitionRef, reason: String },
    /// The administration's staff recorded the back-office system (Fachverfahren) it uses in a
    /// subject area (a service's `themenfeld`); `system: None` removes it.
    #[serde(rename = "BackOfficeSystemSet")]
    BackOfficeSystemSet { area: String, system: Option<BackOfficeSystem> },
    /// Who is responsible for the service changed for one administration (stream
    /// `service-<key>`): an exception to the level rule, or none (the level rule again).
    #[serde(rename = "ResponsibilityChanged")]
    ResponsibilityChanged { ars: String, exception: Option<Exception>, reason: String },
    /// A project manager offered the service (stream `service-<key>`).
    #[serde(rename = "ServiceOffered")]
    ServiceOffered(Offer),
    /// The administration answered the offer of a service (stream `authority-<ARS>`).
    #[serde(rename = "OfferAnswered")]
    OfferAnswered(Answer),
    /// A target for a service or a programme (stream `targets`).
    #[serde(rename = "TargetSet")]
    TargetSet(Target),
    /// Applications received online in a month (stream `authority-<ARS>`).
    #[serde(rename = "UsageRecorded")]
    UsageRecorded(Usage),
    /// Whether the administration's applications of a service reach its back-office system
    /// digitally, end to end (stream `authority-<ARS>`).
    #[serde(rename = "EndToEndSet")]
    EndToEndSet { service: String, digital: bool, reason: String },
    /// Advice or support given to the administration (stream `authority-<ARS>`).
    #[serde(rename = "SupportRecorded")]
    SupportRecorded(Support),
}

/// A back-office system (Fachverfahren): product, vendor, version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackOfficeSystem {
    pub product: String,
    pub vendor: String,
    #[serde(default)]
    pub version: Option<String>,
}

impl CatalogEvent {
    /// Every stored type name and its schema version (a test holds them to
    /// `schema/event-types.txt`).
    pub const STORED_TYPES: &'static [(&'static str, u32)] = &[
        ("AuthorityRegistered", 1),
        ("AuthorityChanged", 1),
        ("AuthorityDissolved", 1),
        ("ServiceRegistered", 1),
        ("ServiceChanged", 1),
        ("ServiceDefinitionSet", 1),
        (vocab::names::BACK_OFFICE_SYSTEM_SET, 1),
        ("ResponsibilityChanged", 1),
        ("ServiceOffered", 1),
        ("OfferAnswered", 1),
        ("TargetSet", 1),
        ("UsageRecorded", 1),
        ("EndToEndSet", 1),
        ("SupportRecorded", 1),
    ];

    /// The stored type name and schema version.
    pub fn stored_type(&self) -> (&'static str, u32) {
        let i = match self {
            CatalogEvent::AuthorityRegistered(_) => 0,
            CatalogEvent::AuthorityChanged { .. } => 1,
            CatalogEvent::AuthorityDissolved { .. } => 2,
            CatalogEvent::ServiceRegistered(_) => 3,
            CatalogEvent::ServiceChanged { .. } => 4,
            CatalogEvent::ServiceDefinitionSet { .. } => 5,
            CatalogEvent::BackOfficeSystemSet { .. } => 6,
            CatalogEvent::ResponsibilityChanged { .. } => 7,
            CatalogEvent::ServiceOffered(_) => 8,
            CatalogEvent::OfferAnswered(_) => 9,
            CatalogEvent::TargetSet(_) => 10,
            CatalogEvent::UsageRecorded(_) => 11,
            CatalogEvent::EndToEndSet { .. } => 12,
            CatalogEvent::SupportRecorded(_) => 13,
        };
        Self::STORED_TYPES[i]
    }

    pub fn to_payload(&self) -> serde_json::Value {
        untagged_payload(self)
    }

    /// `None` when the type is not a catalogue event.
    pub fn from_stored(
        event_type: &str,
        schema_version: u32,
        payload: &str,
    ) -> Option<Result<CatalogEvent, String>> {
        Self::STORED_TYPES.iter().find(|(name, _)| *name == event_type)?;
        Some(from_tagged_payload(event_type, event_type, schema_version, payload))
    }
}

/// The prefixes of the catalogue's streams: `authority-<ARS>` and `service-<key>`.
pub use vocab::names::AUTHORITY_STREAM_PREFIX;
pub use vocab::names::SERVICE_STREAM_PREFIX;

pub fn authority_stream(ars: &str) -> String {
    format!("{AUTHORITY_STREAM_PREFIX}{ars}")
}

pub fn service_stream(key: &str) -> String {
    format!("{SERVICE_STREAM_PREFIX}{key}")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthorityEntry {
    pub authority: Authority,
    pub version: u64,
    /// Successors and note, once dissolved.
    pub dissolved: Option<(Vec<String>, String)>,
    /// The back-office systems it uses, by subject area.
    #[serde(default)]
    pub back_office: BTreeMap<String, BackOfficeSystem>,
    /// Its latest answer to the offer of each service, by service key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, Answer>,
    /// Applications received online, by service key and month (`YYYY-MM`): count and source.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub usage: BTreeMap<String, BTreeMap<String, (u64, String)>>,
    /// Whether applications reach the back-office system digitally, by service key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub end_to_end: BTreeMap<String, bool>,
    /// Advice and support given to it, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub support: Vec<Support>,
}

impl AuthorityEntry {
    /// Applications received online for `service`, every month recorded.
    pub fn applications(&self, service: &str) -> u64 {
        self.usage.get(service).map_or(0, |months| months.values().map(|(n, _)| n).sum())
    }

    fn new(authority: Authority) -> AuthorityEntry {
        AuthorityEntry {
            authority,
            version: 1,
            dissolved: None,
            back_office: BTreeMap::new(),
            answers: BTreeMap::new(),
            usage: BTreeMap::new(),
            end_to_end: BTreeMap::new(),
            support: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub version: u64,
    /// Exceptions to the level rule, by ARS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exceptions: BTreeMap<String, Exception>,
    /// Its offers, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<Offer>,
}

/// The catalogue folded from its events. Small (hundreds of entries per state): it is held in
/// memory whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub authorities: BTreeMap<String, AuthorityEntry>,
    pub services: BTreeMap<String, ServiceEntry>,
    /// The targets by scope (`service:<key>`, `programme:<name>`, `gesamt`), and the version of
    /// their stream.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, Target>,
    #[serde(default)]
    pub targets_version: u64,
}

impl Catalog {
    /// The programme of a service (EfA for one the catalogue does not know).
    pub fn program_of(&self, service_key: &str) -> crate::Program {
        self.services.get(service_key).map(|s| s.service.program).unwrap_or_default()
    }

    /// The ARS of the Land itself: the administration of kind `land` (its key `XX0000000000`
    /// sorts first among the Land's, so the search ends at once).
    pub fn land_ars(&self) -> Option<String> {
        self.authorities
            .values()
            .find(|e| e.authority.kind == crate::AuthorityKind::Land)
            .map(|e| e.authority.ars.clone())
    }

    /// The key of the association that owns the form server's model rollouts: the
    /// administration of kind `zweckverband` (its key `XX9990000000` sorts last).
    pub fn association_ars(&self) -> Option<String> {
        self.authorities
            .values()
            .rev()
            .find(|e| e.authority.kind == crate::AuthorityKind::Zweckverband)
            .map(|e| e.authority.ars.clone())
    }

    /// Who owns the central rollout of a programme's services (the one the others wait on):
    /// the Land for EfA, the association for the form server; empty when the catalogue has
    /// no such administration.
    pub fn central_ars(&self, program: crate::Program) -> String {
        match program {
            crate::Program::Efa => self.land_ars(),
            crate::Program::Formularserver => self.association_ars(),
        }
        .unwrap_or_default()
    }

    /// Who owns the central rollout of `service_key`.
    pub fn central_of(&self, service_key: &str) -> String {
        self.central_ars(self.program_of(service_key))
    }

    /// Applies the event at `version` of `stream_id` when it is the stream's next one: not when
    /// the catalogue has it already (a process that follows the log meets its own appends
    /// again), nor ahead of one it lacks (those come in order, from following the log or from
    /// reading the stream).
    pub fn apply_at(&mut self, stream_id: &str, version: u64, event: &CatalogEvent) {
        if self.stream_version(stream_id).is_some_and(|known| known + 1 == version) {
            self.apply(stream_id, event);
        }
    }

    /// How many events of a catalogue stream the catalogue holds (0: none yet); `None` for a
    /// stream that is not the catalogue's.
    pub fn stream_version(&self, stream_id: &str) -> Option<u64> {
        if let Some(ars) = stream_id.strip_prefix(AUTHORITY_STREAM_PREFIX) {
            Some(self.authorities.get(ars).map_or(0, |e| e.version))
        } else if let Some(key) = stream_id.strip_prefix(SERVICE_STREAM_PREFIX) {
            Some(self.services.get(key).map_or(0, |e| e.version))
        } else if stream_id == vocab::names::TARGETS_STREAM {
            Some(self.targets_version)
        } else {
            None
        }
    }

    // Long: one arm per kind of catalogue event.
    /// Applies one event of `stream_id`.
    pub fn apply(&mut self, stream_id: &str, event: &CatalogEvent) {
        match event {
            CatalogEvent::AuthorityRegistered(a) => {
                self.authorities.insert(a.ars.clone(), AuthorityEntry::new(a.clone()));
            }
            CatalogEvent::AuthorityChanged { authority, .. } => {
                if let Some(e) = self.authorities.get_mut(&authority.ars) {
                    e.authority = authority.clone();
                    e.version += 1;
                }
            }
            CatalogEvent::AuthorityDissolved { successors, note } => {
                let ars = stream_id.strip_prefix(AUTHORITY_STREAM_PREFIX).unwrap_or(stream_id);
                if let Some(e) = self.authorities.get_mut(ars) {
                    e.dissolved = Some((successors.clone(), note.clone()));
                    e.version += 1;
                }
            }
            CatalogEvent::BackOfficeSystemSet { area, system } => {
                let ars = stream_id.strip_prefix(AUTHORITY_STREAM_PREFIX).unwrap_or(stream_id);
                if let Some(e) = self.authorities.get_mut(ars) {
                    match system {
                        Some(s) => e.back_office.insert(area.clone(), s.clone()),
                        None => e.back_office.remove(area),
                    };
                    e.version += 1;
                }
            }
            CatalogEvent::ServiceRegistered(s) => {
                self.services.insert(
                    s.key.clone(),
                    ServiceEntry {
                        service: s.clone(),
                        version: 1,
                        exceptions: BTreeMap::new(),
                        offers: Vec::new(),
                    },
                );
            }
            CatalogEvent::ServiceChanged { service, .. } => {
                if let Some(e) = self.services.get_mut(&service.key) {
                    e.service = service.clone();
                    e.version += 1;
                }
            }
            CatalogEvent::ServiceDefinitionSet { level, definition, .. } => {
                let key = stream_id.strip_prefix(SERVICE_STREAM_PREFIX).unwrap_or(stream_id);
                if let Some(e) = self.services.get_mut(key) {
                    match level {
                        DefinitionLevel::Authority => e.service.definition = definition.clone(),
                        DefinitionLevel::Land => e.service.land_definition = definition.clone(),
                    }
                    e.version += 1;
                }
            }
            CatalogEvent::ResponsibilityChanged { ars, exception, .. } => {
                if let Some(e) = self.service_entry(stream_id) {
                    match exception {
                        Some(x) => e.exceptions.insert(ars.clone(), x.clone()),
                        None => e.exceptions.remove(ars),
                    };
                    e.version += 1;
                }
            }
            CatalogEvent::ServiceOffered(offer) => {
                if let Some(e) = self.service_entry(stream_id) {
                    e.offers.push(offer.clone());
                    e.version += 1;
                }
            }
            CatalogEvent::TargetSet(target) => {
                self.targets.insert(target.scope.clone(), target.clone());
                self.targets_version += 1;
            }
            CatalogEvent::OfferAnswered(_)
            | CatalogEvent::UsageRecorded(_)
            | CatalogEvent::EndToEndSet { .. }
            | CatalogEvent::SupportRecorded(_) => self.apply_to_authority(stream_id, event),
        }
    }

    fn service_entry(&mut self, stream_id: &str) -> Option<&mut ServiceEntry> {
        self.services.get_mut(stream_id.strip_prefix(SERVICE_STREAM_PREFIX).unwrap_or(stream_id))
    }

    /// The events of an administration's use of services.
    fn apply_to_authority(&mut self, stream_id: &str, event: &CatalogEvent) {
        let ars = stream_id.strip_prefix(AUTHORITY_STREAM_PREFIX).unwrap_or(stream_id);
        let Some(e) = self.authorities.get_mut(ars) else { return };
        match event {
            CatalogEvent::OfferAnswered(a) => {
                e.answers.insert(a.service.clone(), a.clone());
            }
            CatalogEvent::UsageRecorded(u) => {
                e.usage
                    .entry(u.service.clone())
                    .or_default()
                    .insert(u.month.clone(), (u.count, u.source.clone()));
            }
            CatalogEvent::EndToEndSet { service, digital, .. } => {
                e.end_to_end.insert(service.clone(), *digital);
            }
            CatalogEvent::SupportRecorded(s) => e.support.push(s.clone()),
            _ => return,
        }
        e.version += 1;
    }

    /// Authorities that are not dissolved.
    pub fn active_authorities(&self) -> impl Iterator<Item = &Authority> {
        self.authorities.values().filter(|e| e.dissolved.is_none()).map(|e| &e.authority)
    }
}

/// Events for one stream, to append at `expected_version`.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub stream_id: String,
    pub expected_version: u64,
    pub events: Vec<CatalogEvent>,
}

fn changed_fields<T: Serialize>(old: &T, new: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return vec!["*".into()];
    };
    b.iter().filter(|(k, v)| a.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect()
}

/// What to append so that the catalogue says what the files say: new entries are registered,
/// changed ones get one change event each, dissolutions are recorded once. Importing the same
/// files again plans nothing.
pub fn plan_import(catalog: &Catalog, data: &Dataset) -> Vec<Planned> {
    let mut out = Vec::new();
    for a in &data.authorities {
        match catalog.authorities.get(&a.ars) {
            None => out.push(Planned {
                stream_id: authority_stream(&a.ars),
                expected_version: 0,
                events: vec![CatalogEvent::AuthorityRegistered(a.clone())],
            }),
            Some(e) if e.authority != *a => out.push(Planned {
                stream_id: authority_stream(&a.ars),
                expected_version: e.version,
                events: vec![CatalogEvent::AuthorityChanged {
                    authority: a.clone(),
                    changed: changed_fields(&e.authority, a),
                }],
            }),
            Some(_) => {}
        }
    }
    for s in &data.services {
        match catalog.services.get(&s.key) {
            None => out.push(Planned {
                stream_id: service_stream(&s.key),
                expected_version: 0,
                events: vec![CatalogEvent::ServiceRegistered(s.clone())],
            }),
            Some(e) => {
                // The files give a new service its definitions; after that they are the
                // project managers' (`ServiceDefinitionSet`), and an import keeps them.
                let s = Service {
                    definition: e.service.definition.clone(),
                    land_definition: e.service.land_definition.clone(),
                    ..s.clone()
                };
                if e.service != s {
                    out.push(Planned {
                        stream_id: service_stream(&s.key),
                        expected_version: e.version,
                        events: vec![CatalogEvent::ServiceChanged {
                            changed: changed_fields(&e.service, &s),
                            service: s,
                        }],
                    })
                }
            }
        }
    }
    plan_responsibilities(catalog, data, &mut out);
    for d in &data.dissolutions {
        let dissolve =
            CatalogEvent::AuthorityDissolved { successors: d.successors.clone(), note: d.note.clone() };
        match catalog.authorities.get(&d.authority.ars) {
            None => out.push(Planned {
                stream_id: authority_stream(&d.authority.ars),
                expected_version: 0,
                events: vec![CatalogEvent::AuthorityRegistered(d.authority.clone()), dissolve],
            }),
            Some(e) if e.dissolved.is_none() => out.push(Planned {
                stream_id: authority_stream(&d.authority.ars),
                expected_version: e.version,
                events: vec![dissolve],
            }),
            Some(_) => {}
        }
    }
    out
}

/// The responsibility file's rows that differ from the catalogue, planned onto their services'
/// streams (after a registration or change planned there already). The file's rows are brought
/// in; exceptions decided as events and not in the file stay.
fn plan_responsibilities(catalog: &Catalog, data: &Dataset, out: &mut Vec<Planned>) {
    for r in &data.responsibilities {
        let current = catalog.services.get(&r.service);
        if current.is_some_and(|e| e.exceptions.get(&r.ars) == Some(&r.exception)) {
            continue;
        }
        let event = CatalogEvent::ResponsibilityChanged {
            ars: r.ars.clone(),
            exception: Some(r.exception.clone()),
            reason: "Zuständigkeitsdatei des Katalogs".into(),
        };
        let stream_id = service_stream(&r.service);
        match (out.iter_mut().find(|p| p.stream_id == stream_id), current) {
            (Some(p), _) => p.events.push(event),
            (None, Some(e)) => {
                out.push(Planned { stream_id, expected_version: e.version, events: vec![event] })
            }
            (None, None) => {}
        }
    }
}
